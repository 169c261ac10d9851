"""The daemon's collaborators, as the composition root (:mod:`monitor.daemon.wiring`) wires them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.alerts.intake import AlertIntake
from monitor.check.check_locks import CheckLocks
from monitor.check.checker import Checker
from monitor.decide.rule_runner import RuleRunner
from monitor.exporter import DaemonMetrics
from monitor.jobs.supervisor import JobSupervisor
from monitor.promote.promoter import Promoter
from monitor.promote.promotion_watch import PromotionWatch
from monitor.reports.drift_reports import DriftReports
from monitor.reports.renderer import ReportRenderer
from monitor.running_config import RunningConfig
from monitor.sources.label_book import LabelBook
from monitor.state.daemon_lock import DaemonLock
from monitor.state.store import StateStore
from reoptimize.executors.executor import Executor
from reoptimize.registry.registry import Registry


@dataclass
class DaemonParts:
    """The daemon's collaborators, wired to each other."""

    running: RunningConfig
    config_path: Path
    clock: Callable[[], float]
    store: StateStore
    registry: Registry
    executor: Executor
    metrics: DaemonMetrics
    labels: LabelBook
    checker: Checker
    check_locks: CheckLocks
    promoter: Promoter
    supervisor: JobSupervisor
    watch: PromotionWatch
    rules: RuleRunner
    reports: ReportRenderer
    drift_reports: DriftReports
    intake: AlertIntake
    scheduler: BackgroundScheduler
    lock: DaemonLock
