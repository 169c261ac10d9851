"""Prune: remove hidden neurons (structured) or zero small weights (unstructured), then fine-tune.

``with: {prune: {method: structured, amount: 0.5, fine_tune_epochs: 15, min_speedup: 1.05}}``
(also ``min_width`` per layer and ``fine_tune_lr_scale``, the fine-tuning learning rate as a
fraction of the recipe's).

* ``structured`` (default) removes whole units the way the recipe's family does it (for an
  MLP, the least important ``amount`` of every hidden layer's neurons, rebuilt as smaller
  ``Linear`` layers; see :mod:`reoptimize.families.mlp_family`), so the ONNX graph is smaller
  and faster; a family without structured pruning is refused;
* ``unstructured`` zeroes the ``amount`` smallest weights (see :mod:`reoptimize.steps.prune_unstructured`).

Both fine-tune on the training rows afterwards. The step then times the pruned graph against
its input; when batch throughput did not improve by ``min_speedup`` it vetoes the candidate
("sparse but not faster"). When prune is the pipeline's last step the job reports the veto
and never promotes the candidate; when a later step (quantize) changes the graph, the gate
judges the final graph against the champion instead.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np

from reoptimize.families.family import family_of
from reoptimize.steps.step import RECIPE, TORCH, WEIGHTS, StepError, StepInput, StepOutput, step_params
from reoptimize.train.settings import check_number

DEFAULTS = {
    "method": "structured",
    "amount": 0.5,
    "fine_tune_epochs": 15,
    "min_speedup": 1.05,
    "min_width": 4,
    "fine_tune_lr_scale": 0.5,
}
METHODS = ("structured", "unstructured")


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    p = step_params(params, "prune", DEFAULTS)
    if p["method"] not in METHODS:
        raise StepError(f"with.prune.method: got {p['method']!r}; expected one of {', '.join(METHODS)}")
    check_number("with.prune.amount", p["amount"], low=0, strict_low=True, high=1)
    check_number("with.prune.fine_tune_epochs", p["fine_tune_epochs"], integer=True, low=0)
    check_number("with.prune.min_speedup", p["min_speedup"], low=0)
    check_number("with.prune.min_width", p["min_width"], integer=True, low=1)
    check_number("with.prune.fine_tune_lr_scale", p["fine_tune_lr_scale"], low=0, strict_low=True)
    return p


class PruneStep:
    """Prune the current model and fine-tune it; veto it when it is not measurably faster."""

    name = "prune"
    needs: frozenset[str] = frozenset({RECIPE, TORCH, WEIGHTS})
    budget_share: float | None = None

    def run(self, step_input: StepInput) -> StepOutput:
        from reoptimize.gate.timing import onnx_speedup
        from reoptimize.steps.prune_unstructured import bake, mask_smallest, sparsity
        from reoptimize.steps.torch_candidate import export_candidate, trained_of, with_module
        from reoptimize.train.finetune import fine_tune
        from reoptimize.train.tables import validate_training_frame
        from reoptimize.train.trainer import standardized

        inp = step_input
        p = read_params(dict(inp.params))
        trained = trained_of(inp.current, self.name)
        validate_training_frame(
            inp.train, inp.features, inp.label, inp.current.task, where="prune training rows"
        )
        x = inp.train[list(inp.features)].to_numpy(dtype=np.float32)
        y = inp.train[inp.label].to_numpy()
        inp.progress({"stage": "prune", "step": self.name, "method": p["method"], "amount": p["amount"]})
        if p["method"] == "structured":
            family = family_of(inp.recipe)
            cut = family.prune_structured(
                trained.module,
                float(p["amount"]),
                min_width=int(p["min_width"]),
                sample=standardized(trained, x[:8]),
                where=self.name,
            )
            if cut is None:
                raise StepError(
                    f"prune: the {family.name} family has no structured pruning; use method: unstructured"
                )
            info = dict(cut.info)
            pruned = with_module(trained, cut.module, factory=cut.factory, params=dict(cut.params))
        else:
            module = copy.deepcopy(trained.module)
            mask_smallest(module, float(p["amount"]))
            pruned = with_module(trained, module, factory=trained.factory, params=dict(trained.params))
            info = {}

        def progress(event: dict[str, Any]) -> None:
            inp.progress({"stage": "fine_tune", "step": self.name, **event})

        epochs = int(p["fine_tune_epochs"])
        fit_info: dict[str, Any] = {"fine_tune_epochs": 0}
        if epochs > 0:
            pruned, fit = fine_tune(
                pruned,
                x,
                y,
                settings=inp.training,
                epochs=epochs,
                progress=progress,
                should_stop=inp.should_stop,
            )
            fit_info = {"fine_tune_epochs": len(fit.history), "best_val_loss": fit.best_val_loss}
        if p["method"] == "unstructured":
            bake(pruned.module)
            info["sparsity"] = sparsity(pruned.module)
        info = {"step": self.name, "method": p["method"], "amount": p["amount"], **info, **fit_info}
        candidate = export_candidate(pruned, f"{inp.current.name}+prune", x, info)
        gain = onnx_speedup(
            inp.current.onnx_bytes, candidate.onnx_bytes, x, task=candidate.task, classes=candidate.classes
        )
        info.update(
            speedup_batch=gain["batch"],
            speedup_single_p50=gain["single_p50"],
            size_ratio=len(candidate.onnx_bytes) / max(1, len(inp.current.onnx_bytes)),
        )
        veto = None
        if gain["batch"] < float(p["min_speedup"]):
            kind = "sparse" if p["method"] == "unstructured" else "pruned"
            veto = (
                f"{kind} but not faster: batch throughput x{gain['batch']:.2f} of the unpruned model "
                f"(needs x{float(p['min_speedup']):.2f})"
            )
            if p["method"] == "unstructured":
                veto += f"; {info['sparsity']:.0%} of the weights are zero, but dense kernels multiply them anyway"
            info["not_faster"] = True
        candidate = replace(candidate, info=info)
        return StepOutput(candidate=candidate, info=info, veto=veto)


def make_step() -> PruneStep:
    return PruneStep()
