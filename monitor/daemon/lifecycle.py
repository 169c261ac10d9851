"""The daemon's main thread under systemd: signals, the watchdog, reload and drain.

* ``READY=1`` once the scheduler runs and the HTTP API listens.
* ``WATCHDOG=1`` every half ``$WATCHDOG_USEC``, but only after checking that the scheduler
  thread, the HTTP thread and the supervisor tick are alive: a wedged daemon stops pinging
  and systemd restarts it.
* SIGHUP: ``RELOADING=1``, :func:`monitor.daemon.reload.reload_daemon`, then ``READY=1`` whether the
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

from monitor.daemon.drain import DrainReport, drain
from monitor.daemon.reload import ReloadRefused, reload_daemon
from monitor.daemon.sd_notify import Notifier

log = logging.getLogger("modelhealthd.lifecycle")
TICK_STUCK_SECONDS = 300.0  # a supervisor tick older than this means the scheduler is wedged
IDLE_WAKE_SECONDS = 1.0


def liveness_problems(daemon, now: float | None = None) -> list[str]:  # noqa: ANN001
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


def status_line(daemon) -> str:  # noqa: ANN001
    running = len(daemon.executor.running())
    return f"watching {len(daemon.config.models)} model(s); {running} job(s) running"


class Lifecycle:
    """Runs the main loop until SIGTERM/SIGINT, then drains. ``run`` returns the drain report."""

    def __init__(
        self,
        daemon,  # noqa: ANN001 - monitor.daemon.service.Daemon
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
        self.notifier.ready(status_line(self.daemon))
        log.info("ready: %s", status_line(self.daemon), extra={"event": "ready"})
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
            self.notifier.status(status_line(self.daemon))
            self.unhealthy = []
        return self.notifier.watchdog()

    def reload(self) -> bool:
        """Apply the config file again; True when applied, False when refused."""
        self.notifier.reloading()
        log.info("reloading %s", self.daemon.config_path, extra={"event": "reload"})
        try:
            plan = reload_daemon(self.daemon)
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
        self.notifier.ready(status_line(self.daemon))
        return True

    def stop(self) -> DrainReport:
        self.notifier.stopping(f"draining: {len(self.daemon.executor.running())} job(s) running")
        grace = self.daemon.config.jobs.drain_grace
        return drain(self.daemon, grace, on_wait=self._drain_wait)

    def _drain_wait(self) -> None:
        # Keep systemd's watchdog fed while waiting for jobs: the drain is bounded by the grace.
        interval = self.notifier.watchdog_seconds
        now = self.clock()
        if interval is not None and now >= self.next_ping:
            self.next_ping = now + interval
            self.notifier.watchdog()
