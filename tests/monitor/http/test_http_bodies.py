"""Bodies that once made the daemon answer 500, sent raw to a real ``modelhealthd run`` process.

A body over ``api.max_body_bytes`` sent chunked (no ``Content-Length``) must get one 413, and
a JSON array nested 10^5 deep a 4xx naming the depth and the limit; neither may leave a
traceback in the daemon's log. The whole raw-body matrix is in
``tests/reliability/test_rel_raw_bodies.py``; this is the fast part of it.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.raw_http import DEPTH, RawBody, log_problems, raw_bodies, send_raw
from tests.support.served_processes import served_pair

MAX_BODY = 1_048_576  # the daemon's default api.max_body_bytes
BODIES = {b.name: b for b in raw_bodies(MAX_BODY)}
CHUNKED_OVERSIZED = BODIES["oversized, chunked, no Content-Length"]
DEEP = BODIES["array nested 10^5 deep"]
DEPTH_SAYS = f"{DEPTH} levels deep; at most 64"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with served_pair(tmp_path_factory.mktemp("bodies")) as (daemon, _server):
        yield daemon


# (route, body, expected status, text the reply must contain)
CASES = [
    ("/hooks/alertmanager", CHUNKED_OVERSIZED, 413, f"larger than {MAX_BODY} bytes"),
    ("/hooks/grafana", CHUNKED_OVERSIZED, 413, f"larger than {MAX_BODY} bytes"),
    ("/api/v1/labels", CHUNKED_OVERSIZED, 413, f"larger than {MAX_BODY} bytes"),
    ("/hooks/alertmanager", DEEP, 400, DEPTH_SAYS),
    ("/hooks/grafana", DEEP, 400, DEPTH_SAYS),
    ("/api/v1/labels", DEEP, 422, DEPTH_SAYS),
    ("/api/v1/models/m/trigger", DEEP, 422, DEPTH_SAYS),
    ("/api/v1/models/m/promote", BODIES["object nested 10^5 deep"], 422, DEPTH_SAYS),
    ("/hooks/alertmanager", BODIES["integer of 5000 digits"], 400, "5000 digits"),
    ("/api/v1/models/m/trigger", BODIES["NaN"], 422, "NaN"),
    ("/api/v1/labels", BODIES["number 1e999999"], 422, "1e999999"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"), CASES, ids=[f"{c[0]} {c[1].name}" for c in CASES]
)
def test_a_bad_body_gets_its_4xx_and_no_traceback(
    daemon, path: str, body: RawBody, status: int, says: str
) -> None:
    _, start = log_problems(daemon.log)
    reply = send_raw(daemon.host, daemon.port, "POST", path, body, daemon.auth())
    assert reply is not None and reply.status == status, (reply, body.name)
    assert says in json.dumps(json.loads(reply.body)), reply.body[:300]
    problems, _ = log_problems(daemon.log, start)
    assert not problems, f"POST {path} with {body.name} logged: {problems}"


def test_a_hook_body_cut_short_is_no_traceback(daemon) -> None:
    _, start = log_problems(daemon.log)
    for name in ("truncated: Content-Length larger than sent", "truncated after a stall"):
        assert (
            send_raw(daemon.host, daemon.port, "POST", "/hooks/alertmanager", BODIES[name], daemon.auth())
            is None
        )
    # The daemon has taken in the disconnect once it answers the next request on another connection.
    assert requests.get(daemon.url + "/healthz", timeout=10).status_code == 200
    problems, _ = log_problems(daemon.log, start)
    assert not problems, f"a truncated hook body logged: {problems}"
