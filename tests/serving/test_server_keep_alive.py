"""The server's idle keep-alive timeout is set on purpose, and honoured, over a real socket."""

from __future__ import annotations

import socket

from fastapi import FastAPI

from serving.server import KEEP_ALIVE_SECONDS, ServerThread

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _exchange(sock: socket.socket) -> bytes:
    sock.sendall(REQUEST)
    reply = b""
    while not reply.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection mid-reply: {reply!r}"
        reply += chunk
    return reply


def test_an_idle_connection_is_kept_then_closed_after_the_keep_alive_timeout() -> None:
    with (
        ServerThread(_app(), keep_alive=0.3) as server,
        socket.create_connection((server.host, server.port), timeout=3) as sock,  # < uvicorn default 5 s
    ):
        assert _exchange(sock).startswith(b"HTTP/1.1 200")
        assert _exchange(sock).startswith(b"HTTP/1.1 200"), "a second request on the same connection"
        assert sock.recv(4096) == b"", "the server should close the idle connection"


def test_the_default_keep_alive_outlasts_common_scrape_intervals() -> None:
    assert KEEP_ALIVE_SECONDS > 60  # Prometheus's default scrape interval and common proxies' idle timeout
    with ServerThread(_app()) as server:
        assert server._server.config.timeout_keep_alive == KEEP_ALIVE_SECONDS
