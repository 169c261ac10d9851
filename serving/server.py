"""Running the reference server: in the foreground (``serve``) or in a thread (``ServerThread``)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any


def serve(
    registry_root: str | Path,
    model: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    predictions_dir: str | Path | None = None,
    token: str | None = None,
) -> None:
    """Serve ``model`` from the registry until interrupted (uvicorn, log level warning)."""
    import uvicorn

    from serving.app import create_app

    app = create_app(registry_root, model, predictions_dir=predictions_dir, token=token)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


class ServerThread:
    """An ASGI app on uvicorn in a background thread, bound to a loopback port (0 picks a free one).

    >>> with ServerThread(app) as server:        # doctest: +SKIP
    ...     requests.get(server.url + "/healthz")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 20.0):
        import uvicorn

        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = host, self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
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
