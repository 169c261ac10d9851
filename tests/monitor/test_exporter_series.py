"""The daemon's exposition: promtool-clean, per-feature series capped per model by drift severity."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.exporter import DaemonMetrics, top_features
from monitor.measurements import FeatureScore, Measurements
from rules.vocabulary import NAMES
from tests.support.prometheus import require_prometheus


def _features(n: int) -> tuple[FeatureScore, ...]:
    out = []
    for i in range(n):
        drifted = i % 3 == 0
        out.append(
            FeatureScore(
                f"f{i:02d}",
                "wasserstein",
                0.05 * i,
                0.1,
                drifted,
                severity=0.5 * i,
                impact=0.01 * i if drifted else None,
            )
        )
    out.append(FeatureScore("broken", "ks", None, 0.05, False, error="missing"))
    return tuple(out)


def _samples(exposition: bytes) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_top_features_are_drifted_first_then_most_severe() -> None:
    chosen = [f.feature for f in top_features(_features(30), 5)]
    assert chosen == ["f27", "f24", "f21", "f18", "f15"]
    assert [f.feature for f in top_features(_features(4), 10)] == ["f03", "f00", "f02", "f01"]


def test_exposition_is_bounded_and_promtool_clean() -> None:
    metrics = DaemonMetrics()
    values = dict.fromkeys(NAMES, 0.25)
    metrics.known_model("big")
    metrics.record_measurements(
        Measurements(
            "big",
            "3",
            1.0,
            values,
            _features(30),
            extra={"max_feature_series": 5, "per_class_recall": {"0": 0.9, "1": 0.5}},
        )
    )
    metrics.record_measurements(
        Measurements(
            "small",
            "1",
            1.0,
            {"rows": 10},
            _features(4),
            extra={"per_class_recall": {str(c): 1.0 for c in range(80)}},
        )
    )
    metrics.check_duration.labels("big").observe(0.02)
    metrics.last_success.labels("big").set(1_764_360_000)
    metrics.check_failures.labels("big", "source_down").inc()
    exposition = metrics.render()
    samples = _samples(exposition)
    per_model = lambda name, model: [s for s in samples.get(name, []) if s.labels["model"] == model]  # noqa: E731
    assert len(per_model("modelhealth_feature_drift_score", "big")) == 5
    assert len(per_model("modelhealth_feature_drift_score", "small")) == 4  # the default cap is 20
    assert {s.labels["feature"] for s in per_model("modelhealth_feature_drift_impact", "big")} == {
        "f27",
        "f24",
        "f21",
        "f18",
        "f15",
    }
    assert len(per_model("modelhealth_class_recall", "small")) == 50  # bounded label
    assert {s.labels["class"]: s.value for s in per_model("modelhealth_class_recall", "big")} == {
        "0": 0.9,
        "1": 0.5,
    }
    for name in NAMES:
        assert per_model(f"modelhealth_{name}", "big")[0].value == 0.25
    assert per_model("modelhealth_accuracy", "small") == []  # unknown is left out, never 0
    assert per_model("modelhealth_check_duration_seconds_count", "big")[0].value == 1
    assert per_model("modelhealth_last_check_success_timestamp_seconds", "big")[0].value == 1_764_360_000
    failures = {s.labels["kind"]: s.value for s in per_model("modelhealth_check_failures_total", "big")}
    assert failures == {"check_error": 0.0, "source_down": 1.0}
    require_prometheus()
    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("cap", [0, 1])
def test_a_cap_of_zero_exports_no_feature_series(cap: int) -> None:
    metrics = DaemonMetrics()
    metrics.record_measurements(
        Measurements("m", "1", 1.0, {}, _features(6), extra={"max_feature_series": cap})
    )
    assert len(_samples(metrics.render()).get("modelhealth_feature_drift_score", [])) == cap
