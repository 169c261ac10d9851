"""Shared fixtures for monitor tests: loopback HTTP servers and model configs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.config import ModelConfig

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, bytes, str]]


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 with a swappable handler; records every request."""

    def __init__(self) -> None:
        self.handler: Handler = lambda req: (404, b"", "text/plain")
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload, ctype = outer.handler(self)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


def _model_config(url: str, predictions: str = "/nonexistent", **extra: object) -> ModelConfig:
    data = {"name": "m", "server": {"url": url}, "data": {"predictions": predictions}} | extra
    return ModelConfig.model_validate(data)


@pytest.fixture
def model_config() -> Callable[..., ModelConfig]:
    """Build a ModelConfig named ``m`` for a server URL."""
    return _model_config
