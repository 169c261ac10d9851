"""Scenario 9 (part A's 3): disk full, or a read-only state directory, during a job.

Permission bits do not stop root, so both faults are real kernel limits:

* **disk full**: the registry lives on a small tmpfs holding version 1, filled to the last
  byte by a filler file, so the job's first write of version 2 fails with ENOSPC (errno 28);
  deleting the filler clears the fault;
* **read-only state directory**: the job worker runs in a private mount namespace
  (``unshare --mount``) in which a folder is bind-mounted read-only, so the worker's writes
  there fail with EROFS (errno 30) while the daemon, in the normal namespace, keeps writing.
  Either the whole state directory (registry and state database: the worker cannot even
  record its failure, so it prints it and the daemon records it from the worker's log) or
  the registry alone (the worker trains, then fails writing the version, and records that).

Both need CAP_SYS_ADMIN (root in this container has it). The pass criterion: the job is
recorded as failed with an error naming the cause, production is untouched (same pointer,
verified files, still served), nothing is left half-written, and the daemon stays up. For the
full disk, once space is freed the next job succeeds and is promoted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support_world import (
    MODEL,
    Daemon,
    World,
    free_port,
    model_server,
    poll,
    served_version,
    train_template,
)

pytestmark = pytest.mark.reliability


def _mount_problem(folder: Path) -> str | None:
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if probe.returncode != 0:
        return probe.stderr.decode(errors="replace").strip() or "mount failed"
    subprocess.run(["umount", str(folder)], check=True)
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    return None


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("disk")
    problem = _mount_problem(base / "probe")
    if problem:
        pytest.skip(f"a real disk-full/read-only fault needs mount and unshare (CAP_SYS_ADMIN): {problem}")
    return train_template(base / "trained")


@contextlib.contextmanager
def tmpfs(folder: Path, size_bytes: int) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)], check=True)
    try:
        yield
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the file system is full (ENOSPC); returns its path."""
    filler = folder / "filler.json"  # not a directory, so the registry takes it for no model
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def _run_job(world: World, store) -> str:  # noqa: ANN001
    job = store.jobs.create(MODEL, "retrain", {}, {"reason": "reliability: disk"}, time.time())
    poll(lambda: store.jobs.get(job.id).state not in ("queued", "running"), 240, "the job to end", 0.2)
    poll(lambda: not store.jobs.unhandled_finished(), 60, "the daemon to handle the job", 0.2)
    return job.id


def _production_untouched(world: World, server_url: str, daemon: Daemon) -> list[str]:
    problems = []
    registry = world.registry()
    if registry.production(MODEL) != "1":
        problems.append(f"production moved to v{registry.production(MODEL)}")
    registry.verify(MODEL, "1")
    if served_version(server_url) != "1":
        problems.append(f"the server serves v{served_version(server_url)}")
    leftovers = [p for p in world.registry_dir.rglob(".*")]
    if leftovers:
        problems.append(f"half-written files remain: {leftovers}")
    if registry.versions(MODEL) != ["1"]:
        problems.append(f"versions {registry.versions(MODEL)} exist; a failed job left one behind")
    if not daemon.alive():
        problems.append("the daemon died")
    return problems


def test_disk_full_fails_the_job_and_production_is_untouched(template: Path, tmp_path: Path, report) -> None:
    world = World(tmp_path / "world", "", free_port())
    with tmpfs(world.registry_dir, 8 << 20):
        shutil.copytree(template, world.registry_dir, dirs_exist_ok=True)
        filler = fill(world.registry_dir)
        with model_server(world.registry_dir) as server_url:
            world.server_url = server_url
            world.write_config()
            daemon = Daemon(world)
            store = world.store()
            try:
                daemon.wait_ready()
                job = store.jobs.get(_run_job(world, store))
                problems = _production_untouched(world, server_url, daemon)
                if job.state != "failed" or "No space left on device" not in (job.error or ""):
                    problems.append(f"job {job.state}: {job.error!r}, expected a failure naming ENOSPC")
                # The fault clears: the next job has room, succeeds and is promoted.
                filler.unlink()
                after = store.jobs.get(_run_job(world, store))
                poll(lambda: served_version(server_url) == "2", 60, "v2 to be served after space was freed")
                if after.state != "succeeded" or world.registry().production(MODEL) != "2":
                    problems.append(f"after the disk was freed, the job {after.state}: {after.error}")
            finally:
                store.close()
                assert daemon.stop(30) == 0, daemon.text()[-2000:]
    report.record_trial(
        "disk full / read-only state dir during a job",
        problems,
        note="disk full: registry on a tmpfs sized for v1 only (real ENOSPC)",
    )
    assert not problems, problems


@pytest.mark.parametrize("read_only", ["state", "registry"])
def test_read_only_state_dir_fails_the_job_and_production_is_untouched(
    read_only: str, template: Path, tmp_path: Path, report
) -> None:
    world = World(tmp_path / "world", "", free_port())
    shutil.copytree(template, world.registry_dir)
    folder = world.state_dir if read_only == "state" else world.registry_dir
    wrapper = tmp_path / "python-in-read-only-state"
    # Mount namespace of the worker only: the state directory is read-only for it, not for us.
    mount_ro = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec unshare --mount --propagation private sh -c '{mount_ro}' '{folder}' '{sys.executable}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    with model_server(world.registry_dir) as server_url:
        world.server_url = server_url
        world.extra = {"jobs": {"timeout": "3m", "heartbeat_timeout": "20s", "python": str(wrapper)}}
        world.write_config()
        daemon = Daemon(world)
        store = world.store()
        try:
            daemon.wait_ready()
            job = store.jobs.get(_run_job(world, store))
            problems = _production_untouched(world, server_url, daemon)
            if job.state != "failed" or not any(
                cause in (job.error or "") for cause in ("Read-only file system", "readonly database")
            ):
                problems.append(
                    f"job {job.state}: {job.error!r}, expected a failure naming the read-only store"
                )
            status = store.checks.latest(MODEL)
            if daemon.alive() and status is None:
                problems.append("the daemon recorded no check while the job failed")
        finally:
            store.close()
            assert daemon.stop(30) == 0, daemon.text()[-2000:]
    report.record_trial(
        "disk full / read-only state dir during a job",
        problems,
        note=f"read-only {read_only} dir: bind-mounted ro in the worker's mount namespace (real EROFS)",
    )
    assert not problems, problems


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_template(tmp_path_factory.mktemp("locked") / "trained")


def test_a_locked_state_database_delays_but_loses_nothing(trained: Path, tmp_path: Path, report) -> None:
    """A fault the list does not name: another process holds the state database's write lock
    (``BEGIN EXCLUSIVE``) for longer than SQLite's busy timeout (10 s) while a job runs. Writes
    of the daemon and the worker fail meanwhile; once the lock goes, the job's result is
    recorded, its candidate promoted exactly once, and checks are recorded again."""
    import sqlite3

    world = World(tmp_path / "world", "", free_port(), extra_model={"check": {"every": "2s", "window": "1h"}})
    shutil.copytree(trained, world.registry_dir)
    problems: list[str] = []
    with model_server(world.registry_dir) as server_url:
        world.server_url = server_url
        world.write_config()
        daemon = Daemon(world)
        store = world.store()
        try:
            daemon.wait_ready()
            job = store.jobs.create(MODEL, "retrain", {}, {"reason": "reliability: locked"}, time.time())
            poll(lambda: store.jobs.get(job.id).state == "running", 60, "the job to start", 0.1)
            holder = sqlite3.connect(world.state_dir / "state.db", timeout=30, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            time.sleep(15.0)  # the fault: longer than the 10 s busy timeout every writer waits
            holder.execute("COMMIT")
            holder.close()
            poll(
                lambda: store.jobs.get(job.id).state not in ("queued", "running"), 120, "the job to end", 0.2
            )
            poll(lambda: served_version(server_url) == "2", 60, "the candidate to be served", 0.2)
            done = store.jobs.get(job.id)
            if done.state != "succeeded":
                problems.append(f"the job {done.state}: {done.error}")
            promotions = [p for p in store.promotions.for_job(job.id) if p.state == "done"]
            if len(promotions) != 1:
                problems.append(f"the job was promoted {len(promotions)} times")
            released = time.time()
            poll(
                lambda: store.checks.list(MODEL, limit=5, since=released),
                30,
                "a check recorded after the lock",
                0.2,
            )
            if not daemon.alive():
                problems.append("the daemon died")
        finally:
            store.close()
            assert daemon.stop(30) == 0, daemon.text()[-2000:]
    report.record_trial(
        "unnamed faults: state database locked 15 s",
        problems,
        lost=sum("promoted" in p or "job" in p for p in problems),
        note="BEGIN EXCLUSIVE held by another process while a job ran",
    )
    assert not problems, problems
