"""The daemon's main thread under systemd: signals, the watchdog, reload and drain.

* ``READY=1`` once the scheduler runs and the HTTP API listens.
* ``WATCHDOG=1`` every half ``$WATCHDOG_USEC``, but only after checking that the scheduler
  thread, the HTTP thread and the supervisor tick are alive: a wedged daemon stops pinging
  and systemd restarts it.
* SIGHUP: ``RELOADING=1``, the daemon's reload (:mod:`monitor.daemon.reload`), then ``READY=1`` whether the
  new config was applied or refused (a refused reload keeps the running one).
* SIGTERM or SIGINT: ``STOPPING=1`` and :func:`monitor.daemon.drain.drain`.

Signal handlers only queue the request; the work runs in the main loop, outside the handler.
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler

from monitor.daemon.drain import DrainReport
from monitor.daemon.reload import ReloadPlan, ReloadRefused
from monitor.daemon.sd_notify import Notifier

log = logging.getLogger("modelhealthd.lifecycle")
TICK_STUCK_SECONDS = 300.0  # a supervisor tick older than this means the scheduler is wedged
IDLE_WAKE_SECONDS = 1.0


class Alive(Protocol):
    """What liveness is judged on: the scheduler, the HTTP server's thread, the last supervisor tick."""

    scheduler: BaseScheduler
    http_server: Any
    http_thread: threading.Thread | None
    last_tick_at: float | None


class Managed(Alive, Protocol):
    """What the main loop drives: reload on SIGHUP, drain on SIGTERM."""

    stopping: threading.Event
    config_path: Path

    def status_line(self) -> str: ...

    def jobs_running(self) -> int: ...

    def reload(self) -> ReloadPlan:
        """Apply the config file again; raises :class:`ReloadRefused` when it cannot be applied."""

    def drain(self, grace: float | None = None, on_wait: Callable[[], None] = ...) -> DrainReport:
        """Drain and stop; ``on_wait`` runs while it waits for jobs."""

    @property
    def drain_grace(self) -> float: ...


def liveness_problems(daemon: Alive, now: float | None = None) -> list[str]:
    """Why the daemon is not alive, or [] when the scheduler, HTTP thread and ticks are fine."""
    now = time.monotonic() if now is None else now
    problems = []
    scheduler_thread = getattr(daemon.scheduler, "_thread", None)
    if not daemon.scheduler.running or scheduler_thread is None or not scheduler_thread.is_alive():
        problems.append("the scheduler thread is not running")
    if daemon.http_server is not None and (daemon.http_thread is None or not daemon.http_thread.is_alive()):
        problems.append("the HTTP API thread has died")
    last_tick = getattr(daemon, "last_tick_at", None)
    if last_tick is not None and now - last_tick > TICK_STUCK_SECONDS:
        problems.append(f"no supervisor tick has completed for {now - last_tick:.0f}s")
    return problems


class Lifecycle:
    """Runs the main loop until SIGTERM/SIGINT, then drains. ``run`` returns the drain report."""

    def __init__(
        self,
        daemon: Managed,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.daemon = daemon
        self.notifier = notifier or Notifier.from_env()
        self.clock = clock
        self.requests: collections.deque[str] = collections.deque()
        self.wake = threading.Event()
        self.next_ping = 0.0
        self.unhealthy: list[str] = []

    # -- signals ---------------------------------------------------------------------------
    def request(self, what: str) -> None:
        """Queue ``"reload"`` or ``"stop"``; safe from a signal handler or another thread."""
        self.requests.append(what)
        self.wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.request("stop"))
        signal.signal(signal.SIGINT, lambda *_: self.request("stop"))
        signal.signal(signal.SIGHUP, lambda *_: self.request("reload"))

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> DrainReport:
        self.notifier.ready(self.daemon.status_line())
        log.info("ready: %s", self.daemon.status_line(), extra={"event": "ready"})
        while True:
            self.feed_watchdog()
            self.wake.wait(self._wait_seconds())
            self.wake.clear()
            if self.daemon.stopping.is_set():
                self.requests.append("stop")
            stop = False
            while self.requests:
                what = self.requests.popleft()
                if what == "reload" and not stop:
                    self.reload()
                elif what == "stop":
                    stop = True
            if stop:
                return self.stop()

    def _wait_seconds(self) -> float:
        interval = self.notifier.watchdog_seconds
        if interval is None:
            return IDLE_WAKE_SECONDS
        return max(0.01, min(IDLE_WAKE_SECONDS, self.next_ping - self.clock()))

    def feed_watchdog(self) -> bool:
        """Ping systemd's watchdog when due and the daemon is alive; True when a ping was sent."""
        interval = self.notifier.watchdog_seconds
        now = self.clock()
        if interval is None or now < self.next_ping:
            return False
        self.next_ping = now + interval
        problems = liveness_problems(self.daemon)
        if problems:
            if problems != self.unhealthy:
                log.error("not feeding the watchdog: %s", "; ".join(problems), extra={"event": "watchdog"})
                self.notifier.status("unhealthy: " + "; ".join(problems))
            self.unhealthy = problems
            return False
        if self.unhealthy:
            self.notifier.status(self.daemon.status_line())
            self.unhealthy = []
        return self.notifier.watchdog()

    def reload(self) -> bool:
        """Apply the config file again; True when applied, False when refused."""
        self.notifier.reloading()
        log.info("reloading %s", self.daemon.config_path, extra={"event": "reload"})
        try:
            plan = self.daemon.reload()
        except ReloadRefused as exc:
            log.error(
                "config reload refused, keeping the running config: %s",
                exc,
                extra={"event": "reload_refused"},
            )
            self.notifier.send(READY=1, STATUS=f"reload refused: {exc}"[:400])
            return False
        except Exception as exc:  # a bug in applying must not kill a working daemon
            log.exception(
                "config reload failed, keeping the running config", extra={"event": "reload_refused"}
            )
            self.notifier.send(READY=1, STATUS=f"reload failed: {type(exc).__name__}: {exc}"[:400])
            return False
        log.info("config reloaded: %s", plan.summary(), extra={"event": "reloaded"})
        self.notifier.ready(self.daemon.status_line())
        return True

    def stop(self) -> DrainReport:
        self.notifier.stopping(f"draining: {self.daemon.jobs_running()} job(s) running")
        return self.daemon.drain(self.daemon.drain_grace, on_wait=self._drain_wait)

    def _drain_wait(self) -> None:
        # Keep systemd's watchdog fed while waiting for jobs: the drain is bounded by the grace.
        interval = self.notifier.watchdog_seconds
        now = self.clock()
        if interval is not None and now >= self.next_ping:
            self.next_ping = now + interval
            self.notifier.watchdog()
