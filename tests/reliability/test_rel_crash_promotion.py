"""Scenario 1: ``kill -9`` the daemon or the job worker at every step of a promotion.

Each trial copies the same registry into a fresh folder, runs the reference model server in a
thread, and runs ``modelhealthd run`` as a child process. The fault is either a named failure
point (``MODELHEALTHD_FAILPOINTS``, see :mod:`reoptimize.failpoints`: the process SIGKILLs
itself at that step) or a SIGKILL from this test at a random moment: of the daemon while it
promotes, of the daemon while the worker runs (the worker lives on, orphaned), or of the worker
while it stages its version. Then the daemon is started again, without faults, and after it
settles:

* exactly one version is production, it verifies against its manifest, and the server serves it;
* no staging directory or temp pointer file remains;
* the promotions table and the decision log agree (one decision per finished promotion, a pointer
  chain that ends at the production version), and the job's outcome is logged once;
* the job's candidate is promoted exactly once when its result was recorded, and never otherwise.

``RELIABILITY_TRIALS`` (default 20) and ``RELIABILITY_SEED`` (default 7) change the count and the
draw; every named step is covered first, the rest are random-timing kills.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from reoptimize.failpoints import PROMOTION_STEPS, WORKER_STEPS
from tests.reliability.support_world import (
    MODEL,
    Daemon,
    World,
    free_port,
    kill_workers,
    model_server,
    new_world,
    poll,
    served_version,
    train_template,
    worker_pids,
)

pytestmark = pytest.mark.reliability

TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "20"))
SEED = int(os.environ.get("RELIABILITY_SEED", "7"))
RANDOM_KINDS = ("daemon-while-promoting", "daemon-while-job-runs", "worker-while-staging")


@dataclass(frozen=True)
class Fault:
    kind: str  # "point" or one of RANDOM_KINDS
    point: str = ""
    delay: float = 0.0

    @property
    def needs_job_run(self) -> bool:
        """Whether the trial starts with a queued job (else with a finished, passed one)."""
        return self.point in WORKER_STEPS or self.kind in ("daemon-while-job-runs", "worker-while-staging")

    def __str__(self) -> str:
        return f"point {self.point}" if self.kind == "point" else f"{self.kind} after {self.delay:.3f}s"


def plan(trials: int, seed: int) -> list[Fault]:
    rng = random.Random(seed)
    faults = [Fault("point", p) for p in PROMOTION_STEPS]
    rng.shuffle(faults)
    while len(faults) < trials:
        kind = rng.choice(RANDOM_KINDS)
        delay = {"daemon-while-promoting": 0.25, "daemon-while-job-runs": 3.0, "worker-while-staging": 0.3}[
            kind
        ]
        faults.append(Fault(kind, delay=rng.uniform(0.0, delay)))
    return faults[:trials]


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Two starting state folders: a queued job, and the same job after a real worker finished it."""
    base = tmp_path_factory.mktemp("crash-templates")
    registry = train_template(base / "trained")
    queued = new_world(base / "queued", registry, "http://127.0.0.1:9")
    store = queued.store()
    job = store.jobs.create(MODEL, "retrain", {}, {"reason": "reliability trial"}, time.time())
    store.close()
    finished = World(base / "finished", "http://127.0.0.1:9", free_port())
    shutil.copytree(queued.state_dir, finished.state_dir)
    finished.write_config()
    store = finished.store()
    store.jobs.mark_running(job.id, time.time())
    store.close()
    env = dict(os.environ, DO_NOT_TRACK="1")
    env.pop("MODELHEALTHD_FAILPOINTS", None)
    subprocess.run(
        [sys.executable, "-m", "monitor.jobs.worker", "--config", str(finished.config_path), "--job", job.id],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    store = finished.store()
    done = store.jobs.get(job.id)
    store.close()
    assert done.state == "succeeded" and done.candidate_version == "2", done
    assert done.result["verdict"]["passed"], done.result["verdict"]
    return {"queued": queued.state_dir, "finished": finished.state_dir, "job": job.id}


def _inject(world: World, fault: Fault, job_id: str) -> tuple[bool, str]:
    """Run the daemon with the fault; returns (whether a process was killed, what happened)."""
    store = world.store()
    daemon = Daemon(world, failpoints=fault.point)
    try:
        if fault.kind == "point" and fault.point in WORKER_STEPS:
            # The worker kills itself at the step (reaching an armed point is dying there); the
            # daemon records the job, then it is killed too and restarted like every trial.
            poll(lambda: store.jobs.get(job_id).state not in ("queued", "running"), 240, "the job to end")
            poll(lambda: not store.jobs.unhandled_finished(), 30, "the daemon to handle the job")
            job = store.jobs.get(job_id)
            killed = "code -9" in (job.error or "") or fault.point == "worker.result_written"
            return killed, f"job {job.state}: {job.error or 'result written'}"
        if fault.kind == "point":
            code = daemon.proc.wait(120)
            return code == -signal.SIGKILL, f"daemon exited with {code}"
        if fault.kind == "daemon-while-promoting":
            poll(lambda: store.promotions.list(MODEL), 120, "a promotion intent", poll_seconds=0.005)
            time.sleep(fault.delay)
            return daemon.alive(), "daemon killed during the promotion"
        if fault.kind == "daemon-while-job-runs":
            poll(lambda: worker_pids(world, job_id), 120, "the job worker to start")
            time.sleep(fault.delay)
            return (
                daemon.alive(),
                f"daemon killed, worker {'alive' if worker_pids(world, job_id) else 'done'}",
            )
        # worker-while-staging
        versions = world.registry_dir / MODEL / "versions"
        before = {p.name for p in versions.iterdir()}

        def staging_or_later() -> bool:
            # Staging a small model takes milliseconds, so a poll may miss it: a new version
            # directory or a finished job means the kill lands just after staging instead.
            names = {p.name for p in versions.iterdir()}
            return (
                any(n.startswith(".staging-") for n in names)
                or bool(names - before)
                or (store.jobs.get(job_id).state not in ("queued", "running"))
            )

        poll(staging_or_later, 240, "the worker to stage a version", poll_seconds=0.01)
        time.sleep(fault.delay)
        pids = worker_pids(world, job_id)
        kill_workers(world, job_id)
        poll(lambda: store.jobs.get(job_id).state not in ("queued", "running"), 60, "the job to end")
        return bool(pids), f"worker {'killed' if pids else 'had exited'}"
    finally:
        daemon.close()  # kill -9 (a no-op when a failure point already did it)
        store.close()


def _settle(world: World, job_id: str, server_url: str) -> None:
    daemon = Daemon(world, log_name="daemon-restarted.log")
    store = world.store()
    try:
        daemon.wait_ready()

        def settled() -> bool:
            job = store.jobs.get(job_id)
            return (
                job.state not in ("queued", "running")
                and not store.jobs.unhandled_finished()
                and not store.promotions.pending_intents()
                and served_version(server_url) == world.registry().production(MODEL)
            )

        poll(settled, 120, "the restarted daemon to settle", poll_seconds=0.1)
    finally:
        store.close()
        assert daemon.stop(30) == 0, daemon.text()[-2000:]


def check_invariants(world, job_id: str, server_url: str) -> list[str]:
    """Every broken invariant, as a sentence; [] when the trial passed."""
    problems: list[str] = []
    registry, store = world.registry(), world.store()
    try:
        production = registry.production(MODEL)
        job = store.jobs.get(job_id)
        promotable = job.state == "succeeded" and (job.result or {}).get("verdict", {}).get("passed")
        expected = job.candidate_version if promotable else "1"
        if production != expected:
            problems.append(
                f"production is v{production}, expected v{expected} (job {job.state}: {job.error})"
            )
        try:
            registry.verify(MODEL, production)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            problems.append(f"production v{production} does not verify: {exc}")
        leftovers = [p for p in world.registry_dir.rglob(".*")]
        if leftovers:
            problems.append(f"temp or staging files remain: {[str(p) for p in leftovers]}")
        if served_version(server_url) != production:
            problems.append(f"the server serves v{served_version(server_url)}, production is v{production}")
        promotions = sorted(store.promotions.list(MODEL, limit=1000), key=lambda p: p.id)
        done = [p for p in promotions if p.state == "done"]
        if any(p.state == "intent" for p in promotions):
            problems.append("a promotion intent is left open")
        of_job = [p for p in done if p.job_id == job_id and p.kind == "promote"]
        if len(of_job) != (1 if promotable else 0):
            problems.append(f"job {job_id} was promoted {len(of_job)} time(s)")
        pointer = "1"
        for p in done:
            if p.from_version != pointer:
                problems.append(f"promotion {p.id} starts at v{p.from_version}, production was v{pointer}")
            pointer = p.to_version
        if pointer != production:
            problems.append(f"the promotions table ends at v{pointer}, the pointer says v{production}")
        decisions = store.decisions.list(MODEL, limit=10_000)
        for p in promotions:
            logged = [d for d in decisions if d.data.get("promotion_id") == p.id]
            if len(logged) != 1:
                problems.append(f"promotion {p.id} ({p.state}) has {len(logged)} decision(s), expected 1")
        finished = [d for d in decisions if d.job_id == job_id and d.data.get("finished")]
        if len(finished) != 1:
            problems.append(f"job {job_id}'s outcome was logged {len(finished)} time(s)")
    finally:
        store.close()
    return problems


def test_kill_9_at_every_step_of_a_promotion(templates, tmp_path: Path, report) -> None:
    faults = plan(TRIALS, SEED)
    failures: list[str] = []
    injected = passes = lost = 0
    for index, fault in enumerate(faults):
        world = World(tmp_path / f"trial-{index:02d}", "", free_port())
        source = templates["queued"] if fault.needs_job_run else templates["finished"]
        shutil.copytree(source, world.state_dir)
        job_id = templates["job"]
        with model_server(world.registry_dir) as server_url:
            world.server_url = server_url
            world.write_config()
            try:
                hit, what = _inject(world, fault, job_id)
                injected += bool(hit)
                _settle(world, job_id, server_url)
                problems = check_invariants(world, job_id, server_url)
            finally:
                kill_workers(world, job_id)
        if problems:
            failures.append(f"trial {index} ({fault}; {what}): " + "; ".join(problems))
            lost += sum("promoted" in p for p in problems)
        else:
            passes += 1
    report.record(
        "crash during promotion (kill -9)",
        trials=len(faults),
        faults=injected,
        passes=passes,
        lost=lost,
        note=f"seed {SEED}; {len(PROMOTION_STEPS)} named steps then random-timing kills",
    )
    assert not failures, "\n".join(failures)
    # Each named step really killed its process (a step never reached would prove nothing).
    assert injected >= min(len(faults), len(PROMOTION_STEPS)), f"only {injected} faults were injected"
