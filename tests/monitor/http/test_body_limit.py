"""BodyLimit on a real uvicorn server: one response per request, whatever the app does after the limit.

Each app here is a few lines of plain ASGI, so that the test controls exactly when it reads and
when it sends; the requests are raw bytes on a socket, and the reply is every byte the server
sends until it closes the connection.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from monitor.http.http_guard import BodyLimit
from serving.server import ServerThread

LIMIT = 1000


async def _read_all(receive) -> list[str]:  # noqa: ANN001
    kinds = []
    while True:
        message = await receive()
        kinds.append(message["type"])
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            return kinds


async def _respond(send, status: int, body: bytes, chunked: bool = False) -> None:  # noqa: ANN001
    headers = [] if chunked else [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": chunked})


class Recorder:
    """An app that reads the whole body, then answers 200, even after it was told of a disconnect.

    Like Starlette's error middleware, it answers 500 when reading raises, and re-raises.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[str] = []

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        self.calls += 1
        try:
            self.seen = await _read_all(receive)
            if self.seen[-1] == "http.disconnect":
                self.seen.append((await receive())["type"])  # and once more, as an app might
        except Exception:
            await _respond(send, 500, b"Internal Server Error")
            raise
        await _respond(send, 200, b"app answered")


class StartsFirst:
    """An app that starts a streamed response before reading the body, then finishes it."""

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        await _respond(send, 200, b"early ", chunked=True)
        await _read_all(receive)
        await send({"type": "http.response.body", "body": b"done", "more_body": False})


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def limited(app) -> Iterator[tuple[ServerThread, _Records]]:  # noqa: ANN001
    """The app behind BodyLimit on a real server, and what uvicorn logs (its loggers do not propagate)."""
    records = _Records()
    with ServerThread(BodyLimit(app, LIMIT)) as server:
        logging.getLogger("uvicorn.error").addHandler(records)
        try:
            yield server, records
        finally:
            logging.getLogger("uvicorn.error").removeHandler(records)


def _exchange(server: ServerThread, head: str, body: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):  # until the server closes; the timeout bounds it
            reply += chunk
        return reply


def _chunked(body: bytes, size: int = 100) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


CHUNKED = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_body_over_the_limit_gets_one_413_and_the_app_cannot_answer_after_it() -> None:
    app = Recorder()
    with limited(app) as (server, logged):
        reply = _exchange(server, CHUNKED, _chunked(b"x" * (3 * LIMIT)))
    assert reply.count(b"HTTP/1.1 ") == 1, reply
    assert reply.startswith(b"HTTP/1.1 413") and f"larger than {LIMIT} bytes".encode() in reply
    assert b"app answered" not in reply
    assert app.seen[-2:] == ["http.disconnect", "http.disconnect"], "the app is told the exchange is over"
    assert not logged.records, [r.getMessage() for r in logged.records]


def test_a_body_within_the_limit_reaches_the_app() -> None:
    app = Recorder()
    with limited(app) as (server, logged):
        reply = _exchange(server, CHUNKED, _chunked(b"x" * LIMIT))
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"app answered")


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = Recorder()
    head = f"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {LIMIT + 1}\r\n\r\n"
    with limited(app) as (server, logged):
        reply = _exchange(server, head, b"x" * (LIMIT + 1))
    assert reply.startswith(b"HTTP/1.1 413") and reply.count(b"HTTP/1.1 ") == 1
    assert app.calls == 0


def test_when_the_app_has_started_its_response_the_limit_closes_the_connection_instead() -> None:
    with limited(StartsFirst()) as (server, logged):
        reply = _exchange(server, CHUNKED, _chunked(b"x" * (3 * LIMIT)))
    assert reply.startswith(b"HTTP/1.1 200") and b"early " in reply
    assert b"413" not in reply and reply.count(b"HTTP/1.1 ") == 1
    assert not reply.endswith(b"0\r\n\r\n"), "the response must stay unfinished, not look complete"
    assert b"done" not in reply
    # uvicorn says why it closed the connection; nothing raised.
    assert [r.getMessage() for r in logged.records] == ["ASGI callable returned without completing response."]
    assert not [r for r in logged.records if r.exc_info]
