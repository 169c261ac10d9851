"""Scenario 8 (part A's 4): a promoted version that does worse live is rolled back automatically
within the post-promotion watch window, and a second rollback is a no-op.

Real pieces throughout: the reference model server (in a thread) logs every prediction; a
traffic thread sends rows and posts their true labels to the daemon's API, as a labelling
pipeline would; ``modelhealthd run`` checks every 2 s. Version 2 is deliberately bad (trained
on flipped labels) and is promoted by hand over the API, as an operator might. The watch must
see its live accuracy fall below version 1's and roll back on its own, with a decision record.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.reliability.support_world import (
    API_TOKEN,
    FEATURES,
    LABEL,
    MODEL,
    Daemon,
    World,
    add_trained_version,
    free_port,
    poll,
    served_version,
    table,
    train_template,
)

pytestmark = pytest.mark.reliability
WATCH_PERIOD = 60.0
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class Traffic(threading.Thread):
    """Sends batches of labelled rows to the server and their labels to the daemon, until stopped."""

    def __init__(self, server_url: str, api: str, rows: int = 2000):
        super().__init__(name="traffic", daemon=True)
        self.server_url, self.api = server_url, api
        self.frame = table(rows=rows, seed=5)
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.sent = 0

    def run(self) -> None:
        session, rng, n = requests.Session(), np.random.default_rng(0), 0
        while not self.stop.wait(0.1):
            batch = self.frame.iloc[rng.integers(0, len(self.frame), 10)]
            ids = [f"r{n + i}" for i in range(len(batch))]
            n += len(batch)
            body = {"rows": batch[FEATURES].to_dict("records"), "ids": ids}
            try:
                answer = session.post(self.server_url + "/predict", json=body, timeout=10)
                answer.raise_for_status()
                labels = [{"request_id": i, "label": int(y)} for i, y in zip(ids, batch[LABEL], strict=True)]
                posted = session.post(
                    self.api + "/api/v1/labels",
                    json={"model": MODEL, "labels": labels},
                    headers=AUTH,
                    timeout=10,
                )
                posted.raise_for_status()
                self.sent += len(batch)
            except requests.RequestException as exc:
                self.errors.append(str(exc))


def test_a_worse_promoted_version_is_rolled_back_once(tmp_path: Path, report) -> None:
    from prometheus_client import CollectorRegistry

    from serving.app import create_app
    from serving.server import ServerThread
    from tests.reliability.support_world import SERVER_TOKEN

    world = World(
        tmp_path / "world",
        "",
        free_port(),
        extra_model={
            "check": {"every": "2s", "window": "6s", "min_rows": 20},
            "watch": {"period": f"{WATCH_PERIOD:g}s", "min_checks": 2},
        },
    )
    train_template(world.state_dir)
    flipped = table()
    flipped[LABEL] = 1 - flipped[LABEL]
    assert add_trained_version(world.registry_dir, flipped, tmp_path / "bad") == "2"
    logs = world.root / "logs"
    app = create_app(
        world.registry_dir,
        MODEL,
        predictions_dir=logs,
        token=SERVER_TOKEN,
        metrics_registry=CollectorRegistry(),
    )
    server = ServerThread(app).start()
    world.server_url = server.url
    world.write_config()
    daemon = Daemon(world)
    store = world.store()
    traffic = Traffic(server.url, world.api)
    problems: list[str] = []
    try:
        daemon.wait_ready()
        traffic.start()

        def accurate_checks(version: str) -> int:
            return sum(
                1
                for c in store.checks.list(MODEL, limit=200)
                if c.version == version and c.measurements.get("accuracy")
            )

        poll(lambda: accurate_checks("1") >= 2, 60, "two labelled checks of v1", 0.2)
        promoted = requests.post(
            world.api + f"/api/v1/models/{MODEL}/promote",
            json={"version": "2", "reason": "reliability: a worse version by hand"},
            headers=AUTH,
            timeout=30,
        )
        assert promoted.status_code == 200, promoted.text
        assert served_version(server.url) == "2"
        promoted_at = promoted.json()["finished_at"]

        def rolled_back():  # noqa: ANN202
            return [
                d for d in store.decisions.list(MODEL, kind="rollback") if "post-promotion watch" in d.message
            ]

        decision = poll(rolled_back, WATCH_PERIOD + 30, "the automatic rollback", 0.2)[0]
        took = decision.at - promoted_at
        if took > WATCH_PERIOD:
            problems.append(
                f"the rollback came {took:.1f}s after the promotion, after the {WATCH_PERIOD:g}s watch"
            )
        if world.registry().production(MODEL) != "1":
            problems.append(f"production is v{world.registry().production(MODEL)} after the rollback")
        poll(lambda: served_version(server.url) == "1", 30, "the server to serve v1 again")
        if "accuracy" not in decision.message:
            problems.append(f"the rollback decision does not say what regressed: {decision.message!r}")

        again = requests.post(
            world.api + f"/api/v1/models/{MODEL}/rollback",
            json={"reason": "second rollback"},
            headers=AUTH,
            timeout=30,
        )
        assert again.status_code == 200, again.text
        if again.json()["rolled_back"] is not False:
            problems.append(f"the second rollback was not a no-op: {again.json()}")
        kinds = [
            (p.kind, p.state, p.from_version, p.to_version) for p in reversed(store.promotions.list(MODEL))
        ]
        if kinds != [("promote", "done", "1", "2"), ("rollback", "done", "2", "1")]:
            problems.append(f"promotions: {kinds}")
        if world.registry().production(MODEL) != "1" or served_version(server.url) != "1":
            problems.append("the second rollback changed production")
        if traffic.errors:
            problems.append(f"{len(traffic.errors)} requests failed during the promotion and rollback")
    finally:
        traffic.stop.set()
        traffic.join(10)
        store.close()
        assert daemon.stop(30) == 0, daemon.text()[-2000:]
        server.stop()
    report.record_trial(
        "regression after promotion: auto rollback",
        problems,
        lost=len(traffic.errors),
        note=f"rolled back {took:.1f}s after the promotion (watch {WATCH_PERIOD:g}s); second rollback a no-op",
    )
    assert not problems, problems
