"""What a job is for (goal from the trigger), its policy, the plans auto builds, and pipeline names."""

from __future__ import annotations

import pytest

from reoptimize.gate.policy import Policy, PolicyError
from reoptimize.job.goals import goal_of, job_policy
from reoptimize.job.plans import auto_plans, explicit_plan
from reoptimize.steps.catalog import CATALOG, PipelineError, is_auto, step_names, steps_for
from rules.pipelines import normalize_pipeline as _normalize


def normalize_pipeline(value):
    return _normalize(value, CATALOG)


@pytest.mark.parametrize(
    ("trigger", "steps", "kind"),
    [
        ({"rule": "feature-drift", "inputs": {"drift_share": 0.6, "rows": 900}}, (), "drift"),
        ({"rule": "x", "measurements": {"drifted_features": 12}}, (), "drift"),
        ({"rule": "accuracy-drop", "inputs": {"accuracy": 0.7, "labelled_rows": 300}}, (), "accuracy"),
        ({"rule": "slow", "inputs": {"latency_p95_seconds": 0.08, "request_rate": 4}}, (), "latency"),
        ({"rule": "costly", "inputs": {"cost_per_1k_predictions": 0.4}}, (), "cost"),
        ({"rule": "big", "inputs": {"model_size_bytes": 9e6}}, (), "size"),
        ({"rule": "r", "inputs": {"latency_p95_seconds": 0.1, "drift_share": 0.5}}, (), "drift"),
        ({"rule": "too-slow-alert", "source": "alert", "inputs": {}}, (), "latency"),
        ({"rule": "manual"}, ("prune", "quantize"), "latency"),
        ({"rule": "manual"}, ("distill", "quantize"), "cost"),
        ({"rule": "manual"}, ("retrain", "quantize"), "general"),
        ({}, (), "general"),
    ],
)
def test_goal_follows_the_trigger(trigger, steps, kind):
    goal = goal_of(trigger, steps)
    assert goal.kind == kind, goal.reason
    assert goal.reason


def test_goal_can_be_forced_and_is_checked():
    assert goal_of({"inputs": {"drift_share": 1}}, (), {"goal": "size"}).kind == "size"
    with pytest.raises(PolicyError, match="with.goal: got 'speed'"):
        goal_of({}, (), {"goal": "speed"})


def test_compression_goals_minimize_a_resource_relatively_within_an_accuracy_budget():
    base = Policy.from_dict({})
    policy = job_policy(base, goal_of({"inputs": {"latency_p95_seconds": 1}}), {}, "classification")
    assert policy.objective == "-batch_latency_seconds" and policy.relative and policy.min_improvement == 0.05
    assert "holdout_accuracy >= champion.holdout_accuracy - 0.005" in policy.constraints
    assert "latency_p95_seconds <= 1.1 * champion.latency_p95_seconds" in policy.constraints
    assert set(base.constraints) <= set(policy.constraints)
    size = job_policy(
        base, goal_of({"inputs": {"model_size_bytes": 1}}), {"accuracy_budget": 0.01}, "regression"
    )
    assert size.objective == "-model_size_bytes" and "rmse <= champion.rmse * (1 + 0.01)" in size.constraints
    drift = job_policy(base, goal_of({"inputs": {"drift_share": 1}}), {}, "classification")
    assert drift == base
    custom = job_policy(
        base, goal_of({"inputs": {"drift_share": 1}}), {"objective": "-model_size_bytes"}, "classification"
    )
    assert custom.objective == "-model_size_bytes"
    with pytest.raises(PolicyError, match="with.objective: unknown metric"):
        job_policy(base, goal_of({}), {"objective": "speed"}, "classification")


def test_auto_plans_per_goal():
    latency = [
        p.name
        for p in auto_plans(
            goal_of({"inputs": {"latency_p95_seconds": 1}}), has_weights=True, has_unlabelled=False
        )
    ]
    assert latency[:2] == ["quantize-dynamic", "quantize-static"]
    assert latency[2:] == [
        "prune-0.5",
        "prune-0.75",
        "prune-0.875",
        "prune-0.5+quantize-static",
        "prune-0.75+quantize-static",
        "prune-0.875+quantize-static",
    ]
    cost = auto_plans(
        goal_of({"inputs": {"cost_per_1k_predictions": 1}}), has_weights=True, has_unlabelled=False
    )
    assert [p.steps for p in cost[:3]] == [("distill", "quantize")] * 3 and cost[0].ladder == "distill"
    size = [
        p.name
        for p in auto_plans(
            goal_of({"inputs": {"model_size_bytes": 1}}), has_weights=True, has_unlabelled=False
        )
    ]
    assert size[0] == "quantize-static" and "quantize-dynamic" not in size and "prune-0.5" not in size
    drift = auto_plans(goal_of({"inputs": {"drift_share": 1}}), has_weights=True, has_unlabelled=True)
    assert [p.name for p in drift] == ["retrain", "retrain+teacher-labels", "tune"]
    onnx_only = auto_plans(
        goal_of({"inputs": {"latency_p95_seconds": 1}}), has_weights=False, has_unlabelled=False
    )
    assert all("prune" not in p.steps for p in onnx_only), "pruning needs torch weights"


def test_plan_params_merge_over_the_action_with():
    plan = auto_plans(
        goal_of({"inputs": {"latency_p95_seconds": 1}}), has_weights=True, has_unlabelled=False
    )[6]
    params = plan.job_params({"quantize": {"accuracy_budget": 0.01}, "max_epochs": 5})
    assert params["quantize"] == {"accuracy_budget": 0.01, "mode": "static"}
    assert params["prune"] == {"amount": 0.75} and params["max_epochs"] == 5


@pytest.mark.parametrize(
    ("pipeline", "steps"),
    [
        ("retrain", ("retrain",)),
        ("retrain+prune+quantize", ("retrain", "prune", "quantize")),
        ("retrain -> prune -> quantize", ("retrain", "prune", "quantize")),
        (["distill", "quantize"], ("distill", "quantize")),
    ],
)
def test_pipelines_name_steps(pipeline, steps):
    assert step_names(pipeline) == steps
    assert [s.name for s in steps_for(pipeline)] == list(steps)
    assert explicit_plan(pipeline).steps == steps
    assert normalize_pipeline(pipeline) == "+".join(steps), "rules and reoptimize agree on the name"


def test_unknown_steps_and_auto():
    with pytest.raises(PipelineError, match="unknown step 'distil'"):
        step_names("retrain+distil")
    with pytest.raises(ValueError, match="did you mean distill"):
        normalize_pipeline("retrain+distil")
    assert is_auto("auto") and normalize_pipeline("auto") == "auto"
    with pytest.raises(PipelineError, match="chooses its steps"):
        steps_for("auto")


def test_rules_know_every_step_reoptimize_has():
    from pathlib import Path

    import reoptimize.steps
    from reoptimize.steps.catalog import available_steps

    # Every step module in the folder is listed in the catalog, and the job kinds are those steps and auto.
    STEPS = [p.stem.removesuffix("_step") for p in Path(reoptimize.steps.__file__).parent.glob("*_step.py")]
    JOB_PIPELINES = CATALOG.job_kinds()

    assert set(STEPS) == set(available_steps())
    assert set(STEPS) | {"auto"} == set(JOB_PIPELINES)
