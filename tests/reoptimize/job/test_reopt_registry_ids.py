"""A job labels its staged candidate with the id the registry assigned, wherever that id appears.

The registry here is the in-memory fake, which hands out ids as MLflow does: from its own counter,
never reusing a number, so the next id is not the champion's plus one. The candidate's verdict,
the manifest's gate record and the model card must all name the id the registry gave it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from reoptimize.job.runner import JobData, JobSpec, run_job
from reoptimize.registry.registry import Addendum, Registry
from reoptimize.train.reference_frames import read_parquet_bytes
from tests.support.fake_registry import MemoryRegistry

FEATURES = tuple(f"px{i}" for i in range(64))


def _copy_champion(source: Registry, model: str) -> MemoryRegistry:
    registry = MemoryRegistry(first_id=41)
    manifest = source.verify(model, "1")
    files = {name: source.read_bytes(model, "1", name) for name in manifest.files}
    copied = registry.add_version(
        model, files, task=manifest.task, features=manifest.features, label=manifest.label,
        classes=manifest.classes, metrics=manifest.metrics, lineage=manifest.lineage, extra=manifest.extra,
    )  # fmt: skip
    registry.set_production(model, copied.version)

    def broken(version: str) -> Addendum:
        raise ValueError("a write that failed after its id was taken")

    with pytest.raises(ValueError):
        registry.add_version(model, {"model.onnx": b"x"}, finish=broken)  # id 42 is gone for good
    return registry


def test_the_staged_candidate_is_named_by_the_id_the_registry_assigned(
    champion_registry: Registry,
    digits: pd.DataFrame,
    recipe: dict[str, Any],
    shift_images: Callable[[pd.DataFrame, int], pd.DataFrame],
) -> None:
    registry = _copy_champion(champion_registry, "digits")
    assert registry.production("digits") == "41"
    recent = shift_images(digits.iloc[1000:], 2).reset_index(drop=True)
    recent["request_id"] = [f"s-{i}" for i in range(len(recent))]
    recent["ts"] = pd.date_range("2026-01-01", periods=len(recent), freq="s", tz="UTC")
    reference = read_parquet_bytes(registry.read_bytes("digits", "41", "reference.parquet"))
    spec = JobSpec(
        job_id="job-ids", model="digits", pipeline="retrain", recipe=recipe, policy={},
        params={"augment": [{"kind": "shift", "strength": 0.2, "fraction": 0.5}]},
        trigger={"rule": "feature-drift", "measurements": {"drift_share": 0.7}},
    )  # fmt: skip
    result = run_job(spec, JobData(reference, recent, FEATURES, "label"), registry)

    assert result.verdict.passed, result.verdict.text()
    assert result.staged_version == "43" and registry.versions("digits") == ["41", "43"]
    assert result.verdict.candidate_label == "v43"
    assert result.verdict.text().startswith("promote v43 over v41: recent_accuracy")
    kept = [c for c in result.candidates if c["status"] == "kept"]
    assert [c["verdict"]["candidate"] for c in kept] == ["v43"]
    manifest = registry.verify("digits", "43")
    assert manifest.parent == "41"
    assert manifest.lineage["gate"]["candidate"] == "v43"
    assert manifest.lineage["gate"]["text"].startswith("promote v43 over v41")
    card = registry.read_bytes("digits", "43", "model_card.md").decode()
    assert card.startswith("# digits v43") and "promote v43 over v41" in card
    assert json.loads(registry.read_bytes("digits", "43", "model_card.json"))["version"] == "43"
    assert registry.production("digits") == "41", "a job stages; only the daemon promotes"
