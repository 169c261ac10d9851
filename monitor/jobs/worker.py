"""The job worker: one re-optimization job in its own process.

An executor calls :func:`run_job_ref` with the job's settings (see
:mod:`monitor.jobs.job_settings`). It reads the job from the state store, assembles the data
(reference, recent labelled window, unlabelled traffic), runs the pipeline with a heartbeat,
and writes the result. It never moves the production pointer: the daemon promotes. A worker
that dies leaves a job the daemon marks failed. ``python -m monitor.jobs.worker --config FILE
--job ID`` runs a job in the foreground, for an operator or a test.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.config import ConfigError, ModelConfig, load_config
from monitor.jobs.job_settings import UNRECORDED_PREFIX, JobSettings
from monitor.sources.label_book import LabelBook
from monitor.sources.prediction_log_reader import PredictionLogReader
from monitor.state.backend import is_transient
from monitor.state.records import JobRecord
from monitor.state.store import StateStore
from reoptimize import failpoints
from reoptimize.executors.executor import ExecutorError
from reoptimize.registry.backends import open_registry
from reoptimize.steps.catalog import BUILD_SHARE_OF_TIMEOUT, CATALOG
from reoptimize.steps.step import RECIPE

if TYPE_CHECKING:  # pandas and the job spec load in the worker, late
    import pandas as pd

    from reoptimize.job.job_spec import JobSpec

log = logging.getLogger("modelhealthd.worker")
HEARTBEAT_SECONDS = 2.0
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNRECORDED = 0, 1, 2, 3
# How long a finished job keeps trying to write its result while the state store is busy (each
# attempt already waits SQLite's busy timeout): a result is worth waiting for.
RECORD_RETRY_SECONDS = 120.0
T = TypeVar("T")


def record(action: Callable[[], T], what: str, budget: float = RECORD_RETRY_SECONDS) -> T:
    """Run a state-store action, retrying while the store is locked or busy, up to ``budget`` s."""
    deadline, delay = time.monotonic() + budget, 0.5
    while True:
        try:
            return action()
        except Exception as exc:  # SQLAlchemy's OperationalError, or StateError wrapping it
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: the state store is busy (%s); retrying in %gs", what, first_line, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def recent_frames(
    model: ModelConfig, features: tuple[str, ...], labels: dict[str, Any], now: float, window: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The recent window as two DataFrames: labelled (with request_id and label) and unlabelled."""
    import pandas as pd

    reader = PredictionLogReader(model.data.predictions, model.name, features)
    win = reader.window(now - window, now)
    frame = pd.DataFrame({f: win.columns[f] for f in features})
    frame["request_id"] = win.request_ids
    frame["ts"] = win.at
    has_label = frame["request_id"].isin(list(labels)).to_numpy(dtype=bool)
    labelled = frame.loc[has_label].copy()
    labelled[model.data.label_column] = labelled["request_id"].map(labels)
    return labelled.reset_index(drop=True), frame.loc[~has_label].reset_index(drop=True)


class Heartbeat(threading.Thread):
    """Writes the job's heartbeat and latest progress every few seconds; notices cancellation."""

    def __init__(self, store: StateStore, job_id: str):
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.store, self.job_id = store, job_id
        self.progress: dict[str, Any] | None = None
        self.cancelled = threading.Event()
        self.done = threading.Event()

    def update(self, progress: dict[str, Any]) -> None:
        self.progress = dict(progress, at=time.time())

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_SECONDS):
            try:
                if not self.store.jobs.heartbeat(self.job_id, time.time(), self.progress):
                    self.cancelled.set()
            except Exception:  # a busy database must not kill the job; the next beat retries
                log.exception("heartbeat failed")


def build_spec(
    job: JobRecord, model: ModelConfig, timeout: float | None = None, task: str | None = None
) -> JobSpec:
    """The job spec of ``job``. A model without a recipe in the config can still run a pipeline
    whose steps declare no need of one (they work from the served ONNX graph, and distill into
    the default MLP recipe's student)."""
    from reoptimize.job.job_spec import JobSpec

    if model.recipe is not None:
        recipe = model.recipe.model_dump(mode="json")
    elif task and RECIPE not in CATALOG.needs(job.pipeline):
        recipe = {"factory": "reoptimize.recipes.mlp:mlp", "task": task}
    else:
        raise ValueError(f"model {model.name!r} has no recipe in the config; a {job.pipeline} job needs one")
    return JobSpec(
        job_id=job.id,
        model=model.name,
        pipeline=job.pipeline,
        params=dict(job.params),
        recipe=recipe,
        policy=model.policy.model_dump(mode="json"),
        cost=model.cost.model_dump(mode="json"),
        champion_version=job.champion_version or "",
        trigger=dict(job.trigger),
        time_budget=timeout * BUILD_SHARE_OF_TIMEOUT if timeout else None,
    )


def run_job_ref(payload: Mapping[str, Any]) -> int:
    """The entry every executor runs: the job named by ``payload`` (a :class:`JobSettings`)."""
    try:
        settings = JobSettings.from_payload(payload)
    except ExecutorError as exc:
        print(f"{UNRECORDED_PREFIX}{exc}", flush=True)
        return EXIT_BAD_INPUT
    return run(settings)


def run(settings: JobSettings) -> int:
    from reoptimize.job.job_spec import JobData
    from reoptimize.job.runner import run_job

    job_id, model = settings.job_id, settings.model
    try:
        store = record(lambda: StateStore.open(settings.state), "opening the state store")
        job = record(lambda: store.jobs.get(job_id), "reading the job")
    except Exception as exc:  # noqa: BLE001 - whatever it is, the daemon must learn it
        print(f"{UNRECORDED_PREFIX}cannot read the job from the state store: {exc}", flush=True)
        return EXIT_UNRECORDED
    if job is None or job.state != "running":
        log.error("job %s is not running (state %s); nothing to do", job_id, job and job.state)
        return EXIT_BAD_INPUT
    beat = Heartbeat(store, job_id)
    beat.start()
    try:
        registry = open_registry(settings.registry)
        if job.model != model.name:
            raise ValueError(
                f"job {job_id} is for model {job.model!r}, but its settings are for {model.name!r}"
            )
        champion = job.champion_version or registry.production(model.name)
        if champion is None:
            raise ValueError(f"{model.name} has no production version in the registry {registry.location}")
        # Every file against the manifest before any is parsed (a planted pickle refuses it too).
        manifest = registry.verify(model.name, champion)
        spec = build_spec(job, model, settings.timeout, manifest.task)
        features = tuple(model.features or manifest.features)
        import pandas as pd

        reference = pd.read_parquet(
            io.BytesIO(registry.read_bytes(model.name, champion, "reference.parquet"))
        )
        window = float(job.params.get("window_seconds", model.check.window))
        now = time.time()
        labels = LabelBook(store, {}).for_model(model, now)
        labelled, unlabelled = recent_frames(model, features, dict(labels), now, window)
        data = JobData(
            reference=reference,
            recent=labelled,
            features=features,
            label=manifest.label,
            unlabelled=unlabelled,
            reference_since=max(now - model.check.window, job.trigger.get("condition_since") or 0.0),
        )

        result = run_job(spec, data, registry, progress=beat.update, should_stop=beat.cancelled.is_set)
    except Exception as exc:
        beat.done.set()
        message = f"{type(exc).__name__}: {exc}"
        log.error("job %s failed: %s\n%s", job_id, message, traceback.format_exc())
        try:
            record(
                lambda: store.jobs.finish(job_id, "failed", time.time(), error=message),
                "recording the failure",
            )
        except Exception as store_exc:  # the daemon records it from this line instead
            print(f"{UNRECORDED_PREFIX}{message} (the state store refused it: {store_exc})", flush=True)
            return EXIT_UNRECORDED
        return EXIT_FAILED
    beat.done.set()
    payload = result.to_json()
    failpoints.hit("worker.result_ready")
    try:
        record(
            lambda: store.jobs.finish(
                job_id, "succeeded", time.time(), result=payload, candidate_version=result.staged_version
            ),
            "recording the result",
        )
    except Exception as exc:
        staged = f" (v{result.staged_version} is staged, unpromoted)" if result.staged_version else ""
        print(f"{UNRECORDED_PREFIX}its result could not be recorded{staged}: {exc}", flush=True)
        return EXIT_UNRECORDED
    failpoints.hit("worker.result_written")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.jobs.worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        config = load_config(args.config)
        settings = JobSettings.from_config(config, _job_model(config.state, args.job), args.job)
    except (ConfigError, KeyError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return run(settings)


def _job_model(state: str, job_id: str) -> str:
    """The model of a stored job (for running a job by hand from a config file)."""
    store = StateStore.open(state)
    try:
        job = store.jobs.get(job_id)
    finally:
        store.close()
    if job is None:
        raise LookupError(f"no job {job_id!r} in the state store")
    return job.model


if __name__ == "__main__":
    from reoptimize.executors.process_exit import exit_now

    exit_now(main())
