"""Model families: the table, each ModelFamily method on the MLP family, and a module written here
(not built by a recipe of ours) going through retrain, prune and distill as its family allows."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from reoptimize.families.family import (
    FamilyError,
    ModelFamily,
    StepError,
    family_named,
    family_names,
    family_of,
)
from reoptimize.families.mlp_family import MLP_FACTORY
from reoptimize.train.augment import AugmentError
from reoptimize.train.recipe import RecipeError, RecipeSpec
from tests.support.reopt_steps import measure_on_holdout, step_input

DIGITS = tuple(f"px{i}" for i in range(64))
MLP = family_named("mlp")


def two_layer_net(n_features: int, n_outputs: int, width: int = 48):
    """A module written for this test: one hidden layer, nothing from reoptimize.recipes."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(n_features, width), torch.nn.ReLU(), torch.nn.Linear(width, n_outputs)
    )


OWN_RECIPE = {
    "factory": f"{__name__}:two_layer_net",
    "params": {"width": 48},
    "family": "mlp",
    "task": "classification",
    "image_shape": [8, 8],
    "training": {"max_epochs": 20, "patience": 4, "learning_rate": 0.003, "batch_size": 64},
}


def test_the_table_has_the_mlp_family_and_refuses_unknown_names():
    assert family_names() == ("mlp",)
    assert isinstance(MLP, ModelFamily) and MLP.name == "mlp"
    assert family_of(RecipeSpec.from_dict({"factory": MLP_FACTORY})) is MLP, "mlp is the default"
    for bad in ("cnn", "MLP", "../mlp", 7):
        with pytest.raises(FamilyError, match=r"recipe\.family: got .*; expected one of mlp"):
            family_named(bad, "recipe.family")


def test_a_recipe_declares_its_family():
    spec = RecipeSpec.from_dict(OWN_RECIPE)
    assert spec.family == "mlp" and RecipeSpec.from_dict(spec.to_json()) == spec
    with pytest.raises(RecipeError, match=r"recipe\.family: got 3; expected a model family name"):
        RecipeSpec.from_dict({**OWN_RECIPE, "family": 3})


def test_a_recipe_naming_an_unknown_family_is_refused_at_config_validation(tmp_path):
    from monitor.config import ConfigError, load_config

    path = tmp_path / "config.yaml"
    recipe = {"factory": MLP_FACTORY, "family": "cnn"}
    model = {"name": "m", "server": {"url": "http://127.0.0.1:1"}, "data": {"predictions": str(tmp_path)}}
    path.write_text(yaml.safe_dump({"models": [{**model, "recipe": recipe}]}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "models[0].recipe.family: got 'cnn'; expected one of mlp" in str(caught.value)
    path.write_text(yaml.safe_dump({"models": [{**model, "recipe": {**recipe, "family": "mlp"}}]}))
    assert load_config(path).models[0].recipe.family == "mlp"


def test_the_mlp_family_declares_its_inputs_and_weights():
    assert MLP.input_kind == "vector" and MLP.torch_weights is True


def test_the_mlp_family_prunes_hidden_neurons_into_a_rebuildable_mlp():
    import torch

    from reoptimize.recipes.mlp import mlp
    from reoptimize.train.recipe import build_module

    torch.manual_seed(0)
    module = mlp(6, 3, hidden=[16, 8], dropout=0.1)
    cut = MLP.prune_structured(module, 0.5, min_width=4, sample=torch.zeros(2, 6), where="prune")
    assert cut is not None and cut.factory == MLP_FACTORY
    assert cut.params == {"hidden": [8, 4], "dropout": 0.1}
    assert cut.info["hidden_before"] == [16, 8] and cut.info["hidden_after"] == [8, 4]
    assert cut.info["parameters_after"] < cut.info["parameters_before"]
    rebuilt = build_module(cut.factory, 6, 3, dict(cut.params))
    rebuilt.load_state_dict(cut.module.state_dict())  # same shapes: the manifest's params rebuild it
    odd = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with pytest.raises(StepError, match="prune: layer 1 is Tanh"):
        MLP.prune_structured(odd, 0.5, min_width=4, sample=torch.zeros(1, 4), where="prune")


def test_the_mlp_family_students_are_narrower_mlps():
    settings = {"hidden": None, "width": 0.5, "depth": None}
    student = MLP.student({"hidden": [256, 128]}, settings)
    assert student is not None and student.factory == MLP_FACTORY
    assert student.params == {"hidden": [128, 64]} and student.info == {"student_hidden": [128, 64]}
    assert MLP.student({}, {**settings, "depth": 2}).params == {"hidden": [32, 32]}
    assert MLP.student({"hidden": [256]}, {**settings, "hidden": [24]}).params == {"hidden": [24]}


def test_the_mlp_family_augments_tabular_rows_and_flattened_images():
    from reoptimize.train.augment_image import Shift
    from reoptimize.train.augment_tabular import Noise

    noise, shift = MLP.augmentations(["noise", {"kind": "shift"}], (8, 8))
    assert isinstance(noise, Noise) and isinstance(shift, Shift)
    with pytest.raises(AugmentError, match="set recipe.image_shape"):
        MLP.augmentations([{"kind": "shift"}], None)
    assert [s.kind for s in MLP.drift_augmentations(["px3"], (8, 8), 64)] == ["shift", "rotate", "noise"]
    assert [s.kind for s in MLP.drift_augmentations(["a", "b"], None, 3)] == ["noise", "mixup"]
    assert MLP.drift_augmentations([], None, 3) == ()


def test_a_module_written_here_goes_through_retrain_prune_and_distill(champion_registry):
    from reoptimize.steps.distill_step import DistillStep
    from reoptimize.steps.prune_step import PruneStep
    from reoptimize.steps.retrain_step import RetrainStep

    inp = step_input(champion_registry, "digits", OWN_RECIPE, DIGITS)
    retrained = RetrainStep().run(inp).candidate
    assert retrained.stats["factory"] == OWN_RECIPE["factory"] and retrained.stats["params"] == {"width": 48}
    measured = measure_on_holdout(
        champion_registry, "digits", {"own": retrained.onnx_bytes}, DIGITS, range(10), latency_runs=50
    )
    assert measured["own"].holdout_accuracy > 0.85

    after_retrain = replace(inp, current=retrained)
    pruned = PruneStep().run(replace(after_retrain, params={"prune": {"amount": 0.5, "min_speedup": 0}}))
    assert pruned.info["hidden_before"] == [48] and pruned.info["hidden_after"] == [24]
    assert pruned.candidate.stats["factory"] == MLP_FACTORY and pruned.veto is None

    distilled = DistillStep().run(replace(after_retrain, params={"distill": {"width": 0.5}}))
    # The teacher's params name no hidden widths, so the MLP family's default width is halved.
    assert distilled.info["family"] == "mlp" and distilled.info["student_hidden"] == [32]
    assert distilled.candidate.stats["factory"] == MLP_FACTORY


class _FlatFamily:
    """Stands in for a family that exists only in the next issue (no structured pruning, no
    students, no torch weights), so the steps' refusals can be checked now."""

    name = "flat"
    input_kind = "vector"
    torch_weights = False

    def prune_structured(self, module, amount, *, min_width, sample, where):  # noqa: ANN001, ANN201
        return None

    def student(self, teacher_params, settings):  # noqa: ANN001, ANN201
        return None

    def augmentations(self, items, image_shape):  # noqa: ANN001, ANN201
        return MLP.augmentations(items, image_shape)

    def drift_augmentations(self, drifted, image_shape, n_features):  # noqa: ANN001, ANN201
        return MLP.drift_augmentations(drifted, image_shape, n_features)


@pytest.fixture
def flat_family(monkeypatch):
    """The ``flat`` family in the family table, as if ``flat_family.py`` existed."""
    import reoptimize.families.family as table

    flat = _FlatFamily()
    names, load = table.family_names, table._load
    monkeypatch.setattr(table, "family_names", lambda: (*names(), "flat"))
    monkeypatch.setattr(table, "_load", lambda name: flat if name == "flat" else load(name))
    return flat


def test_steps_refuse_what_a_family_lacks_naming_the_family(wide_registry, wide_recipe, flat_family):
    from reoptimize.job.goals import goal_of
    from reoptimize.job.plans import auto_plans
    from reoptimize.steps.catalog import CATALOG
    from reoptimize.steps.distill_step import DistillStep
    from reoptimize.steps.prune_step import PruneStep
    from reoptimize.steps.step import require_family

    inp = step_input(wide_registry, "wide", {**wide_recipe, "family": "flat"}, DIGITS)
    with pytest.raises(
        StepError, match="prune: the flat family has no structured pruning; use method: unstructured"
    ):
        PruneStep().run(inp)
    with pytest.raises(StepError, match="distill: the flat family has no student to distill into"):
        DistillStep().run(inp)
    for name in ("retrain", "tune", "prune", "distill", "export"):
        with pytest.raises(StepError, match=f"{name}: the flat family has no torch weights"):
            require_family(CATALOG.step(name), flat_family)
    require_family(CATALOG.step("quantize"), flat_family)  # quantize works on the ONNX graph alone
    latency = goal_of({"inputs": {"latency_p95_seconds": 1}})
    plans = auto_plans(latency, has_weights=True, has_unlabelled=False, torch=False)
    assert plans and all(p.steps == ("quantize",) for p in plans)
