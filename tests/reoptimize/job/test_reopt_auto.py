"""``run_job`` with several candidates: ``auto`` per trigger, ladders, budgets, vetoes and the record."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reoptimize.job.runner import JobData, JobError, JobSpec, run_job
from tests.support.reopt_steps import reference_rows

DIGITS = tuple(f"px{i}" for i in range(64))
SLOW = {"rule": "slow-predictions", "inputs": {"latency_p95_seconds": 0.08, "request_rate": 3.0}}


def window(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    out = frame.reset_index(drop=True)
    out["request_id"] = [f"{prefix}-{i}" for i in range(len(out))]
    out["ts"] = pd.date_range("2026-01-01", periods=len(out), freq="s", tz="UTC")
    return out


def job(recipe, pipeline="auto", trigger=SLOW, model="wide", **changes) -> JobSpec:
    base = dict(job_id=f"job-{pipeline}", model=model, pipeline=pipeline, recipe=recipe, trigger=trigger)
    return JobSpec(**{**base, **changes})


def data_for(registry, digits, model="wide", unlabelled=None) -> JobData:
    recent = window(digits.iloc[1200:1500], "r")
    return JobData(reference_rows(registry, model), recent, DIGITS, "label", unlabelled=unlabelled)


def test_auto_for_a_latency_rule_builds_candidates_and_keeps_the_best_that_passes(
    wide_registry, wide_recipe, digits
):
    events = []
    result = run_job(job(wide_recipe), data_for(wide_registry, digits), wide_registry, progress=events.append)
    assert result.goal["kind"] == "latency"
    assert result.policy["objective"] == "-batch_latency_seconds" and result.policy["relative"] is True
    names = [c["plan"] for c in result.candidates]
    assert names[:2] == ["quantize-dynamic", "quantize-static"] and names[2].startswith("prune-0.5")
    statuses = {c["status"] for c in result.candidates}
    assert statuses <= {"kept", "dropped", "rejected", "skipped", "failed"}
    kept = [c for c in result.candidates if c["status"] == "kept"]
    assert len(kept) == 1 and kept[0]["name"] == result.chosen and result.staged_version == "2"
    for record in result.candidates:
        assert record["reason"], record
        if record["metrics"] is not None:
            assert record["metrics"]["batch_throughput_rows_per_second"] > 0
            assert record["verdict"]["champion"] == "v1"
    chosen = kept[0]
    assert result.verdict.passed and result.verdict.candidate_label == "v2"
    assert result.candidate.batch_latency_seconds < result.champion.batch_latency_seconds * 0.95
    assert result.candidate.holdout_accuracy >= result.champion.holdout_accuracy - 0.005
    assert {e["plan"] for e in events if e.get("stage") == "candidate"} >= {
        "quantize-dynamic",
        "quantize-static",
    }
    manifest = wide_registry.verify("wide", "2")
    lineage = manifest.lineage
    assert lineage["plan"]["name"] == chosen["plan"] and lineage["goal"]["kind"] == "latency"
    assert lineage["inputs"]["parent_model_sha256"] == wide_registry.manifest("wide", "1").files["model.onnx"]
    assert len(lineage["inputs"]["train_rows_sha256"]) == 64
    assert [c["name"] for c in lineage["candidates"]] == [c["name"] for c in result.candidates]
    card = wide_registry.read_bytes("wide", "2", "model_card.md").decode()
    assert "## Candidates considered" in card and chosen["plan"] in card and "Goal | latency" in card
    json.dumps(result.to_json())


def test_auto_for_a_cost_rule_distills_and_for_a_size_rule_quantizes_first(
    wide_registry, wide_recipe, digits
):
    cost = run_job(
        job(wide_recipe, trigger={"rule": "costly", "inputs": {"cost_per_1k_predictions": 0.3}}),
        data_for(wide_registry, digits),
        wide_registry,
    )
    assert cost.goal["kind"] == "cost"
    assert cost.candidates[0]["plan"] == "distill-0.5+quantize-static"
    assert any(c["status"] == "kept" for c in cost.candidates), [c["reason"] for c in cost.candidates]
    size = run_job(
        job(wide_recipe, job_id="job-size", trigger={"rule": "big", "inputs": {"model_size_bytes": 9e5}}),
        data_for(wide_registry, digits),
        wide_registry,
    )
    assert size.goal["kind"] == "size" and size.policy["objective"] == "-model_size_bytes"
    assert size.candidates[0]["plan"] == "quantize-static"
    assert size.candidate.model_size_bytes < size.champion.model_size_bytes / 3


def _drift_job(registry, recipe, digits, shift_images, min_gain: float):
    """``auto`` for a drift rule on digits shifted by two pixels; ``min_gain`` is what a rung
    must gain over the best rung before it for the accuracy ladder to climb on."""
    recent = window(shift_images(digits.iloc[1000:1300], 2), "shift")
    unlabelled = shift_images(digits.iloc[1300:1500], 2).drop(columns="label")
    return run_job(
        JobSpec(
            job_id="job-drift", model="digits", pipeline="auto", recipe=recipe,
            params={"max_epochs": 15, "tune": {"trials": 3}, "min_gain": min_gain},
            trigger={"rule": "feature-drift", "inputs": {"drift_share": 0.6, "rows": 300}},
        ),
        JobData(reference_rows(registry, "digits"), recent, DIGITS, "label", unlabelled=unlabelled),
        registry,
    )  # fmt: skip


def test_auto_for_drift_retrains_and_stops_when_gains_diminish(
    champion_registry, recipe, digits, shift_images
):
    # No rung after the first can gain a whole 100 points of accuracy over it: the second rung
    # is built and measured, and the ladder stops there, so tune is never built.
    result = _drift_job(champion_registry, recipe, digits, shift_images, min_gain=1.0)
    assert result.goal["kind"] == "drift" and result.policy["objective"] == "recent_accuracy"
    plans = [c["plan"] for c in result.candidates]
    assert plans == ["retrain", "retrain+teacher-labels", "tune"]
    assert result.verdict.passed and result.candidate.recent_accuracy > result.champion.recent_accuracy + 0.2
    second, third = result.candidates[1:]
    assert second["metrics"] is not None
    assert third["status"] == "skipped" and third["metrics"] is None
    assert "diminishing returns" in third["reason"] and "retrain+teacher-labels gained" in third["reason"]


def test_auto_for_drift_climbs_every_rung_while_each_pays(champion_registry, recipe, digits, shift_images):
    # A rung that gains anything above -100 points counts as paying off: every rung is built.
    result = _drift_job(champion_registry, recipe, digits, shift_images, min_gain=-1.0)
    assert [c["plan"] for c in result.candidates] == ["retrain", "retrain+teacher-labels", "tune"]
    assert all(c["metrics"] is not None for c in result.candidates), [c["reason"] for c in result.candidates]
    assert not any("diminishing returns" in c["reason"] for c in result.candidates)
    assert result.verdict.passed and result.candidate.recent_accuracy > result.champion.recent_accuracy + 0.2


def test_the_time_budget_bounds_the_search(wide_registry, wide_recipe, digits):
    result = run_job(
        job(wide_recipe, params={"time_budget": 0.001}), data_for(wide_registry, digits), wide_registry
    )
    built = [c for c in result.candidates if c["metrics"] is not None]
    skipped = [c for c in result.candidates if c["status"] == "skipped"]
    assert len(built) == 1 and len(skipped) == len(result.candidates) - 1
    assert all("time budget of 0.001s used" in c["reason"] for c in skipped)


def test_a_plan_that_fails_is_recorded_and_the_search_goes_on(wide_registry, wide_recipe, digits):
    result = run_job(
        job(
            wide_recipe,
            trigger={"rule": "costly", "inputs": {"cost_per_1k_predictions": 1}},
            params={"distill": {"alpha": 5}},
        ),
        data_for(wide_registry, digits),
        wide_registry,
    )
    failed = [c for c in result.candidates if c["status"] == "failed"]
    assert failed and "with.distill.alpha: got 5" in failed[0]["reason"]
    assert result.candidates[-1]["plan"] == "quantize-static" and result.candidates[-1]["metrics"] is not None


def test_nothing_built_is_an_error_naming_each_plan(wide_registry, wide_recipe, digits):
    costly = {"rule": "costly", "inputs": {"cost_per_1k_predictions": 1}}
    with pytest.raises(
        JobError,
        match=r"no candidate could be built: c1 \(distill-0.5\+quantize-static\): .*c4 \(quantize-static\)",
    ):
        run_job(
            job(
                wide_recipe,
                trigger=costly,
                params={"distill": {"alpha": 5}, "quantize": {"accuracy_budget": -1}},
            ),
            data_for(wide_registry, digits),
            wide_registry,
        )
    with pytest.raises(ValueError, match="with.prune.amount: got 2"):
        run_job(
            job(wide_recipe, pipeline="prune", params={"prune": {"amount": 2}}),
            data_for(wide_registry, digits),
            wide_registry,
        )
    assert wide_registry.versions("wide") == ["1"]


def test_a_sparse_but_not_faster_candidate_is_reported_and_never_staged(wide_registry, wide_recipe, digits):
    result = run_job(
        job(
            wide_recipe, pipeline="prune",
            params={"prune": {"method": "unstructured", "amount": 0.6, "fine_tune_epochs": 2}},
            policy={"constraints": [], "objective": "holdout_accuracy", "min_improvement": -1.0},
        ),
        data_for(wide_registry, digits),
        wide_registry,
    )  # fmt: skip
    assert not result.verdict.passed and result.staged_version is None
    assert any("sparse but not faster" in r for r in result.verdict.reasons)
    assert "sparse but not faster" in result.verdict.text()
    assert wide_registry.versions("wide") == ["1"]


def test_an_explicit_chain_runs_every_step_in_order(wide_registry, wide_recipe, digits):
    result = run_job(
        job(wide_recipe, pipeline="prune+quantize", params={"prune": {"amount": 0.5}}),
        data_for(wide_registry, digits),
        wide_registry,
    )
    assert [s["step"] for s in result.steps] == ["prune", "quantize"]
    assert len(result.candidates) == 1 and result.goal["kind"] == "latency"
    assert {"step:prune", "step:quantize", "evaluate", "gate", "total"} <= set(result.timings)
