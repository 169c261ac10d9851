"""A fault-injecting HTTP proxy on loopback, in front of a real upstream (a real Prometheus).

The daemon is pointed at the proxy. In ``pass`` mode the proxy forwards every request and
answers with the upstream's reply; a test switches it to a fault at any moment, including in
the middle of one check (``fail_after``: the next N requests pass, then the fault starts):

- ``refuse``: the port is closed (connection refused), as when Prometheus is not running;
- ``reset``: the connection is accepted and closed without an answer;
- ``status:<code>``: an HTTP error such as ``status:503`` with a short text body;
- ``slow``: the answer comes ``delay`` seconds late (longer than the daemon's timeout);
- ``empty``: the upstream's answer with every result emptied (Prometheus has no data);
- ``garbage``: 200 with an HTML body; ``truncated``: the first half of the upstream's body;
- ``bad_data``: 400 with Prometheus's error JSON (a query it refuses);
- ``nan``: the upstream's answer with every sample value replaced by ``"NaN"``;
- ``shape``: 200 with ``status: success`` but a ``data`` of the wrong type.

``requests_seen`` and ``faults_served`` count what happened, so a test knows the fault hit.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("pass", "refuse", "reset", "slow", "empty", "garbage", "truncated", "bad_data", "nan", "shape")
MAX_DELAY_SECONDS = 5.0


class FaultProxy:
    def __init__(self, upstream: str, delay: float = 1.5):
        self.upstream = upstream.rstrip("/")
        self.delay = min(delay, MAX_DELAY_SECONDS)
        self.mode = "pass"
        self.lock = threading.Lock()
        self.pending_passes: int | None = None  # fail_after: requests still forwarded before the fault
        self.next_mode = "pass"
        self.requests_seen = 0
        self.faults_served = 0
        self.httpd = self._serve(0)
        self.port = self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control ---------------------------------------------------------------------------
    def set(self, mode: str) -> None:
        """Switch to ``mode`` now (``pass`` clears every fault)."""
        _check(mode)
        with self.lock:
            self.pending_passes = None
            self._switch(mode)

    def fail_after(self, passes: int, mode: str) -> None:
        """Forward the next ``passes`` requests, then switch to ``mode`` (a fault mid-check).

        ``refuse`` cannot start mid-request (the listener is closed between requests); ``reset``
        is its equivalent for a connection already accepted.
        """
        _check(mode)
        if mode == "refuse":
            raise ValueError("fail_after: use 'reset' for a fault that starts mid-check")
        with self.lock:
            self.pending_passes, self.next_mode = passes, mode
            self._switch("pass")

    def _switch(self, mode: str) -> None:
        closed = self.mode == "refuse"
        self.mode = mode
        if mode == "refuse" and not closed:
            self.httpd.shutdown()
            self.httpd.server_close()
        elif mode != "refuse" and closed:
            self.httpd = self._serve(self.port)

    def close(self) -> None:
        if self.mode != "refuse":
            self.httpd.shutdown()
            self.httpd.server_close()

    # -- serving ---------------------------------------------------------------------------
    def _serve(self, port: int) -> ThreadingHTTPServer:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                proxy._handle(self)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:  # the closed port may linger for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, name="fault-proxy", daemon=True).start()
        return httpd

    def _mode_for_request(self) -> str:
        with self.lock:
            self.requests_seen += 1
            if self.pending_passes is not None:
                if self.pending_passes > 0:
                    self.pending_passes -= 1
                    return "pass"
                self.pending_passes = None
                self.mode = self.next_mode
            if self.mode != "pass":
                self.faults_served += 1
            return self.mode

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self._mode_for_request()
        if mode == "reset" or mode == "refuse":  # refuse: a request that raced the close
            handler.close_connection = True
            handler.connection.close()
            return
        if mode.startswith("status:"):
            _reply(handler, int(mode.split(":", 1)[1]), b"injected failure", "text/plain")
            return
        if mode == "garbage":
            _reply(handler, 200, b"<html><body>maintenance</body></html>", "text/html")
            return
        if mode == "bad_data":
            body = {"status": "error", "errorType": "bad_data", "error": "injected: parse error"}
            _reply(handler, 400, json.dumps(body).encode(), "application/json")
            return
        if mode == "shape":
            _reply(handler, 200, b'{"status": "success", "data": "not an object"}', "application/json")
            return
        if mode == "slow":
            time.sleep(self.delay)
        try:
            status, body, ctype = self._forward(handler)
        except OSError:  # upstream down: behave as a TCP pass-through would, close without answer
            handler.close_connection = True
            handler.connection.close()
            return
        if mode == "empty":
            body = _rewrite(body, _empty)
        elif mode == "nan":
            body = _rewrite(body, _nan)
        elif mode == "truncated":
            body = body[: max(1, len(body) // 2)]
        _reply(handler, status, body, ctype)

    def _forward(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes, str]:
        request = urllib.request.Request(self.upstream + handler.path, method=handler.command)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback upstream
                return response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("content-type", "")


def _check(mode: str) -> None:
    if mode not in MODES and not (mode.startswith("status:") and mode[7:].isdigit()):
        raise ValueError(f"fault mode {mode!r}: expected one of {MODES} or status:<code>")


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("content-type", ctype)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:  # the client gave up (its timeout) before the answer came
        pass


def _rewrite(body: bytes, change) -> bytes:  # noqa: ANN001
    try:
        parsed = json.loads(body)
        data = parsed["data"]
    except (ValueError, KeyError, TypeError):
        return body
    change(data)
    return json.dumps(parsed).encode()


def _empty(data: dict) -> None:
    if data.get("resultType") in ("vector", "matrix"):
        data["result"] = []


def _nan(data: dict) -> None:
    if data.get("resultType") == "vector":
        for sample in data["result"]:
            sample["value"][1] = "NaN"
    elif data.get("resultType") == "scalar":
        data["result"][1] = "NaN"
