"""The composition root: every collaborator of the daemon, built from the config in one place.

:func:`build_daemon` is what ``modelhealthd run`` calls. A test replaces any collaborator by
passing it (``build_daemon(config, path, executor=FakeExecutor())``); everything that depends on
it is then built around the replacement. Backends are chosen by the config through their
tables: the registry by ``registry.kind``, the executor by ``jobs.executor``, the serving source
by ``prometheus:``.

Nothing here runs anything: :meth:`monitor.daemon.service.Daemon.start` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.alerts.intake import AlertIntake
from monitor.check.check_locks import CheckLocks
from monitor.check.checker import Checker
from monitor.config import Config
from monitor.daemon.parts import DaemonParts
from monitor.daemon.scheduling import make_scheduler
from monitor.daemon.service import Daemon
from monitor.decide.rule_runner import RuleRunner, load_ruleset
from monitor.exporter import DaemonMetrics
from monitor.jobs.supervisor import JobSupervisor
from monitor.promote.promoter import Promoter
from monitor.promote.promotion_watch import PromotionWatch
from monitor.reports.drift_reports import DriftReports
from monitor.reports.renderer import ReportRenderer
from monitor.running_config import RunningConfig
from monitor.sources.configured_source import ConfiguredServingSource
from monitor.sources.label_book import LabelBook
from monitor.sources.serving_source import ServingSource
from monitor.state.daemon_lock import DaemonLock
from monitor.state.store import StateStore
from reoptimize.executors.executor import Executor
from reoptimize.executors.executor_backends import open_executor
from reoptimize.registry.backends import open_registry
from reoptimize.registry.registry import Registry


def state_dir(config: Config) -> Path:
    """Where the daemon keeps job logs and the profile cache (``state_dir`` in the config)."""
    return config.state_directory


def build_executor(config: Config) -> Executor:
    settings = {"log_dir": str(state_dir(config) / "jobs"), "python": config.jobs.python}
    return open_executor(config.jobs.executor, settings)


def build_parts(
    config: Config,
    config_path: Path,
    *,
    clock: Callable[[], float] = time.time,
    store: StateStore | None = None,
    registry: Registry | None = None,
    executor: Executor | None = None,
    serving: ServingSource | None = None,
    metrics: DaemonMetrics | None = None,
) -> DaemonParts:
    """Build every collaborator from ``config``; any given one is used instead of building it.

    Raises :class:`~monitor.decide.rule_runner.RulesLoadError` for rules that do not load and
    :class:`~monitor.state.store.StateError` for a state store that cannot be opened.
    """
    running = RunningConfig(config, load_ruleset(config))
    store = store or StateStore.open(config.state)
    registry = registry or open_registry(config.registry.settings())
    executor = executor or build_executor(config)
    metrics = metrics or DaemonMetrics()
    labels = LabelBook(store)
    checker = Checker(
        registry,
        serving or ConfiguredServingSource(running),
        labels.for_model,
        profile_cache=state_dir(config) / "cache" / "profiles",
        models=lambda: running.config.models,
    )
    promoter = Promoter(running, registry, store, metrics, clock)
    supervisor = JobSupervisor(running, store, executor, promoter, metrics, clock)
    watch = PromotionWatch(running, store, promoter, clock)
    rules = RuleRunner(running, store, registry, metrics, clock, watching=watch.watching)
    reports = ReportRenderer(config.reports_dir, metrics)
    check_locks = CheckLocks()
    return DaemonParts(
        running=running,
        config_path=Path(config_path).resolve(),
        clock=clock,
        store=store,
        registry=registry,
        executor=executor,
        metrics=metrics,
        labels=labels,
        checker=checker,
        check_locks=check_locks,
        promoter=promoter,
        supervisor=supervisor,
        watch=watch,
        rules=rules,
        reports=reports,
        drift_reports=DriftReports(running, reports, checker, registry, store, check_locks, clock),
        intake=AlertIntake(store, running, rules, metrics, clock),
        scheduler=make_scheduler(),
        lock=DaemonLock(config.state),
    )


def build_daemon(config: Config, config_path: Path, **replacements: Any) -> Daemon:
    """The daemon for ``config``; ``replacements`` are :func:`build_parts`'s keyword arguments."""
    return Daemon(build_parts(config, config_path, **replacements))
