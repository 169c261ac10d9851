"""Running the reference server: in the foreground (``serve``) or in a thread (``ServerThread``)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

# How long an idle keep-alive connection stays open. No value avoids the race in which the
# server closes an idle connection just as a client sends on it (that is why the daemon's
# scrapes retry a GET once on a stale connection); this one decides who usually closes first.
# Longer than the usual scrape intervals (10-60 s: the daemon's check.every, Prometheus's
# default 1m) and than the 60 s idle timeout common to proxies, so that a steady scraper and
# a proxy in front keep their connection and close it themselves; short enough that sockets
# left by departed clients are freed within about a minute. nginx's default is the same.
KEEP_ALIVE_SECONDS = 75


def serve(
    registry: str | Path,
    model: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    predictions_dir: str | Path | None = None,
    token: str | None = None,
) -> None:
    """Serve ``model`` from the registry until interrupted (uvicorn, log level warning).

    ``registry`` is a files registry's folder, or the registry's settings as JSON text.
    """
    import uvicorn

    from serving.app import create_app

    app = create_app(registry, model, predictions_dir=predictions_dir, token=token)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


class ServerThread:
    """An ASGI app on uvicorn in a background thread, bound to a loopback port (0 picks a free one).

    ``keep_alive`` is the idle keep-alive timeout in seconds (see ``KEEP_ALIVE_SECONDS``).

    >>> with ServerThread(app) as server:        # doctest: +SKIP
    ...     requests.get(server.url + "/healthz")
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 20.0,
        keep_alive: float = KEEP_ALIVE_SECONDS,
    ):
        import uvicorn

        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = host, self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # uvicorn annotates this as int, but hands it to loop.call_later, which takes float seconds
            timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._start_timeout = start_timeout
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start within {self._start_timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
