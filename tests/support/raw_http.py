"""Raw HTTP/1.1 requests over a socket, for bodies ``requests`` cannot send, and a catalogue of them.

``send_raw`` writes the request itself: chunked with no ``Content-Length``, a ``Content-Length``
larger than what is sent (then a close), a body trickled a few bytes at a time, framing that
is broken on purpose. The body goes out from a thread while the reply is read, so a server
that answers before reading everything (a 413) is heard. ``raw_bodies(max_body)`` lists the
hostile bodies; ``log_problems`` finds tracebacks and logged exceptions in a process's log.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK = 65536
DEPTH = 100_000


@dataclass(frozen=True)
class RawBody:
    """A request body and how it is framed and sent."""

    name: str
    body: bytes
    content_type: str | None = "application/json"
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    framed: bool = False  # ``body`` is already chunk-encoded (to send broken framing)
    declared: int | None = None  # a Content-Length larger than the body: the rest never comes
    trickle: float = 0.0  # seconds between pieces of 3 bytes
    stall: float = 0.0  # seconds a truncated body keeps the connection open before closing it

    @property
    def complete(self) -> bool:
        """Whether the whole request is sent, so that a reply is owed."""
        return self.declared is None


@dataclass(frozen=True)
class RawReply:
    status: int | None  # None: the connection closed without a status line
    headers: dict[str, str]
    body: bytes


def _encoded(body: RawBody) -> tuple[bytes, list[str]]:
    if body.framed:
        return body.body, ["Transfer-Encoding: chunked"]
    if body.chunked:
        parts = [
            b"%x\r\n%s\r\n" % (len(body.body[i : i + CHUNK]), body.body[i : i + CHUNK])
            for i in range(0, len(body.body), CHUNK)
        ]
        return b"".join(parts) + b"0\r\n\r\n", ["Transfer-Encoding: chunked"]
    length = body.declared if body.declared is not None else len(body.body)
    return body.body, [f"Content-Length: {length}"]


def _send_body(sock: socket.socket, payload: bytes, trickle: float) -> None:
    try:
        if not trickle:
            sock.sendall(payload)
            return
        for i in range(0, len(payload), 3):
            sock.sendall(payload[i : i + 3])
            time.sleep(trickle)
    except OSError:
        pass  # the server answered and closed before taking it all; the reply is what counts


def send_raw(
    host: str,
    port: int,
    method: str,
    path: str,
    body: RawBody,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> RawReply | None:
    """Send one request on a fresh connection; its reply, or None for a body that is cut short.

    Raises AssertionError when a complete request gets no reply within ``timeout`` seconds.
    """
    payload, framing = _encoded(body)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", *framing]
    if body.content_type is not None:
        lines.append(f"Content-Type: {body.content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sender = threading.Thread(target=_send_body, args=(sock, payload, body.trickle), daemon=True)
        sender.start()
        if not body.complete:
            sender.join(timeout)
            time.sleep(body.stall)
            return None
        try:
            reply = http.client.HTTPResponse(sock, method=method)
            reply.begin()
            data = reply.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return RawReply(None, {}, b"")
        except TimeoutError:
            raise AssertionError(f"{method} {path} with {body.name}: no reply within {timeout:g}s") from None
        finally:
            sender.join(timeout)
        return RawReply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
    finally:
        sock.close()


def raw_bodies(max_body: int) -> list[RawBody]:
    """Hostile bodies for a server whose body limit is ``max_body`` bytes."""
    oversized = b"[" + b"0," * (max_body // 2) + b"0]"
    deep_array = b"[" * DEPTH + b"]" * DEPTH
    deep_object = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
    small = b'{"model": "m", "labels": [], "instances": [[0, 0, 0]]}'

    def numbers(literal: bytes) -> bytes:  # shaped for /predict, whose validation names each value
        return b'{"instances": [[' + literal + b", 0, 0]]}"

    return [
        RawBody("oversized, chunked, no Content-Length", oversized, chunked=True),
        RawBody("oversized, with Content-Length", oversized),
        RawBody("array nested 10^5 deep", deep_array),
        RawBody("array nested 10^5 deep, chunked", deep_array, chunked=True),
        RawBody("object nested 10^5 deep", deep_object),
        RawBody("number 1e999999", numbers(b"1e999999")),
        RawBody("integer of 5000 digits", numbers(b"9" * 5000)),
        RawBody("NaN", numbers(b"NaN")),
        RawBody("Infinity", numbers(b"Infinity")),
        RawBody("-Infinity", numbers(b"-Infinity")),
        RawBody("invalid UTF-8", b'{"model": "\xff\xfe\xc3", "instances": [[0, 0, 0]]}'),
        RawBody("JSON as text/plain", small, content_type="text/plain"),
        RawBody("JSON as a form", small, content_type="application/x-www-form-urlencoded"),
        RawBody("JSON without a content type", small, content_type=None),
        RawBody("JSON, not a body shape", b'[null, "x", 1, {"": []}]'),
        RawBody("empty body", b""),
        RawBody("truncated: Content-Length larger than sent", small, declared=len(small) + 100),
        RawBody("truncated after a stall", small, declared=len(small) + 100, stall=0.3),
        RawBody("broken chunked framing", b"zz\r\n{}\r\n0\r\n\r\n", framed=True),
        RawBody("trickled 3 bytes at a time", small, trickle=0.01),
    ]


PROBLEM_MARKS = (
    "Traceback (most recent call last)",
    "Exception in ASGI application",
    "ASGI callable returned without",
    '"exc": ',  # the daemon's JSON log line of a logged exception
)


def log_problems(log: Path, start: int = 0) -> tuple[list[str], int]:
    """Lines of ``log`` from byte ``start`` that show a traceback or a logged exception, and the new end."""
    data = log.read_bytes()
    text = data[start:].decode(errors="replace")
    found = [line[:500] for line in text.splitlines() if any(mark in line for mark in PROBLEM_MARKS)]
    return found, len(data)
