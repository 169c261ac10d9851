"""Raw request bodies on every route of the daemon and of the reference model server.

Schemathesis (``test_rel_fuzz_api.py``) sends bodies shaped by the OpenAPI schema; these are the
bodies no schema describes, written byte by byte on a socket (``tests.support.raw_http``):
chunked and oversized with and without ``Content-Length``, arrays and objects nested 10^5
deep, 1e999999, a 5000-digit integer, NaN and Infinity, invalid UTF-8, wrong and missing
content types, bodies cut short (now, and after a stall), broken chunked framing, and a body
trickled 3 bytes at a time. Both run as real processes (``modelhealthd run`` and
``modelhealthd serve``) with the daemon's default body limit of 1 MiB and the server's 64 MiB.

Pass criterion, for every route and every body: a complete request gets a reply below 500
(a 503 only with ``Retry-After``, the busy-store answer of the hooks), and neither process logs
a traceback or an exception. Both still answer ``/readyz`` at the end, and an idle
keep-alive connection to either outlives uvicorn's default timeout of 5 s.
"""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest
import requests

from tests.support.raw_http import RawBody, log_problems, raw_bodies, send_raw
from tests.support.served_processes import Served, served_pair

pytestmark = pytest.mark.reliability

LIMITS = {"daemon": 1_048_576, "server": 64 << 20}  # api.max_body_bytes's default; create_app's
PATH_VALUES = {"model": "m", "version": "1", "job_id": "nope", "name": "x.html"}
NAMES = [b.name for b in raw_bodies(10)]
SCENARIO = "bad input: raw request bodies"


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    with served_pair(tmp_path_factory.mktemp("raw-bodies")) as (daemon, server):
        yield {"daemon": daemon, "server": server}


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict[str, RawBody]]:
    return {who: {b.name: b for b in raw_bodies(limit)} for who, limit in LIMITS.items()}


def routes(served: Served) -> list[tuple[str, str]]:
    """(method, path) of every operation the process publishes, path parameters filled in."""
    spec = requests.get(served.url + "/openapi.json", timeout=10).json()
    found = [("GET", "/openapi.json"), ("GET", "/docs")]
    for path, operations in spec["paths"].items():
        for name, value in PATH_VALUES.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, f"no value for a parameter of {path}"
        found += [(method.upper(), path) for method in operations]
    return found


def verdict(reply, body: RawBody) -> str | None:  # noqa: ANN001
    """What is wrong with the reply to a request with ``body``, or None."""
    if not body.complete:
        return None  # nobody reads a reply to a body that never arrived; the log tells the rest
    if reply is None or reply.status is None:
        return "the connection closed without a reply"
    if reply.status == 503 and "retry-after" in reply.headers:
        return None
    if reply.status >= 500:
        return f"{reply.status}: {reply.body[:200]!r}"
    return None


@pytest.mark.parametrize("name", NAMES)
def test_no_route_answers_a_raw_body_with_a_5xx_or_a_traceback(processes, bodies, report, name: str) -> None:
    failures: list[str] = []
    statuses: Counter[int | None] = Counter()
    trials = 0
    for who, served in processes.items():
        body = bodies[who][name]
        _, start = log_problems(served.log)
        for method, path in routes(served):
            reply = send_raw(served.host, served.port, method, path, body, served.auth())
            trials += 1
            statuses[reply.status if reply else None] += 1
            wrong = verdict(reply, body)
            problems, start = log_problems(served.log, start)
            if wrong or problems:
                failures.append(f"{who} {method} {path}: {wrong or ''} {problems}")
        # A line logged as the process finishes a request is seen by the next /readyz at the latest.
        assert requests.get(served.url + "/readyz", timeout=10).status_code == 200, f"{who} is not ready"
        time.sleep(0.2)
        late, _ = log_problems(served.log, start)
        failures += [f"{who} after the requests: {line}" for line in late]
    report.record(
        SCENARIO,
        trials=trials,
        faults=trials,
        passes=trials - len(failures),
        note=f"{name}: {dict(sorted(statuses.items(), key=str))}",
    )
    assert not failures, "\n".join(failures[:20])


def _get_on(sock: socket.socket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the keep-alive connection"
        reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = int(
        next(
            v
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        )
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head


def test_idle_keep_alive_connections_outlive_uvicorns_default(processes, report) -> None:
    socks = {who: socket.create_connection((s.host, s.port), timeout=10) for who, s in processes.items()}
    try:
        for sock in socks.values():
            assert _get_on(sock, "/healthz").startswith(b"HTTP/1.1 200")
        time.sleep(6.0)  # past uvicorn's default of 5 s, well within the configured 75 s
        kept = {who: _get_on(sock, "/healthz").startswith(b"HTTP/1.1 200") for who, sock in socks.items()}
    finally:
        for sock in socks.values():
            sock.close()
    report.record(
        "keep-alive: idle connections outlive 5 s",
        trials=2,
        faults=0,
        passes=sum(kept.values()),
    )
    assert kept == {"daemon": True, "server": True}
