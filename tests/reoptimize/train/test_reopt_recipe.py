from __future__ import annotations

import subprocess
import sys

import pytest

from reoptimize.steps.catalog import PipelineError, available_steps, steps_for
from reoptimize.train.recipe import RecipeError, RecipeSpec, load_factory


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("reoptimize.recipes.mlp", "expected 'package.module:function'"),
        ("no_such_package.models:mlp", "module 'no_such_package' cannot be found"),
        ("reoptimize.recipes.mlp:missing", "has no attribute 'missing'"),
        ("reoptimize.recipes.mlp:__doc__", "is a str, not a callable"),
        (42, "expected a string"),
    ],
)
def test_load_factory_errors(reference, message):
    with pytest.raises(RecipeError, match=message):
        load_factory(reference)


def test_builtin_mlp_recipe():
    import torch

    module = load_factory("reoptimize.recipes.mlp:mlp")(64, 10, hidden=[32, 16], dropout=0.1)
    assert module(torch.zeros(5, 64)).shape == (5, 10)
    assert sum(isinstance(m, torch.nn.Dropout) for m in module) == 2
    with pytest.raises(ValueError, match="hidden"):
        load_factory("reoptimize.recipes.mlp:mlp")(4, 2, hidden=[0])


def test_recipe_spec_reads_a_config_mapping():
    spec = RecipeSpec.from_dict(
        {"factory": "reoptimize.recipes.mlp:mlp", "image_shape": [8, 8], "training": {"augment": ["shift"]}}
    )
    assert spec.image_shape == (8, 8) and spec.training.augment[0].kind == "shift"
    assert RecipeSpec.from_dict(spec.to_json()) == spec
    for bad, message in [
        ({}, "recipe.factory: required"),
        ({"factory": "a:b", "task": "ranking"}, "recipe.task: got 'ranking'"),
        ({"factory": "a:b", "image_shape": [8]}, "recipe.image_shape: got \\[8\\]"),
        ({"factory": "a:b", "training": {"max_epochs": -1}}, "recipe.training.max_epochs: got -1"),
    ]:
        with pytest.raises(ValueError, match=message):
            RecipeSpec.from_dict(bad)


def test_pipelines_resolve_steps_by_file_name():
    assert "retrain" in available_steps()
    assert [s.name for s in steps_for("retrain")] == ["retrain"]
    for bad in ("quantise", "retrain+", "../registry", ""):
        with pytest.raises(PipelineError):
            steps_for(bad)


def test_importing_the_light_modules_loads_no_heavy_library():
    code = (
        "import sys\n"
        "import reoptimize.job.runner, reoptimize.gate.verdict, reoptimize.job.first_versions, reoptimize.registry.file_registry\n"
        "import reoptimize.executors.local_executor, reoptimize.steps.retrain_step\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'evidently', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
