"""Choosing among candidates, and the promise behind it: a candidate worse on any constrained metric
is never promoted, whatever its objective gain and whatever the other candidates look like."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.decision import decide
from reoptimize.gate.policy import Policy
from reoptimize.gate.selection import choose, dominates, pareto_front

CHAMPION = CandidateMetrics(
    holdout_accuracy=0.95,
    latency_p95_seconds=1e-3,
    model_size_bytes=100_000,
    cpu_seconds_per_1k_predictions=1.0,
)


def m(acc, p95, size, cpu=1.0, batch=1e-3):
    return CandidateMetrics(
        holdout_accuracy=acc,
        latency_p95_seconds=p95,
        model_size_bytes=size,
        cpu_seconds_per_1k_predictions=cpu,
        batch_latency_seconds=batch,
    )


def test_dominance_and_the_front():
    a, b, c = m(0.95, 1e-3, 1000), m(0.94, 2e-3, 2000), m(0.97, 3e-3, 500)
    assert dominates(a, b, "classification") and not dominates(b, a, "classification")
    assert not dominates(a, c, "classification") and not dominates(c, a, "classification")
    assert pareto_front({"a": a, "b": b, "c": c}, "classification") == {"a": None, "b": "a", "c": None}
    assert not dominates(a, a, "classification"), "equal is not better"


def test_choose_keeps_the_best_objective_on_the_front_and_explains_the_rest():
    policy = Policy.from_dict(
        {"constraints": [], "objective": "-batch_latency_seconds", "relative": True, "min_improvement": 0.0}
    )
    champion = m(0.95, 1e-3, 1000, batch=1e-3)
    candidates = {
        "fast": m(0.95, 1e-3, 800, batch=0.4e-3),
        "faster-but-bigger": m(0.96, 1e-3, 900, batch=0.3e-3),
        "dominated": m(0.94, 2e-3, 2000, batch=0.9e-3),
    }
    passed = {n: (c, decide(c, champion, policy)) for n, c in candidates.items()}
    selection = choose(passed, "classification")
    assert selection.chosen == "faster-but-bigger"
    assert "dominated" not in selection.front
    assert selection.reasons["dominated"].startswith("passed, but")
    assert "gains more on the objective (+70.0% vs +60.0%)" in selection.reasons["fast"]
    assert choose({}, "classification").chosen is None


# -- the property --------------------------------------------------------------------------------

CONSTRAINTS = {
    "holdout_accuracy": (
        "holdout_accuracy >= champion.holdout_accuracy - {k}",
        st.sampled_from([0.0, 0.005, 0.02]),
    ),
    "latency_p95_seconds": (
        "latency_p95_seconds <= {k} * champion.latency_p95_seconds",
        st.sampled_from([0.8, 1.0, 1.1, 2.0]),
    ),
    "model_size_bytes": ("model_size_bytes <= {k} * champion.model_size_bytes", st.sampled_from([0.5, 1.0])),
    "cpu_seconds_per_1k_predictions": (
        "cpu_seconds_per_1k_predictions <= {k} * champion.cpu_seconds_per_1k_predictions",
        st.sampled_from([0.9, 1.0]),
    ),
}
OBJECTIVES = ["recent_accuracy", "-batch_latency_seconds", "-model_size_bytes", "holdout_accuracy"]


def _holds(metric: str, k: float, cand: CandidateMetrics, champ: CandidateMetrics) -> bool:
    """The constraint computed by hand, independently of the gate's expression evaluator."""
    c, h = cand.get(metric), champ.get(metric)
    return c >= h - k if metric == "holdout_accuracy" else c <= k * h


@st.composite
def scenario(draw):
    chosen = draw(st.lists(st.sampled_from(sorted(CONSTRAINTS)), min_size=1, max_size=4, unique=True))
    ks = {name: draw(CONSTRAINTS[name][1]) for name in chosen}
    policy = Policy.from_dict(
        {
            "constraints": [CONSTRAINTS[n][0].format(k=ks[n]) for n in chosen],
            "objective": draw(st.sampled_from(OBJECTIVES)),
            "min_improvement": draw(st.sampled_from([-1.0, 0.0, 0.01])),
            "relative": draw(st.booleans()),
        }
    )
    unit = st.floats(min_value=0.5, max_value=1.0, allow_nan=False)
    positive = st.floats(min_value=1e-5, max_value=1e-2, allow_nan=False)
    champion = CandidateMetrics(
        holdout_accuracy=draw(unit), recent_accuracy=draw(unit), latency_p95_seconds=draw(positive),
        batch_latency_seconds=draw(positive), model_size_bytes=draw(st.integers(1000, 10**7)),
        cpu_seconds_per_1k_predictions=draw(positive),
    )  # fmt: skip
    candidates = {}
    for i in range(draw(st.integers(1, 5))):
        candidates[f"c{i}"] = CandidateMetrics(
            holdout_accuracy=draw(unit), recent_accuracy=draw(unit), latency_p95_seconds=draw(positive),
            batch_latency_seconds=draw(positive), model_size_bytes=draw(st.integers(1000, 10**7)),
            cpu_seconds_per_1k_predictions=draw(positive),
        )  # fmt: skip
    # Make one candidate break one chosen constraint on purpose, however good it is otherwise.
    victim, metric = draw(st.sampled_from(sorted(candidates))), draw(st.sampled_from(chosen))
    k, base = ks[metric], champion.get(metric)
    worse = base - k - 0.01 if metric == "holdout_accuracy" else k * base * 1.05 + 1e-9
    if metric == "model_size_bytes":
        worse = int(worse) + 1
    candidates[victim] = replace(
        candidates[victim], **{metric: worse, "recent_accuracy": 1.0, "batch_latency_seconds": 1e-9}
    )
    return policy, ks, champion, candidates, victim


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_a_candidate_worse_on_any_constrained_metric_is_never_promoted(case):
    policy, ks, champion, candidates, victim = case
    verdicts = {n: decide(c, champion, policy) for n, c in candidates.items()}
    assert not verdicts[victim].passed
    selection = choose({n: (candidates[n], v) for n, v in verdicts.items() if v.passed}, "classification")
    assert selection.chosen != victim
    if selection.chosen is not None:
        kept = candidates[selection.chosen]
        assert all(_holds(metric, k, kept, champion) for metric, k in ks.items())
