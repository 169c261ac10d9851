"""The serving source the running config names, rebuilt only when its setting changes.

With a ``prometheus:`` section the daemon asks that Prometheus (``prometheus``); without one it
scrapes each model server's ``/metrics`` itself (``scrape``). After a SIGHUP reload the next
read uses the new setting; a scrape source survives a reload that leaves it in place, so its
sample windows are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from monitor.config import Config, ModelConfig
from monitor.running_config import RunningConfig
from monitor.sources.prometheus_source import PrometheusSource
from monitor.sources.scrape_source import ScrapeSource
from monitor.sources.serving_source import ServingSignals, ServingSource


def _prometheus(config: Config) -> ServingSource:
    assert config.prometheus is not None
    return PrometheusSource(config.prometheus)


def _scrape(config: Config) -> ServingSource:
    return ScrapeSource()


# A kind of serving source -> how to build it from the config.
SERVING_SOURCES: Mapping[str, Callable[[Config], ServingSource]] = {
    "prometheus": _prometheus,
    "scrape": _scrape,
}


def source_kind(config: Config) -> str:
    return "prometheus" if config.prometheus else "scrape"


class ConfiguredServingSource:
    """A :class:`ServingSource` that delegates to the one the running config names."""

    def __init__(self, running: RunningConfig):
        self.running = running
        self._lock = threading.Lock()
        self._built: tuple[object, ServingSource] | None = None

    @property
    def name(self) -> str:
        return self.current().name

    def current(self) -> ServingSource:
        config = self.running.config
        key = (source_kind(config), config.prometheus)
        with self._lock:
            if self._built is None or self._built[0] != key:
                self._built = (key, SERVING_SOURCES[key[0]](config))
            return self._built[1]

    def read(self, model: ModelConfig, now: float) -> ServingSignals:
        return self.current().read(model, now)
