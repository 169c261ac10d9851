"""Tune: hyperparameter search with Optuna, bounded by trials and time, pruning weak trials.

``with: {tune: {trials: 12, time_budget: 120, widths: [32, 64, 128, 256], depths: [1, 2]}}``

Each trial trains the recipe with sampled settings (learning rate, weight decay, batch size
and, for the built-in MLP, hidden widths, depth and dropout). Every epoch's validation loss
is reported to a ``MedianPruner``, which stops a trial that is worse than the median of
earlier trials at the same epoch. The search ends after ``trials`` trials or once
``time_budget`` seconds have passed, and the best trial's model is the candidate.
Validation rows come from the training rows only; the holdout never guides the search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reoptimize.families.family import family_of
from reoptimize.families.mlp_family import MLP_FACTORY
from reoptimize.steps.step import RECIPE, TORCH, StepError, StepInput, StepOutput, step_params
from reoptimize.tasks.task import task_named
from reoptimize.train.settings import check_number

DEFAULTS = {
    "trials": 12,
    "time_budget": 120.0,
    "widths": [32, 64, 128, 256],
    "depths": [1, 2],
    "startup_trials": 3,
    "warmup_epochs": 2,
}


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    p = step_params(params, "tune", DEFAULTS)
    check_number("with.tune.trials", p["trials"], integer=True, low=1)
    check_number("with.tune.time_budget", p["time_budget"], low=0, strict_low=True)
    check_number("with.tune.startup_trials", p["startup_trials"], integer=True, low=0)
    check_number("with.tune.warmup_epochs", p["warmup_epochs"], integer=True, low=0)
    for key in ("widths", "depths"):
        values = p[key]
        if (
            not isinstance(values, list)
            or not values
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values)
        ):
            raise StepError(f"with.tune.{key}: got {values!r}; expected a list of positive integers")
    return p


class TuneStep:
    """Search training settings (and MLP shape) with Optuna; keep the best trial's model."""

    name = "tune"
    needs: frozenset[str] = frozenset({RECIPE, TORCH})
    # Tune searches until its time is up: it leaves a fifth of the job's build time to later steps.
    budget_share: float | None = 0.8

    def run(self, step_input: StepInput) -> StepOutput:
        import optuna

        from reoptimize.steps.torch_candidate import export_candidate
        from reoptimize.train.tables import DataError, sorted_classes, validate_training_frame
        from reoptimize.train.trainer import train_model

        inp = step_input
        p = read_params(dict(inp.params))
        task = task_named(inp.recipe.task, "recipe.task")
        validate_training_frame(inp.train, inp.features, inp.label, task, where="tune training rows")
        x = inp.train[list(inp.features)].to_numpy(np.float32)
        y = inp.train[inp.label].to_numpy()
        classes = None
        if task.has_classes:
            try:
                classes = sorted_classes(list(inp.current.classes) + list(y))
            except DataError as exc:
                raise DataError(f"tune: labels do not match the current model's classes ({exc})") from None
        is_mlp = inp.recipe.factory == MLP_FACTORY
        family = family_of(inp.recipe)
        trials, budget = int(p["trials"]), float(p["time_budget"])
        best: dict[str, Any] = {}

        def objective(trial: optuna.Trial) -> float:
            settings = inp.training.with_overrides(
                {
                    "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
                    "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
                    "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
                },
                where="tune",
            )
            params = dict(inp.recipe.params)
            if is_mlp:
                depth = trial.suggest_categorical("depth", list(p["depths"]))
                params["hidden"] = [
                    trial.suggest_categorical(f"width_{i}", list(p["widths"])) for i in range(depth)
                ]
                params["dropout"] = trial.suggest_float("dropout", 0.0, 0.3)

            def report(event: dict[str, Any]) -> None:
                inp.progress(
                    {"stage": "tune", "step": self.name, "trial": trial.number + 1, "of": trials, **event}
                )
                trial.report(event["val_loss"], event["epoch"])
                if trial.should_prune():
                    raise optuna.TrialPruned(f"val_loss {event['val_loss']:.4g} at epoch {event['epoch']}")

            trained = train_model(
                inp.recipe.factory,
                params,
                x,
                y,
                task=task,
                training=settings,
                progress=report,
                should_stop=inp.should_stop,
                classes=classes,
                image_shape=inp.recipe.image_shape,
                augmentations=family.augmentations(settings.augment, inp.recipe.image_shape),
            )
            if not best or trained.best_val_loss < best["value"]:
                best.update(value=trained.best_val_loss, trained=trained, trial=trial.number, params=params)
            return trained.best_val_loss

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=inp.training.seed),
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=int(p["startup_trials"]), n_warmup_steps=int(p["warmup_epochs"])
            ),
        )
        started = inp.clock()
        study.optimize(objective, n_trials=trials, timeout=budget)
        if not best:
            raise StepError(f"tune: no trial finished within {budget:g}s and {trials} trials")
        states = [t.state.name.lower() for t in study.trials]
        info = {
            "step": self.name,
            "trials": len(study.trials),
            "completed": states.count("complete"),
            "pruned": states.count("pruned"),
            "seconds": inp.clock() - started,
            "best_trial": best["trial"],
            "best_val_loss": best["value"],
            "best_params": dict(study.trials[best["trial"]].params),
            "recipe_params": best["params"],
            "history": [
                {"trial": t.number, "state": t.state.name.lower(), "value": t.value, "params": dict(t.params)}
                for t in study.trials
            ],
        }
        candidate = export_candidate(best["trained"], f"{inp.current.name}+tune", x, info)
        return StepOutput(candidate=candidate, info=candidate.info)


def make_step() -> TuneStep:
    return TuneStep()
