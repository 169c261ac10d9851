"""The local executor with real subprocesses; only the executor's clock is faked, to pass a timeout at once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from reoptimize.executors.executor import ExecutorError, JobExit, JobLimits, JobRef
from reoptimize.executors.local_executor import LocalExecutor
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def job(job_id: str, entry: str, **payload: object) -> JobRef:
    return JobRef(job_id, f"tests.support.job_entries:{entry}", payload)


def executor_in(log_dir: Path, **kwargs: object) -> LocalExecutor:
    """A local executor whose jobs can import this checkout's test entries."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return LocalExecutor(log_dir, env={**env, **kwargs.pop("env", {})}, **kwargs)  # type: ignore[arg-type]


def wait_for(predicate, timeout: float = 15.0):  # noqa: ANN001, ANN201
    return wait_until(predicate, timeout, "the job", poll=0.02, not_yet=())


def finish(executor: LocalExecutor, timeout: float = 15.0) -> list[JobExit]:
    done: list[JobExit] = []

    def all_done() -> bool:
        done.extend(executor.poll())
        return not executor.running()

    wait_for(all_done, timeout)
    return done


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_success_and_failure_exit_codes_and_logs(tmp_path):
    executor = executor_in(tmp_path / "logs", env={"JOB_FLAVOUR": "mint"})
    executor.submit(job("ok-1", "hello", greeting="from stdin"), JobLimits())
    executor.submit(job("bad-1", "fail", code=3), JobLimits())
    assert executor.running() == {"ok-1", "bad-1"}
    done = {f.job_id: f for f in finish(executor)}
    assert done["ok-1"].exit_code == 0 and done["ok-1"].succeeded
    assert done["bad-1"].exit_code == 3 and not done["bad-1"].succeeded and not done["bad-1"].timed_out
    assert "hello mint from stdin" in (tmp_path / "logs" / "ok-1.log").read_text()
    assert "oops" in executor.log_tail("bad-1")
    assert executor.poll() == [] and executor.running() == set()


def test_the_reference_travels_on_stdin_not_in_the_command_line(tmp_path):
    executor = executor_in(tmp_path)
    executor.submit(job("quiet-1", "sleep", secret="s3cr3t"), JobLimits())
    pid = executor._jobs["quiet-1"].process.pid

    def job_argv() -> list[bytes] | None:  # the forked child shows the parent's argv until it execs
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return argv if b"reoptimize.executors.job_process" in argv else None

    argv = wait_for(job_argv)
    assert b"quiet-1" in argv and not any(b"s3cr3t" in a for a in argv)
    executor.shutdown(grace_seconds=5)


def test_a_reference_whose_entry_cannot_be_imported_exits_2_and_says_why(tmp_path):
    executor = executor_in(tmp_path)
    executor.submit(JobRef("lost-1", "tests.support.no_such_module:run", {}), JobLimits())
    (done,) = finish(executor)
    assert done.exit_code == 2 and "cannot start" in executor.log_tail("lost-1")


def test_timeout_kills_the_whole_process_group(tmp_path):
    clock = FakeClock()
    executor = executor_in(tmp_path, clock=clock)
    pid_file = tmp_path / "child.pid"
    executor.submit(job("slow-1", "sleep_with_child", pid_file=str(pid_file)), JobLimits(timeout_seconds=60))
    child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    assert executor.poll() == [] and alive(child)
    clock.now += 61
    (done,) = executor.poll()
    assert done.timed_out and done.exit_code == -signal.SIGKILL and done.duration_seconds == pytest.approx(61)
    wait_for(lambda: not alive(child), 5.0)


def test_cancel_sends_sigterm_first(tmp_path):
    executor = executor_in(tmp_path)
    executor.submit(job("cancel-1", "trap_sigterm"), JobLimits())
    wait_for(lambda: "ready" in (tmp_path / "cancel-1.log").read_text())
    executor.cancel("cancel-1")
    (done,) = finish(executor)
    assert done.cancelled and done.exit_code == 0 and not done.timed_out and not done.succeeded
    assert "terminated" in executor.log_tail("cancel-1")
    executor.cancel("cancel-1")  # unknown or finished ids are ignored


def test_cancel_escalates_to_sigkill_after_the_grace(tmp_path):
    clock = FakeClock()
    executor = executor_in(tmp_path, clock=clock)
    executor.submit(job("stubborn-1", "ignore_sigterm"), JobLimits(cancel_grace_seconds=5))
    wait_for(lambda: "ready" in (tmp_path / "stubborn-1.log").read_text())
    executor.cancel("stubborn-1")
    time.sleep(0.2)  # bounded: give the ignored SIGTERM time to arrive
    assert executor.poll() == [] and executor.running() == {"stubborn-1"}
    clock.now += 6
    (done,) = executor.poll()
    assert done.cancelled and done.exit_code == -signal.SIGKILL


def test_shutdown_stops_everything(tmp_path):
    executor = executor_in(tmp_path)
    for i in range(2):
        executor.submit(job(f"job-{i}", "sleep"), JobLimits())
    done = executor.shutdown(grace_seconds=5)
    assert sorted(f.job_id for f in done) == ["job-0", "job-1"]
    assert all(f.cancelled and f.exit_code == -signal.SIGTERM for f in done)
    assert executor.running() == set()


def test_bad_submissions_are_refused(tmp_path):
    executor = executor_in(tmp_path)
    with pytest.raises(ExecutorError, match="invalid job id '../x'"):
        job("../x", "sleep")
    with pytest.raises(ExecutorError, match="entry 'no colon' is not 'package.module:function'"):
        JobRef("j-0", "no colon")
    with pytest.raises(ExecutorError, match="cannot start '/nonexistent/python'"):
        LocalExecutor(tmp_path, python="/nonexistent/python").submit(job("j-1", "sleep"), JobLimits())
    executor.submit(job("j-2", "sleep"), JobLimits())
    with pytest.raises(ExecutorError, match="job j-2 is already running"):
        executor.submit(job("j-2", "sleep"), JobLimits())
    executor.shutdown(grace_seconds=5)
