"""A pooled connection that the server closes just as the next scrape is sent on it.

That is the keep-alive race between a client's connection pool and a server's idle timeout.
``RaceServer`` makes it happen on every connection instead of by luck: a raw-socket HTTP/1.1
server that answers the first request of a connection with keep-alive, then reads the second
request in full and closes the socket without a reply (a clean close, or a reset). The serving
sources must still get every sample; what must not be retried is checked too.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from monitor.config import PrometheusConfig
from monitor.sources.http_session import retrying_session
from monitor.sources.prometheus_source import PrometheusSource
from monitor.sources.scrape_source import ScrapeSource


class RaceServer:
    """Answers request 1 of each connection with ``reply(path)``; drops request ``drop_at`` unanswered."""

    def __init__(self, reply: Callable[[str], tuple[int, bytes, str]], how: str = "close", drop_at: int = 2):
        self.reply, self.how, self.drop_at = reply, how, drop_at
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[str] = []  # "METHOD path" of every request that arrived in full
        self.dropped = 0
        self.connections = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buffer = b""
        try:
            for number in range(1, 1000):
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                method, path = head.split(b" ")[:2]
                length = _content_length(head)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                with self.lock:
                    self.requests.append(f"{method.decode()} {path.decode()}")
                if number == self.drop_at:
                    with self.lock:
                        self.dropped += 1
                    if self.how == "reset":  # RST instead of FIN: the client sees ConnectionResetError
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                status, body, content_type = self.reply(path.decode())
                conn.sendall(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode()
                    + body
                )
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def race_server() -> Iterator[Callable[..., RaceServer]]:
    started: list[RaceServer] = []

    def start(
        reply: Callable[[str], tuple[int, bytes, str]], how: str = "close", drop_at: int = 2
    ) -> RaceServer:
        started.append(RaceServer(reply, how, drop_at))
        return started[-1]

    yield start
    for server in started:
        server.close()


EXPOSITION = b"""\
# TYPE modelserver_requests_total counter
modelserver_requests_total{model="m"} 100.0
# TYPE modelserver_predictions_total counter
modelserver_predictions_total{model="m"} 100.0
"""


@pytest.mark.parametrize("how", ["close", "reset"])
def test_the_scrape_source_gets_its_sample_when_a_pooled_connection_is_dropped(
    race_server, model_config, how
) -> None:
    server = race_server(lambda _path: (200, EXPOSITION, "text/plain; version=0.0.4"), how)
    model = model_config(server.url)
    source = ScrapeSource()
    results = [source.read(model, now=1000.0 + 10 * i) for i in range(6)]
    assert server.dropped >= 2, "the race was not provoked"
    failed = [r.reason for r in results if not r.up]
    assert not failed, f"scrapes lost to a dropped keep-alive connection: {failed}"
    assert len(source.history["m"]) == 6
    assert results[-1].values["request_rate"] == 0.0  # the counters stood still between scrapes


@pytest.mark.parametrize("how", ["close", "reset"])
def test_the_prometheus_source_reads_every_query_when_pooled_connections_are_dropped(
    race_server, model_config, how
) -> None:
    vector = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1.5"]}]},
    }
    server = race_server(lambda _path: (200, json.dumps(vector).encode(), "application/json"), how)
    signals = PrometheusSource(PrometheusConfig(url=server.url)).read(
        model_config("http://127.0.0.1:9"), now=1.0
    )
    assert signals.up, signals.reason
    assert server.dropped >= 3, "the race was not provoked"
    assert signals.values["request_rate"] == 1.5 and signals.values["latency_p95_seconds"] == 1.5


def test_a_dropped_get_is_sent_again_once_and_no_more(race_server) -> None:
    # Every connection drops its first request: one retry is allowed, so the GET fails in the end.
    server = race_server(lambda _path: (200, b"ok", "text/plain"), drop_at=1)
    with pytest.raises(requests.ConnectionError):
        retrying_session().get(server.url + "/metrics", timeout=5)
    assert server.requests == ["GET /metrics", "GET /metrics"]


def test_no_retry_of_a_post_a_status_or_a_timeout(race_server) -> None:
    session = retrying_session()
    dropper = race_server(lambda _path: (200, b"ok", "text/plain"), drop_at=1)
    with pytest.raises(requests.ConnectionError):
        session.post(dropper.url + "/-/reload", data=b"{}", timeout=5)
    assert dropper.requests == ["POST /-/reload"], "a POST must never be sent twice"

    failing = race_server(lambda _path: (503, b"busy", "text/plain"), drop_at=0)
    assert session.get(failing.url + "/metrics", timeout=5).status_code == 503
    assert failing.requests == ["GET /metrics"], "an HTTP status is the server's answer, not a lost request"

    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does) and never answers
    try:
        with pytest.raises(requests.ReadTimeout):
            session.get(f"http://127.0.0.1:{silent.getsockname()[1]}/metrics", timeout=0.3)
        silent.settimeout(5)
        first, _ = silent.accept()
        silent.settimeout(0.5)
        with pytest.raises(TimeoutError):
            silent.accept()  # a retry would have opened a second connection
        first.close()
    finally:
        silent.close()
