"""The step catalog: one list of steps, their declarations, and the one pipeline grammar."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import reoptimize.steps
from reoptimize.steps.catalog import BUILD_SHARE_OF_TIMEOUT, CATALOG, STEPS, PipelineError
from reoptimize.steps.step import NEEDS, RECIPE, TORCH, TRAFFIC, WEIGHTS

SAME = "retrain+quantize"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("retrain, quantize", SAME),
        ("retrain,quantize", SAME),
        ("retrain+quantize", SAME),
        ("retrain + quantize", SAME),
        ("retrain -> quantize", SAME),
        ("retrain->quantize", SAME),
        ("retrain → quantize", SAME),
        (["retrain", "quantize"], SAME),
        (("retrain", " quantize "), SAME),
        ("retrain -> prune, quantize", "retrain+prune+quantize"),
        ("  tune  ", "tune"),
        (["export"], "export"),
        ("auto", "auto"),
        (["auto"], "auto"),
        ("retrain+retrain", "retrain+retrain"),
    ],
)
def test_every_form_normalizes_to_the_stored_name(value, stored):
    assert CATALOG.normalize(value) == stored
    assert CATALOG.starts_job(stored)
    if stored != "auto":
        assert CATALOG.step_names(value) == tuple(stored.split("+"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "retrian",
            "expected one of retrain, prune, quantize, distill, tune, export, auto, or steps joined with",
        ),
        ("retrian", r"\(did you mean retrain\?\)$"),
        (
            "retrain+distil",
            r"^unknown step 'distil' \(known steps: retrain, prune, quantize, distill, tune, export\); did you mean distill\?$",
        ),
        ("retrain -> distil", r"^unknown step 'distil' \(known steps:"),
        (["retrain", "distil"], r"^unknown step 'distil' \(known steps:"),
        ("retrain+", r"^unknown step '' \(known steps:"),
        ("retrain quantize", "^expected one of retrain"),
        ("auto+retrain", "^'auto' is a pipeline of its own and cannot be chained with steps$"),
        ("", "^expected a step such as retrain, steps joined with"),
        ([], "^expected a step such as retrain"),
        (["retrain", 3], "^expected a step such as retrain"),
        (3, "^expected a step such as retrain"),
        ("../registry", "^expected one of retrain"),
        ("notify", "^expected one of retrain"),
    ],
)
def test_an_unknown_step_is_refused_with_a_message_naming_it(value, message):
    with pytest.raises(PipelineError, match=message):
        CATALOG.normalize(value)
    assert not isinstance(value, str) or not CATALOG.starts_job(value)


def test_a_callers_own_pipelines_are_accepted_alone_and_listed():
    assert CATALOG.normalize("notify", extra=("notify",)) == "notify"
    with pytest.raises(PipelineError, match=r"auto, notify, or steps .*\(did you mean notify\?\)"):
        CATALOG.normalize("notfy", extra=("notify",))
    with pytest.raises(PipelineError, match="'notify' is a pipeline of its own"):
        CATALOG.normalize("notify+retrain", extra=("notify",))


def test_auto_names_no_steps_of_its_own():
    with pytest.raises(PipelineError, match="chooses its steps from the trigger"):
        CATALOG.step_names("auto")


def test_the_list_holds_every_step_file_and_each_declares_itself():
    folder = Path(reoptimize.steps.__file__).parent
    assert sorted(STEPS) == sorted(p.stem.removesuffix("_step") for p in folder.glob("*_step.py"))
    assert CATALOG.job_kinds() == (*STEPS, "auto")
    for name in STEPS:
        step = CATALOG.step(name)
        assert step.name == name and step.needs <= NEEDS
        assert step.budget_share is None or 0 < step.budget_share <= 1


@pytest.mark.parametrize(
    ("pipeline", "needs"),
    [
        ("retrain", {RECIPE, TORCH, TRAFFIC}),
        ("tune", {RECIPE, TORCH}),
        ("prune", {RECIPE, TORCH, WEIGHTS}),
        ("export", {RECIPE, TORCH, WEIGHTS}),
        ("distill", {TORCH, TRAFFIC}),
        ("quantize", {TRAFFIC}),
        ("distill+quantize", {TORCH, TRAFFIC}),
        ("prune+quantize", {RECIPE, TORCH, WEIGHTS, TRAFFIC}),
        ("auto", {RECIPE, TORCH, WEIGHTS, TRAFFIC}),
    ],
)
def test_a_pipeline_needs_what_its_steps_need(pipeline, needs):
    assert CATALOG.needs(pipeline) == needs


def test_what_the_steps_declare_drives_recipe_free_steps_and_the_time_budget():
    assert {n for n in STEPS if RECIPE not in CATALOG.step(n).needs} == {"quantize", "distill"}
    assert CATALOG.steps_needing(WEIGHTS) == {"prune", "export"}
    assert {n: CATALOG.step(n).budget_share for n in STEPS if CATALOG.step(n).budget_share} == {"tune": 0.8}
    assert 0 < BUILD_SHARE_OF_TIMEOUT < 1


def test_reading_the_catalog_loads_no_heavy_library():
    code = (
        "import sys\n"
        "from reoptimize.steps.catalog import CATALOG\n"
        "CATALOG.normalize('retrain, quantize'); CATALOG.needs('auto')\n"
        "print(','.join(m for m in ('torch', 'pandas', 'onnxruntime', 'sklearn', 'optuna') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
