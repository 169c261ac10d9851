"""Metric-name presets for model servers, and the label matchers that pick a model's series.

``reference`` is the reference server's naming (:mod:`serving.instrument`): a ``model`` label on
every series, errors in their own counter. ``generic`` is the naming most HTTP exporters share,
among them prometheus-fastapi-instrumentator's defaults and hand-written prometheus_client
servers: ``http_request_duration_seconds`` and ``http_requests_total{handler, method, status}``,
one prediction per request on the ``/predict`` handler, and failures counted as
``status=~"5.."`` (which matches both grouped ``5xx`` and exact ``503``). Any name or matcher can
be overridden per model under ``server.metrics``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.config import MetricNamesConfig

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True)
class MetricNames:
    duration_histogram: str
    requests_counter: str
    predictions_counter: str
    errors_counter: str
    model_label: str
    selector: str = ""
    error_selector: str = ""


PRESETS: dict[str, MetricNames] = {
    "reference": MetricNames(
        duration_histogram="modelserver_request_duration_seconds",
        requests_counter="modelserver_requests_total",
        predictions_counter="modelserver_predictions_total",
        errors_counter="modelserver_errors_total",
        model_label="model",
    ),
    "generic": MetricNames(
        duration_histogram="http_request_duration_seconds",
        requests_counter="http_requests_total",
        predictions_counter="http_requests_total",
        errors_counter="http_requests_total",
        model_label="",
        selector='handler="/predict"',
        error_selector='status=~"5.."',
    ),
}


def resolve(config: MetricNamesConfig) -> MetricNames:
    base = PRESETS[config.preset]
    return MetricNames(
        duration_histogram=config.duration_histogram or base.duration_histogram,
        requests_counter=config.requests_counter or base.requests_counter,
        predictions_counter=config.predictions_counter or base.predictions_counter,
        errors_counter=config.errors_counter or base.errors_counter,
        model_label=config.model_label if config.model_label is not None else base.model_label,
        selector=config.selector if config.selector is not None else base.selector,
        error_selector=config.error_selector if config.error_selector is not None else base.error_selector,
    )


def join_matchers(*parts: str) -> str:
    """Comma-join non-empty matcher lists: ``join_matchers('a="1"', '', 'b=~"x"') == 'a="1",b=~"x"'``."""
    return ",".join(p.strip().strip(",") for p in parts if p and p.strip().strip(","))


def model_matchers(names: MetricNames, model: str) -> str:
    """The matchers that select one model's serving series (model label plus ``selector``)."""
    label = f'{names.model_label}="{model}"' if names.model_label else ""
    return join_matchers(label, names.selector)


@dataclass(frozen=True)
class LabelMatchers:
    """PromQL label matchers evaluated in Python, for the scrape source (no Prometheus to ask)."""

    items: tuple[tuple[str, str, str], ...]

    @classmethod
    def parse(cls, text: str) -> LabelMatchers:
        items, pos, text = [], 0, text.strip()
        while pos < len(text):
            match = _MATCHER.match(text, pos)
            if match is None:
                raise ValueError(f"cannot parse label matchers {text!r} at column {pos + 1}")
            name, op, raw = match.groups()
            items.append((name, op, raw.encode().decode("unicode_escape")))
            pos = match.end()
        return cls(tuple(items))

    def matches(self, labels: dict[str, str]) -> bool:
        for name, op, value in self.items:
            got = labels.get(name, "")
            if op == "=" and got != value or op == "!=" and got == value:
                return False
            if op in ("=~", "!~") and (re.fullmatch(value, got) is not None) != (op == "=~"):
                return False
        return True
