"""The local executor with real subprocesses; only the executor's clock is faked, to pass a timeout at once."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from reoptimize.executors.executor import ExecutorError, Finished
from reoptimize.executors.local_executor import LocalExecutor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


def finish(executor: LocalExecutor, timeout: float = 15.0) -> list[Finished]:
    done: list[Finished] = []

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
    executor = LocalExecutor(tmp_path / "logs")
    executor.submit(
        "ok-1", python("import os; print('hello', os.environ['JOB_FLAVOUR'])"), {"JOB_FLAVOUR": "mint"}
    )
    executor.submit("bad-1", python("import sys; print('oops', file=sys.stderr); sys.exit(3)"))
    assert executor.running() == {"ok-1", "bad-1"}
    done = {f.job_id: f for f in finish(executor)}
    assert done["ok-1"].exit_code == 0 and done["ok-1"].succeeded
    assert done["bad-1"].exit_code == 3 and not done["bad-1"].succeeded and not done["bad-1"].timed_out
    assert "hello mint" in (tmp_path / "logs" / "ok-1.log").read_text()
    assert "oops" in done["bad-1"].log_path.read_text()
    assert executor.poll() == [] and executor.running() == set()


def test_timeout_kills_the_whole_process_group(tmp_path):
    clock = FakeClock()
    executor = LocalExecutor(tmp_path, timeout_seconds=60, clock=clock)
    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    executor.submit("slow-1", python(code))
    child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    assert executor.poll() == [] and alive(child)
    clock.now += 61
    (done,) = executor.poll()
    assert done.timed_out and done.exit_code == -signal.SIGKILL and done.duration_seconds == pytest.approx(61)
    wait_for(lambda: not alive(child), 5.0)


def test_cancel_sends_sigterm_first(tmp_path):
    executor = LocalExecutor(tmp_path)
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('terminated', flush=True), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    executor.submit("cancel-1", python(code))
    wait_for(lambda: "ready" in (tmp_path / "cancel-1.log").read_text())
    executor.cancel("cancel-1")
    (done,) = finish(executor)
    assert done.cancelled and done.exit_code == 0 and not done.timed_out and not done.succeeded
    assert "terminated" in done.log_path.read_text()
    executor.cancel("cancel-1")  # unknown or finished ids are ignored


def test_cancel_escalates_to_sigkill_after_the_grace(tmp_path):
    clock = FakeClock()
    executor = LocalExecutor(tmp_path, cancel_grace_seconds=5, clock=clock)
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)\n"
    executor.submit("stubborn-1", python(code))
    wait_for(lambda: "ready" in (tmp_path / "stubborn-1.log").read_text())
    executor.cancel("stubborn-1")
    time.sleep(0.2)  # bounded: give the ignored SIGTERM time to arrive
    assert executor.poll() == [] and executor.running() == {"stubborn-1"}
    clock.now += 6
    (done,) = executor.poll()
    assert done.cancelled and done.exit_code == -signal.SIGKILL


def test_shutdown_stops_everything(tmp_path):
    executor = LocalExecutor(tmp_path)
    for i in range(2):
        executor.submit(f"job-{i}", python("import time; time.sleep(120)"))
    done = executor.shutdown(grace_seconds=5)
    assert sorted(f.job_id for f in done) == ["job-0", "job-1"]
    assert all(f.cancelled and f.exit_code == -signal.SIGTERM for f in done)
    assert executor.running() == set()


def test_bad_submissions_are_refused(tmp_path):
    executor = LocalExecutor(tmp_path)
    with pytest.raises(ExecutorError, match="invalid job id '../x'"):
        executor.submit("../x", python("pass"))
    with pytest.raises(ExecutorError, match="cannot start '/nonexistent/python'"):
        executor.submit("j-1", ["/nonexistent/python"])
    executor.submit("j-2", python("import time; time.sleep(120)"))
    with pytest.raises(ExecutorError, match="job j-2 is already running"):
        executor.submit("j-2", python("pass"))
    executor.shutdown(grace_seconds=5)
