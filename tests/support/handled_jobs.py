"""A registry, config and state store with one job the real supervisor and promoter have handled.

For tests of what people read about a job (command line, demo): the job was triggered by a
rule at :data:`TRIGGERED_AT`, its worker's result is written into the store as a worker writes
it, and :func:`handle_passing_job` lets the daemon's own supervisor log its outcome and promote
its candidate (the reload hook is a real loopback server's).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from monitor.config import load_config
from monitor.exporter import DaemonMetrics
from monitor.jobs.supervisor import JobSupervisor
from monitor.promote.promoter import Promoter
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.executors.local_executor import LocalExecutor
from reoptimize.gate.verdict import GateVerdict
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from reoptimize.registry.registry import Registry
from tests.support.job_results import job_result_json
from tests.support.onnx_models import linear_classifier

TRIGGERED_AT = 1796688168.4649158  # 2026-12-08T00:02:48Z
TRIGGER = {"rule": "feature-drift", "source": "rule", "at": TRIGGERED_AT, "condition_since": TRIGGERED_AT - 9}


@dataclass
class HandledWorld:
    config: Path
    store: StateStore
    registry: Registry
    root: Path


def make_world(root: Path, loopback: Any) -> HandledWorld:
    """Models ``churn`` (v1 production, v2 staged) and ``fraud``; ``loopback`` answers reloads."""
    loopback.handler = lambda req: (200, json.dumps({"version": "2"}).encode(), "application/json")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["a", "b"])
    frame["label"] = (frame["a"] > 0).astype(int)
    registry = open_registry(root / "registry")
    for _ in (1, 2):
        register_version(
            registry, "churn", linear_classifier(np.eye(2)), frame, ("a", "b"), "label", "classification"
        )
    registry.set_production("churn", "1")
    config = root / "config.yaml"
    model = {
        "server": {"url": loopback.url},
        "data": {"predictions": str(root / "p")},
        "check": {"every": "1m"},
    }
    config.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{root}/state.db",
                "registry": str(root / "registry"),
                "models": [{"name": "churn"} | model, {"name": "fraud"} | model],
            }
        )
    )
    return HandledWorld(config, StateStore.open(f"sqlite:///{root}/state.db"), registry, root)


def handle_passing_job(world: HandledWorld) -> str:
    """A retrain of ``churn`` triggered at TRIGGERED_AT whose candidate v2 passed; returns its id."""
    store = world.store
    job = store.jobs.create(
        "churn", "retrain", {}, TRIGGER, TRIGGERED_AT, rule="feature-drift", champion_version="1"
    )
    store.jobs.mark_running(job.id, TRIGGERED_AT + 1)
    result = job_result_json(job.id, "churn")
    # The worker copies the job's trigger into its verdict and writes the verdict's text with it.
    result["verdict"] = GateVerdict.from_json(result["verdict"] | {"trigger": TRIGGER}).to_json()
    store.jobs.finish(job.id, "succeeded", TRIGGERED_AT + 42.5, result=result, candidate_version="2")
    running = RunningConfig(load_config(world.config))
    promoter = Promoter(running, world.registry, store, None, time.time)
    executor = LocalExecutor(world.root / "job-logs")  # real, but idle: nothing is queued
    supervisor = JobSupervisor(running, store, executor, promoter, DaemonMetrics(), time.time)
    supervisor.handle_finished(store.jobs.get(job.id))
    return job.id
