"""ServerInstrumentation: metric names, zeros for known series, one info series, a clean exposition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from serving.instrument import ERROR_KINDS, LATENCY_BUCKETS, RELOAD_OUTCOMES, ServerInstrumentation


class StepClock:
    """perf_counter that advances by a set step on every read."""

    def __init__(self, step: float):
        self.t, self.step = 100.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def sample(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, {"model": "m", **labels})


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


def test_known_series_are_exported_as_zero_before_any_traffic(reg: CollectorRegistry):
    ServerInstrumentation("m", registry=reg)
    for kind in ERROR_KINDS:
        assert sample(reg, "modelserver_errors_total", kind=kind) == 0
    for outcome in RELOAD_OUTCOMES:
        assert sample(reg, "modelserver_reloads_total", outcome=outcome) == 0
    assert sample(reg, "modelserver_requests_total") == 0
    assert sample(reg, "modelserver_predictions_total") == 0
    assert sample(reg, "modelserver_request_duration_seconds_count") == 0
    assert reg.get_sample_value("process_cpu_seconds_total") is not None


def test_timed_requests_feed_histogram_and_counters(reg: CollectorRegistry):
    instr = ServerInstrumentation("m", registry=reg, perf_counter=StepClock(0.003))
    with instr.request() as req:
        req.rows = 5
    with instr.request() as req:
        req.rows = 7
        req.error("bad_request")
    with pytest.raises(RuntimeError), instr.request():
        raise RuntimeError("boom")
    assert sample(reg, "modelserver_requests_total") == 3
    assert sample(reg, "modelserver_predictions_total") == 5  # failed requests predict nothing
    assert sample(reg, "modelserver_errors_total", kind="bad_request") == 1
    assert sample(reg, "modelserver_errors_total", kind="internal") == 1
    assert sample(reg, "modelserver_request_duration_seconds_count") == 3
    assert sample(reg, "modelserver_request_duration_seconds_sum") == pytest.approx(0.009)
    assert sample(reg, "modelserver_request_duration_seconds_bucket", le="0.0025") == 0
    assert sample(reg, "modelserver_request_duration_seconds_bucket", le="0.005") == 3


def test_buckets_span_half_a_millisecond_to_ten_seconds():
    assert LATENCY_BUCKETS[0] == 0.0005 and LATENCY_BUCKETS[-1] == 10.0
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_model_info_keeps_one_series(reg: CollectorRegistry):
    instr = ServerInstrumentation("m", registry=reg)
    instr.set_version("1")
    instr.set_version("2")
    instr.set_version("2")
    families = {f.name: f for f in text_string_to_metric_families(instr.render_metrics()[0].decode())}
    series = [(s.labels, s.value) for s in families["modelserver_model_info"].samples]
    assert series == [({"model": "m", "version": "2"}, 1.0)]
    assert instr.version == "2"


def test_exposition_has_no_created_series_and_passes_promtool(reg: CollectorRegistry, promtool_check):
    instr = ServerInstrumentation("m", registry=reg)
    instr.set_version("3")
    with instr.request() as req:
        req.rows = 2
    instr.count_reload("success")
    body, content_type = instr.render_metrics()
    assert content_type.startswith("text/plain")
    assert b"_created" not in body
    promtool_check(body)


def test_promtool_does_flag_a_bad_exposition(promtool_check):
    # Guards the check itself: a unit abbreviation must be reported.
    with pytest.raises(AssertionError):
        promtool_check(b"# HELP x_ms latency\n# TYPE x_ms gauge\nx_ms 1\n")


def test_log_predictions_writes_one_record_per_row(reg: CollectorRegistry, tmp_path: Path):
    instr = ServerInstrumentation(
        "m", prediction_log_dir=tmp_path, registry=reg, clock=lambda: 1_800_000_000.0
    )
    path = instr.log_predictions(["a", "b"], [{"x": 1.0}, {"x": 2.0}], [0, 1], [[0.9, 0.1], [0.2, 0.8]], "4")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["request_id"], r["prediction"], r["version"], r["model"]) for r in records] == [
        ("a", 0, "4", "m"),
        ("b", 1, "4", "m"),
    ]
    with pytest.raises(ValueError, match="2 ids, 1 rows"):
        instr.log_predictions(["a", "b"], [{"x": 1.0}], [0], None, "4")


def test_without_a_log_dir_logging_is_a_no_op(reg: CollectorRegistry):
    instr = ServerInstrumentation("m", registry=reg)
    assert instr.log_predictions(["a"], [{"x": 1.0}], [0], None, "1") is None
