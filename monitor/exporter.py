"""The daemon's own ``/metrics``: every measurement as ``modelhealth_<name>``, plus self-reporting.

Labels stay bounded: ``model``, ``feature`` (top-K per model by drift score), ``rule``, ``kind``
and ``outcome``. Unknown measurements are left out rather than exported as 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from monitor.measurements import FeatureScore, Measurements
from reoptimize.steps.catalog import CATALOG
from rules.vocabulary import VOCABULARY

disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
PREFIX = "modelhealth_"
CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
ALERT_SOURCES = ("alertmanager", "grafana")
ALERT_OUTCOMES = ("accepted", "duplicate", "resolved", "unmatched", "rejected")
JOB_OUTCOMES = ("succeeded", "failed", "cancelled", "timed_out")


MAX_CLASSES = 50  # per-class recall series per model


def top_features(features: Iterable[FeatureScore], k: int) -> list[FeatureScore]:
    """The ``k`` scored features to export: drifted first, then by drift severity, then by name."""
    scored = [f for f in features if f.score is not None]
    scored.sort(key=lambda f: (not f.drifted, -(f.severity if f.severity is not None else -1.0), f.feature))
    return scored[:k]


def _feature_cap(m: Measurements, default: int) -> int:
    cap = m.extra.get("max_feature_series")
    return cap if isinstance(cap, int) and cap >= 0 else default


class _SnapshotCollector:
    """Renders the latest measurements, feature drift, rule states and versions at scrape time."""

    def __init__(self, max_features: int):
        self.max_features = max_features
        self.lock = threading.Lock()
        self.measurements: dict[str, Measurements] = {}
        self.rule_states: dict[tuple[str, str], str] = {}
        self.versions: dict[str, str] = {}
        self.circuit_open: dict[str, bool] = {}

    def collect(self) -> Iterable[Metric]:
        with self.lock:
            measurements = dict(self.measurements)
            rule_states = dict(self.rule_states)
            versions = dict(self.versions)
            breakers = dict(self.circuit_open)
        for item in VOCABULARY:
            family = GaugeMetricFamily(
                PREFIX + item.name, f"{item.help} Unit: {item.unit}.", labels=["model"]
            )
            for model, m in sorted(measurements.items()):
                value = m.values.get(item.name)
                if value is not None:
                    family.add_metric([model], value)
            yield family
        score = GaugeMetricFamily(
            PREFIX + "feature_drift_score",
            "Drift score of one feature (method-specific).",
            labels=["model", "feature"],
        )
        drifted = GaugeMetricFamily(
            PREFIX + "feature_drifted",
            "1 when the feature's drift test says drifted.",
            labels=["model", "feature"],
        )
        impact = GaugeMetricFamily(
            PREFIX + "feature_drift_impact",
            "Permutation impact of a drifted feature on the model's output (ratio, see drift_impact).",
            labels=["model", "feature"],
        )
        recall = GaugeMetricFamily(
            PREFIX + "class_recall",
            "Recall of one class on labelled predictions (ratio; the first classes only).",
            labels=["model", "class"],
        )
        for model, m in sorted(measurements.items()):
            for f in top_features(m.features, _feature_cap(m, self.max_features)):
                if f.score is None:  # top_features keeps only scored features
                    continue
                score.add_metric([model, f.feature], f.score)
                drifted.add_metric([model, f.feature], 1.0 if f.drifted else 0.0)
                if f.impact is not None:
                    impact.add_metric([model, f.feature], f.impact)
            recalls = m.extra.get("per_class_recall") or {}
            for cls in sorted(recalls)[:MAX_CLASSES]:
                recall.add_metric([model, cls], recalls[cls])
        yield score
        yield drifted
        yield impact
        yield recall
        firing = GaugeMetricFamily(
            PREFIX + "rule_firing", "1 while the rule fires for the model.", labels=["model", "rule"]
        )
        pending = GaugeMetricFamily(
            PREFIX + "rule_pending", "1 while the rule is pending for the model.", labels=["model", "rule"]
        )
        for (rule, model), state in sorted(rule_states.items()):
            firing.add_metric([model, rule], 1.0 if state == "firing" else 0.0)
            pending.add_metric([model, rule], 1.0 if state == "pending" else 0.0)
        yield firing
        yield pending
        version = GaugeMetricFamily(
            PREFIX + "production_version",
            "Version number the registry points production at.",
            labels=["model"],
        )
        for model, v in sorted(versions.items()):
            version.add_metric([model], float(v))
        yield version
        breaker = GaugeMetricFamily(
            PREFIX + "circuit_breaker_open",
            "1 when automatic actions are stopped for the model.",
            labels=["model"],
        )
        for model, is_open in sorted(breakers.items()):
            breaker.add_metric([model], 1.0 if is_open else 0.0)
        yield breaker


# "coalesced": late runs the scheduler folded into one (after a pause or a clock jump).
SCHEDULER_EVENT_KINDS = ("error", "missed", "max_instances", "coalesced")


class DaemonMetrics:
    """Everything the daemon exports, on its own registry."""

    def __init__(self, max_features_per_model: int = 20, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.snapshot = _SnapshotCollector(max_features_per_model)
        self.registry.register(self.snapshot)
        r = self.registry
        self.check_duration = Histogram(
            PREFIX + "check_duration_seconds",
            "Time one check took.",
            ["model"],
            buckets=CHECK_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            PREFIX + "last_check_success_timestamp_seconds",
            "When the model's last check succeeded.",
            ["model"],
            registry=r,
        )
        self.check_failures = Counter(
            PREFIX + "check_failures",
            "Checks that failed, by kind of failure.",
            ["model", "kind"],
            registry=r,
        )
        self.source_up = Gauge(
            PREFIX + "source_up",
            "1 when the source answered with data on the last check.",
            ["model", "kind"],
            registry=r,
        )
        self.jobs = Counter(
            PREFIX + "jobs", "Finished re-optimization jobs.", ["model", "kind", "outcome"], registry=r
        )
        self.jobs_running = Gauge(PREFIX + "jobs_running", "Jobs queued or running.", ["model"], registry=r)
        self.promotions = Counter(
            PREFIX + "promotions", "Promotions and rollbacks done.", ["model", "kind"], registry=r
        )
        self.decisions = Counter(PREFIX + "decisions", "Decision-log entries written.", ["kind"], registry=r)
        self.scheduler_events = Counter(
            PREFIX + "scheduler_events", "Scheduler errors, missed and skipped runs.", ["kind"], registry=r
        )
        for kind in SCHEDULER_EVENT_KINDS:
            self.scheduler_events.labels(kind)
        self.reports = Counter(
            PREFIX + "reports", "Drift reports rendered.", ["model", "outcome"], registry=r
        )
        self.job_duration = Histogram(
            PREFIX + "job_duration_seconds",
            "Wall time of finished jobs, from start to end.",
            ["model", "kind"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.gate_verdicts = Counter(
            PREFIX + "gate_verdicts", "Gate verdicts on job candidates.", ["model", "outcome"], registry=r
        )
        self.check_interval = Gauge(
            PREFIX + "check_interval_seconds",
            "How often the model is checked (models[].check.every).",
            ["model"],
            registry=r,
        )
        self.last_promotion = Gauge(
            PREFIX + "last_promotion_timestamp_seconds",
            "When the model was last promoted or rolled back.",
            ["model", "kind"],
            registry=r,
        )
        self.alerts = Counter(
            PREFIX + "alerts_received",
            "Alerts received on the webhook intake, by source and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        for source in ALERT_SOURCES:
            for outcome in ALERT_OUTCOMES:
                self.alerts.labels(source, outcome)

    def job_finished(
        self, model: str, kind: str, outcome: str, seconds: float | None, passed: bool | None
    ) -> None:
        """Count a finished job, its duration and, when it reached the gate, the verdict."""
        self.jobs.labels(model, kind, outcome).inc()
        if seconds is not None and seconds >= 0:
            self.job_duration.labels(model, kind).observe(seconds)
        if passed is not None:
            self.gate_verdicts.labels(model, "passed" if passed else "rejected").inc()

    def record_measurements(self, m: Measurements) -> None:
        with self.snapshot.lock:
            self.snapshot.measurements[m.model] = m
            if m.version is not None:
                self.snapshot.versions[m.model] = m.version

    def set_version(self, model: str, version: str | None) -> None:
        with self.snapshot.lock:
            if version is None:
                self.snapshot.versions.pop(model, None)
            else:
                self.snapshot.versions[model] = version

    def set_rule_states(self, model: str, states: Mapping[str, str]) -> None:
        with self.snapshot.lock:
            for rule, state in states.items():
                self.snapshot.rule_states[(rule, model)] = state

    def set_circuit(self, model: str, is_open: bool) -> None:
        with self.snapshot.lock:
            self.snapshot.circuit_open[model] = is_open

    def known_model(self, model: str, check_every: float | None = None) -> None:
        """Export zeros for series known to exist, so rates and alerts see them from the start."""
        if check_every is not None:
            self.check_interval.labels(model).set(check_every)
        for kind in ("check_error", "source_down"):
            self.check_failures.labels(model, kind)
        self.jobs_running.labels(model).set(0)
        for kind in ("promote", "rollback"):
            self.promotions.labels(model, kind)
        for outcome in ("passed", "rejected"):
            self.gate_verdicts.labels(model, outcome)
        # A counter's first sample is not an increase: without these zeros, increase() would
        # miss a model's first failed job.
        for kind in CATALOG.job_kinds():
            for outcome in JOB_OUTCOMES:
                self.jobs.labels(model, kind, outcome)
        self.set_circuit(model, False)

    def render(self) -> bytes:
        return generate_latest(self.registry)
