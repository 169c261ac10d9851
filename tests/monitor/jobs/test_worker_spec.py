"""How the worker turns a job record and the model's config into a job spec."""

from __future__ import annotations

import re

import pytest

from monitor.config import ModelConfig
from monitor.jobs.worker import BUILD_SHARE_OF_TIMEOUT, build_spec
from monitor.state.records import JobRecord


def _job(pipeline: str) -> JobRecord:
    return JobRecord(
        id="j1", model="m", pipeline=pipeline, params={"max_epochs": 3}, trigger={"rule": "r"}, rule="r",
        state="running", created_at=0.0, started_at=0.0, finished_at=None, heartbeat_at=None, progress=None,
        result=None, error=None, champion_version="1", candidate_version=None,
    )  # fmt: skip


def _model(recipe: dict | None) -> ModelConfig:
    data = {"name": "m", "server": {"url": "http://127.0.0.1:9"}, "data": {"predictions": "/tmp/none"}}
    return ModelConfig.model_validate({**data, "recipe": recipe} if recipe else data)


def test_the_spec_carries_a_build_budget_from_the_job_timeout():
    spec = build_spec(_job("auto"), _model({"factory": "reoptimize.recipes.mlp:mlp"}), timeout=1000.0)
    assert spec.time_budget == pytest.approx(1000.0 * BUILD_SHARE_OF_TIMEOUT)
    assert spec.params == {"max_epochs": 3} and spec.trigger == {"rule": "r"}
    assert build_spec(_job("auto"), _model({"factory": "reoptimize.recipes.mlp:mlp"})).time_budget is None


def test_a_model_without_a_recipe_can_still_be_quantized_or_distilled():
    spec = build_spec(_job("distill+quantize"), _model(None), timeout=60.0, task="regression")
    assert spec.recipe == {"factory": "reoptimize.recipes.mlp:mlp", "task": "regression"}
    for pipeline in ("retrain", "auto", "prune+quantize"):
        with pytest.raises(
            ValueError, match=re.escape(f"has no recipe in the config; a {pipeline} job needs one")
        ):
            build_spec(_job(pipeline), _model(None), timeout=60.0, task="classification")
