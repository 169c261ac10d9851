"""Hostile bodies sent raw to a real ``modelhealthd serve`` process: a 4xx each, never a traceback.

The fast part of ``tests/reliability/test_rel_raw_bodies.py``: a body over the server's limit sent
chunked, a JSON array nested 10^5 deep, huge numbers and a body cut short, on ``/predict`` and
on the routes that do not read a body at all.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.raw_http import DEPTH, log_problems, raw_bodies, send_raw
from tests.support.served_processes import served_server

MAX_BODY = 64 << 20  # create_app's default body limit, which ``serve`` keeps


@pytest.fixture(scope="module")
def bodies():
    return {b.name: b for b in raw_bodies(MAX_BODY)}  # built here, not at collection: one is 64 MiB


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_server(tmp_path_factory.mktemp("raw")) as server:
        yield server


# (body, expected status, text the reply must contain)
PREDICT = [
    ("oversized, chunked, no Content-Length", 413, f"limit of {MAX_BODY} bytes"),
    ("array nested 10^5 deep", 400, f"{DEPTH} levels deep; at most 64"),
    ("object nested 10^5 deep", 400, f"{DEPTH} levels deep"),
    ("integer of 5000 digits", 400, "5000 digits"),
    ("number 1e999999", 422, "instances[0][0] (a) = inf"),
    ("NaN", 422, "instances[0][0] (a) = nan"),
    ("invalid UTF-8", 400, "UTF-8"),
]


@pytest.mark.parametrize(("name", "status", "says"), PREDICT, ids=[c[0] for c in PREDICT])
def test_predict_answers_a_bad_body_with_its_4xx(server, bodies, name: str, status: int, says: str) -> None:
    _, start = log_problems(server.log)
    reply = send_raw(server.host, server.port, "POST", "/predict", bodies[name])
    assert reply is not None and reply.status == status, (reply, name)
    assert says in json.loads(reply.body)["error"], reply.body[:300]
    problems, _ = log_problems(server.log, start)
    assert not problems, f"/predict with {name} logged: {problems}"


def test_bodies_cut_short_and_bodies_on_routes_that_ignore_them(server, bodies) -> None:
    _, start = log_problems(server.log)
    for name in ("truncated: Content-Length larger than sent", "truncated after a stall"):
        assert send_raw(server.host, server.port, "POST", "/predict", bodies[name]) is None
    deep = bodies["array nested 10^5 deep, chunked"]
    for method, path, status in (
        ("GET", "/metrics", 200),
        ("GET", "/healthz", 200),
        ("POST", "/-/reload", 200),
    ):
        reply = send_raw(server.host, server.port, method, path, deep, server.auth())
        assert reply is not None and reply.status == status, (method, path, reply)
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
    problems, _ = log_problems(server.log, start)
    assert not problems, f"the server logged: {problems}"
