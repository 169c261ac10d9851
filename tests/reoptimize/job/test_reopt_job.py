from __future__ import annotations

import json

import pandas as pd
import pytest

from reoptimize.job.runner import JobCancelled, JobData, JobSpec, run_job
from reoptimize.steps.catalog import PipelineError
from reoptimize.train.reference_frames import read_parquet_bytes

FEATURES = tuple(f"px{i}" for i in range(64))


def spec(job_id: str, recipe: dict, **changes) -> JobSpec:
    base = dict(
        job_id=job_id,
        model="digits",
        pipeline="retrain",
        params={"augment": [{"kind": "shift", "strength": 0.2, "fraction": 0.5}]},
        recipe=recipe,
        policy={},
        cost={"cpu_price_per_hour": 0.05},
        champion_version=None,
        trigger={"rule": "feature-drift", "measurements": {"drift_share": 0.7}},
    )
    return JobSpec(**{**base, **changes})


def reference_of(registry) -> pd.DataFrame:
    return read_parquet_bytes(registry.read_bytes("digits", "1", "reference.parquet"))


def window(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    out = frame.reset_index(drop=True)
    out["request_id"] = [f"{prefix}-{i}" for i in range(len(out))]
    out["ts"] = pd.date_range("2026-01-01", periods=len(out), freq="s", tz="UTC")
    return out


def test_a_retrain_on_shifted_images_beats_the_champion_and_is_staged(
    champion_registry, digits, recipe, shift_images
):
    registry = champion_registry
    recent = window(shift_images(digits.iloc[1000:], 2), "shifted")
    events = []
    result = run_job(
        spec("job-shift", recipe),
        JobData(reference=reference_of(registry), recent=recent, features=FEATURES, label="label"),
        registry,
        progress=events.append,
    )
    assert result.verdict.passed, result.verdict.text()
    assert result.candidate.recent_accuracy > result.champion.recent_accuracy + 0.3
    assert result.champion.recent_accuracy < 0.6
    assert result.staged_version == "2"
    assert registry.production("digits") == "1", "a job stages; only the daemon promotes"
    assert result.verdict.text().startswith("promote v2 over v1: recent_accuracy")
    assert {"load", "step:retrain", "evaluate", "gate", "total"} <= set(result.timings)
    assert any(e.get("stage") == "train" and e.get("epoch") == 1 for e in events)

    manifest = registry.verify("digits", "2")
    assert manifest.parent == "1" and manifest.lineage["job_id"] == "job-shift"
    assert manifest.lineage["trigger"]["rule"] == "feature-drift"
    windows = manifest.lineage["data_windows"]
    assert windows["recent"]["rows"] == len(recent)
    assert windows["recent_train"]["rows"] + windows["recent_eval"]["rows"] == len(recent)
    assert windows["recent"]["start"].startswith("2026-01-01T00:00:00")
    assert (
        manifest.lineage["gate"]["passed"]
        and manifest.metrics["recent_accuracy"] == result.candidate.recent_accuracy
    )
    assert set(manifest.files) == {
        "model.onnx",
        "reference.parquet",
        "holdout.parquet",
        "weights.safetensors",
        "model_card.md",
        "model_card.json",
    }
    assert manifest.extra["export"]["max_abs_diff"] <= manifest.extra["export"]["tolerance"]
    assert registry.read_bytes("digits", "2", "holdout.parquet") == registry.read_bytes(
        "digits", "1", "holdout.parquet"
    )
    new_reference = read_parquet_bytes(registry.read_bytes("digits", "2", "reference.parquet"))
    assert len(new_reference) == len(recent)
    assert {"_prediction", "_confidence", "label", *FEATURES} <= set(new_reference.columns)
    assert (new_reference["_prediction"] == new_reference["label"]).mean() > 0.9
    json.dumps(result.to_json())


def test_flipped_labels_are_refused_before_anything_trains(champion_registry, recipe):
    from reoptimize.train.tables import DataError

    registry = champion_registry
    reference = reference_of(registry)
    garbage = pd.concat([reference[[*FEATURES, "label"]]] * 2, ignore_index=True)
    garbage["label"] = (garbage["label"] + 1) % 10
    with pytest.raises(DataError, match=r"below chance .* 0->1, 1->2.* shifted or flipped"):
        run_job(
            spec("job-garbage", recipe, params={}),
            JobData(reference=reference, recent=window(garbage, "flip"), features=FEATURES, label="label"),
            registry,
        )
    assert registry.versions("digits") == ["1"]


def test_cancelling_a_job_writes_nothing(champion_registry, digits, recipe, shift_images):
    registry = champion_registry
    recent = window(shift_images(digits.iloc[1000:1200], 1), "c")
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(JobCancelled):
        run_job(
            spec("job-cancel", recipe),
            JobData(reference=reference_of(registry), recent=recent, features=FEATURES, label="label"),
            registry,
            should_stop=stop,
        )
    assert registry.versions("digits") == ["1"]


def test_unknown_pipeline_and_mismatched_features_are_named(champion_registry, digits, recipe):
    data = JobData(
        reference=reference_of(champion_registry),
        recent=window(digits.iloc[:10], "x"),
        features=FEATURES,
        label="label",
    )
    with pytest.raises(PipelineError, match="unknown step 'distil' \\(known steps: .*retrain"):
        run_job(spec("j", recipe, pipeline="retrain+distil"), data, champion_registry)
    from reoptimize.job.runner import JobError

    wrong = JobData(reference=data.reference, recent=data.recent, features=FEATURES[::-1], label="label")
    with pytest.raises(JobError, match="expects features"):
        run_job(spec("j", recipe), wrong, champion_registry)
    with pytest.raises(JobError, match="no production version"):
        run_job(spec("j", recipe, model="other"), data, champion_registry)


def test_job_spec_round_trips_through_json(recipe):
    original = spec("job-json", recipe)
    again = JobSpec.from_json(json.loads(json.dumps(original.to_json())))
    assert again.to_json() == original.to_json()
    from reoptimize.job.runner import JobError

    with pytest.raises(JobError, match="missing field"):
        JobSpec.from_json({"job_id": "x"})


def test_a_small_window_is_topped_up_and_auto_augmentation_follows_the_drift(
    champion_registry, digits, recipe, shift_images
):
    registry = champion_registry
    recent = window(shift_images(digits.iloc[1000:1040], 1), "small")
    unlabelled = shift_images(digits.iloc[1200:1250], 1).drop(columns="label")
    job = spec(
        "job-small",
        recipe,
        params={"augment": "auto", "max_epochs": 5},
        policy={"constraints": [], "min_improvement": -1.0},
        trigger={"rule": "drift", "measurements": {"drifted_features": 30}},
    )
    data = JobData(
        reference=reference_of(registry),
        recent=recent,
        features=FEATURES,
        label="label",
        unlabelled=unlabelled,
    )
    result = run_job(job, data, registry)
    (step,) = result.steps
    assert [a["kind"] for a in step["training"]["augment"]] == ["shift", "rotate", "noise"]
    assert step["epochs"] <= 5
    assert result.staged_version == "2"
    reference = read_parquet_bytes(registry.read_bytes("digits", "2", "reference.parquet"))
    counts = reference["_source"].value_counts().to_dict()
    assert counts == {"recent": 40, "recent_unlabelled": 50, "previous_reference": 10}
    assert reference.loc[reference["_source"] == "recent_unlabelled", "label"].isna().all()
    assert reference["_prediction"].notna().all()


def test_bad_window_columns_are_named(champion_registry, digits, recipe):
    from reoptimize.train.tables import DataError

    recent = window(digits.iloc[1000:1100], "bad").drop(columns="px5")
    data = JobData(reference=reference_of(champion_registry), recent=recent, features=FEATURES, label="label")
    with pytest.raises(DataError, match="recent window: feature column\\(s\\) missing: px5"):
        run_job(spec("job-bad", recipe), data, champion_registry)


def test_the_new_reference_is_the_traffic_since_reference_since(
    champion_registry, digits, recipe, shift_images
):
    recent = window(shift_images(digits.iloc[1000:1300], 1), "since")
    since = recent["ts"].iloc[100].timestamp()
    data = JobData(
        reference=reference_of(champion_registry),
        recent=recent,
        features=FEATURES,
        label="label",
        reference_since=since,
    )
    job = spec(
        "job-since", recipe, params={"max_epochs": 3}, policy={"constraints": [], "min_improvement": -1.0}
    )
    result = run_job(job, data, champion_registry)
    reference = read_parquet_bytes(
        champion_registry.read_bytes("digits", result.staged_version, "reference.parquet")
    )
    assert reference["_source"].value_counts().to_dict() == {"recent": 200}
