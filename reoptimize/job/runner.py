"""The job entry point a worker calls: build candidates, measure them against the champion, gate, stage.

An explicit pipeline (``retrain``, ``retrain+prune+quantize``) builds one candidate; ``auto``
builds several chosen from the trigger (see :mod:`reoptimize.job.plans`). All candidates are then
measured with the champion in one run, on the same rows and CPU, and gated by the job's
policy (see :mod:`reoptimize.job.goals`). Of those that pass, the best on the Pareto front is
staged as a new registry version, with its model card. ``run_job`` never touches the
production pointer: promoting is the daemon's decision. The :class:`JobResult` carries every
candidate's metrics and why it was kept or dropped.

Example::

    result = run_job(spec, data, open_registry("/var/lib/modelhealthd/registry"))
    print(result.verdict.text())
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from reoptimize.families.family import family_of
from reoptimize.gate.decision import Policy, decide
from reoptimize.gate.selection import choose
from reoptimize.gate.verdict import GateVerdict
from reoptimize.job.goals import goal_of, job_policy
from reoptimize.job.job_inputs import input_hashes, load_inputs, training_for, windows
from reoptimize.job.job_report import MeasureRuns, label_for, measure, reports, vetoed
from reoptimize.job.job_spec import JobData, JobError, JobResult, JobSpec
from reoptimize.job.plans import Plan, auto_plans, explicit_plan
from reoptimize.job.search import search
from reoptimize.job.staging import new_reference, stage_version
from reoptimize.registry.registry import Registry
from reoptimize.steps.catalog import is_auto, load_step
from reoptimize.steps.step import TRAFFIC, Candidate, StepInput, require_family
from reoptimize.train.recipe import RecipeSpec
from reoptimize.train.trainer import TrainingCancelled as JobCancelled

__all__ = ["JobCancelled", "JobData", "JobError", "JobResult", "JobSpec", "run_job"]

DEFAULT_TIME_BUDGET = 600.0
PROBE_RUNS: MeasureRuns = {"latency_runs": 300, "batch_runs": 15}
INPUT_KINDS = ("vector",)  # what a job can feed a model: rows of float features


def run_job(
    spec: JobSpec,
    data: JobData,
    registry: Registry,
    *,
    progress: Callable[[dict[str, Any]], None] = lambda event: None,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> JobResult:
    """Run ``spec.pipeline`` for ``spec.model`` and stage the best passing candidate.

    Raises :class:`JobCancelled` when ``should_stop()`` turns true, :class:`JobError` or
    a ``ValueError`` subclass naming the problem for bad specs or data.
    """
    timings: dict[str, float] = {}
    started = mark = clock()

    def lap(name: str) -> None:
        nonlocal mark
        now = clock()
        timings[name] = timings.get(name, 0.0) + now - mark
        mark = now
        if should_stop():
            raise JobCancelled(f"job {spec.job_id} stopped on request after {name}")

    auto = is_auto(spec.pipeline)
    explicit = None if auto else explicit_plan(spec.pipeline)
    recipe = RecipeSpec.from_dict(spec.recipe)
    family = family_of(recipe)
    if family.input_kind not in INPUT_KINDS:
        raise JobError(
            f"job {spec.job_id}: the {family.name} family takes {family.input_kind} inputs; "
            f"jobs read {', '.join(INPUT_KINDS)} rows only"
        )
    base_policy = Policy.from_dict(spec.policy)
    progress({"stage": "load", "job_id": spec.job_id})
    inputs = load_inputs(spec, data, registry, recipe)
    task, features, label = inputs.manifest.task, tuple(data.features), data.label
    goal = goal_of(spec.trigger, explicit.steps if explicit else (), spec.params)
    policy = job_policy(base_policy, goal, spec.params, task)
    if explicit is not None:
        plans = [explicit]
    else:
        has_unlabelled = bool((inputs.traffic["_source"] == "unlabelled").any())
        plans = auto_plans(
            goal,
            has_weights=inputs.champion.weights is not None,
            has_unlabelled=has_unlabelled,
            torch=family.torch_weights,
        )
    lap("load")

    def build(plan: Plan, remaining: float) -> tuple[Candidate, tuple[dict[str, Any], ...], str | None]:
        params = plan.job_params(spec.params)
        steps = [load_step(name) for name in plan.steps]
        for step in steps:
            require_family(step, family)
            if step.budget_share is not None:
                # A step with a share of its own may use that share of what is left, and no more
                # than it was given: later steps and the measurement need the rest.
                own = dict(params.get(step.name) or {})
                own["time_budget"] = min(
                    float(own.get("time_budget", remaining)), max(1.0, step.budget_share * remaining)
                )
                params[step.name] = own
        training = training_for(recipe, params, spec.trigger, features, family)
        current, infos, veto = inputs.champion, [], None
        for index, step in enumerate(steps):
            name = step.name
            progress({"stage": "step", "step": name, "plan": plan.name})
            traffic = inputs.traffic if TRAFFIC in step.needs else None
            out = step.run(
                StepInput(
                    current, inputs.train, features, label, recipe, training, params, progress, should_stop,
                    traffic, clock,
                )
            )  # fmt: skip
            current = out.candidate
            infos.append(dict(out.info))
            # Only the last step's veto counts: a later step changes the graph, and the final
            # graph is what the gate measures against the champion.
            veto = out.veto if index == len(plan.steps) - 1 else None
            lap(f"step:{name}" if explicit else f"{plan.name}:{name}")
        return current, tuple(infos), veto

    def probe(candidate: Candidate) -> GateVerdict:
        measured = measure(inputs, data, {"probe": candidate}, features, label, spec.cost, **PROBE_RUNS)
        return decide(measured["probe"], measured["champion"], policy, spec.trigger)

    budget = _budget(spec)
    built = search(
        plans,
        build,
        probe if auto else None,
        min_gain=float(spec.params.get("min_gain", policy.min_improvement)),
        budget_seconds=budget,
        clock=clock,
        progress=progress,
        tolerate_errors=auto,
    )
    candidates = {b.name: b for b in built if b.candidate is not None}
    made = {b.name: b.candidate for b in built if b.candidate is not None}  # the same plans' candidates
    if not candidates:
        failures = "; ".join(f"{b.name} ({b.plan.name}): {b.note}" for b in built)
        raise JobError(f"job {spec.job_id}: no candidate could be built: {failures}")

    progress({"stage": "evaluate", "candidates": len(candidates)})
    measured = measure(inputs, data, made, features, label, spec.cost)
    lap("evaluate")
    verdicts = {
        name: vetoed(
            decide(
                measured[name],
                measured["champion"],
                policy,
                spec.trigger,
                champion_label=f"v{inputs.champion_version}",
            ),
            b.veto,
        )
        for name, b in candidates.items()
    }
    selection = choose({n: (measured[n], v) for n, v in verdicts.items() if v.passed}, task)
    primary = selection.chosen or max(verdicts, key=lambda n: verdicts[n].objective_gain or float("-inf"))
    labels = {
        n: label_for(n, candidates[n].plan, spec.job_id, single=explicit is not None) for n in candidates
    }
    # The chosen candidate is labelled by the version the registry gives it once it is staged.
    verdicts = {n: replace(v, candidate_label=labels[n]) for n, v in verdicts.items()}
    progress({"stage": "gate", "passed": selection.chosen is not None, "chosen": selection.chosen})
    records = reports(built, measured, verdicts, selection)
    win = windows(inputs, data)
    staged = None
    if selection.chosen:
        chosen = candidates[selection.chosen]
        reference = new_reference(
            made[selection.chosen],
            inputs.recent,
            data.unlabelled,
            data.reference,
            features,
            label,
            since=data.reference_since,
        )
        win["new_reference"] = {"rows": int(len(reference))}
        lineage = {
            "parent": inputs.champion_version,
            "job_id": spec.job_id,
            "pipeline": spec.pipeline,
            "plan": chosen.plan.to_json(),
            "params": dict(spec.params),
            "trigger": dict(spec.trigger),
            "goal": goal.to_json(),
            "policy": policy.to_json(),
            "data_windows": win,
            "inputs": input_hashes(inputs),
            "steps": list(chosen.step_infos),
            "champion_metrics": measured["champion"].to_json(),
            "candidates": [
                {k: r[k] for k in ("name", "plan", "status", "reason", "summary")} for r in records
            ],
        }
        chosen_verdict = verdicts[selection.chosen]
        staged = stage_version(
            registry,
            spec.model,
            made[selection.chosen],
            parent=inputs.champion_version,
            reference=reference,
            holdout_bytes=inputs.holdout_bytes,
            features=features,
            label=label,
            metrics=measured[selection.chosen].to_json(),
            lineage=lineage,
            version_lineage=lambda version: {
                "gate": replace(chosen_verdict, candidate_label=f"v{version}").to_json()
            },
        ).version
        labels[selection.chosen] = f"v{staged}"
        verdicts = {n: replace(v, candidate_label=labels[n]) for n, v in verdicts.items()}
        records = reports(built, measured, verdicts, selection)
    lap("gate")
    timings["total"] = clock() - started
    return JobResult(
        job_id=spec.job_id,
        model=spec.model,
        pipeline=spec.pipeline,
        champion_version=inputs.champion_version,
        champion=measured["champion"],
        candidate=measured[primary],
        verdict=verdicts[primary],
        staged_version=staged,
        timings=timings,
        steps=candidates[primary].step_infos,
        data_windows=win,
        candidates=tuple(records),
        goal=goal.to_json(),
        policy=policy.to_json(),
        chosen=selection.chosen,
    )


def _budget(spec: JobSpec) -> float:
    value = spec.params.get("time_budget", spec.time_budget)
    if spec.time_budget is not None and value is not None:
        value = min(float(value), float(spec.time_budget))
    if value is None:
        return DEFAULT_TIME_BUDGET
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise JobError(f"with.time_budget: got {value!r}; expected a number of seconds > 0")
    return float(value)
