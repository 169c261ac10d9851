"""Fuzzing the daemon's HTTP API from its own OpenAPI spec with schemathesis.

Every operation the daemon publishes at ``/openapi.json`` gets requests that fit its schema
and requests that break it (schemathesis' positive and negative modes), first without a token,
then with the API token. Pass criterion: no 5xx and no dropped connection, ever; without a
token no write succeeds and the state store and registry are exactly as before; and the
daemon still answers ``/healthz`` and ``/readyz`` at the end. ``FUZZ_EXAMPLES`` sets the
examples per operation and mode (default 15).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.reliability.support_http import empty_server
from tests.reliability.support_state import env_int, seed, state_digest
from tests.support.alerting import TOKEN, auth, free_port, register_model, start_daemon, write_config

pytestmark = pytest.mark.reliability


@pytest.fixture
def daemon_url(tmp_path):
    register_model(tmp_path / "registry")
    with empty_server() as server:
        config = write_config(
            tmp_path,
            server,
            api={"listen": f"127.0.0.1:{free_port()}", "token": TOKEN, "max_body_bytes": 65536},
            guards={"daily_budget": 3},
        )
        daemon, url = start_daemon(config)
        try:
            deadline = time.monotonic() + 30
            while not daemon.store.checks.latest("m"):
                assert time.monotonic() < deadline, "no first check"
                time.sleep(0.1)
            yield daemon, url
        finally:
            daemon.stop(grace=10)


KNOWN = {"model": "m", "version": "1"}


def fuzz(operations, url: str, headers: dict[str, str], examples: int) -> list[tuple[str, str, int]]:
    """Call every operation with ``examples`` positive and negative cases, and as many positive ones
    aimed at the real model and version (random names mostly meet a 404); (method, path, status) each."""
    from schemathesis import GenerationMode

    seen: list[tuple[str, str, int]] = []
    session = requests.Session()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            run_cases(operation, strategy, url, session, headers, examples, seen)
        names = {p.name for p in operation.path_parameters}
        if names and names <= set(KNOWN):
            known = {name: KNOWN[name] for name in names}
            strategy = operation.as_strategy(path_parameters=known)
            run_cases(operation, strategy, url, session, headers, examples, seen)
    return seen


def run_cases(operation, strategy, url, session, headers, examples, seen) -> None:  # noqa: ANN001
    @hypothesis_seed(seed())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def call(data) -> None:  # noqa: ANN001
        case = data.draw(strategy)
        try:
            response = case.call(base_url=url, session=session, headers=dict(headers), timeout=30)
            status = response.status_code
        except requests.ConnectionError:
            status = 0  # the daemon dropped the connection: as bad as a 5xx
        seen.append((operation.method.upper(), operation.path, status))

    # An operation with nothing to break (no parameters, no body) has no negative cases.
    with contextlib.suppress(Unsatisfiable):
        call()


def test_the_api_survives_fuzzing_from_its_openapi_spec(daemon_url, report) -> None:
    from schemathesis.openapi import from_dict

    daemon, url = daemon_url
    examples = env_int("FUZZ_EXAMPLES", 15)
    spec = requests.get(url + "/openapi.json", timeout=10).json()
    operations = [result.ok() for result in from_dict(spec).get_all_operations()]
    writes = {(op.method.upper(), op.path) for op in operations if op.method.upper() != "GET"}
    assert len(operations) >= 20 and len(writes) >= 10, sorted(writes)

    digest = lambda: state_digest(daemon.config.state, daemon.config.registry.path)  # noqa: E731
    before = digest()
    anonymous = fuzz(operations, url, {}, examples)
    assert digest() == before, "a request without a token changed the state"
    bad = [c for c in anonymous if c[2] == 0 or c[2] >= 500]
    assert not bad, f"5xx or dropped without a token: {Counter(bad).most_common(5)}"
    assert not [c for c in anonymous if (c[0], c[1]) in writes and c[2] < 400], "a write without a token"

    authorized = fuzz(operations, url, auth(), examples)
    bad = [c for c in authorized if c[2] == 0 or c[2] >= 500]
    assert not bad, f"5xx or dropped with the token: {Counter(bad).most_common(5)}"
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
    assert requests.get(url + "/readyz", timeout=10).status_code == 200
    statuses = Counter(s for *_, s in anonymous + authorized)
    report.record(
        "bad input: API fuzzing (schemathesis)",
        trials=len(anonymous) + len(authorized),
        faults=len(anonymous) + len(authorized),
        passes=len(anonymous) + len(authorized) - len(bad),
        note=f"{len(operations)} operations, statuses {json.dumps(dict(sorted(statuses.items())))}",
    )
