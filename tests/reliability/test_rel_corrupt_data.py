"""Corrupt training data reaching retrain jobs: rejected, never promoted, and the breaker opens.

The real daemon (HTTP API, SQLite, supervisor) runs each retrain job in a real worker process
(PyTorch, ONNX Runtime) on a generated 3-class model. Each trial writes a fresh prediction log
window and posts its labels over the API, corrupted one way:

- ``nan``: NaN feature values in a tenth of the rows;
- ``schema``: a feature renamed in every row (schema drift);
- ``wrong_type``: a feature sent as text;
- ``flipped``: every label shifted to another class;
- ``unknown_class``: labels of a class the model does not have;
- ``noisy``: half of the labels replaced by random classes.

Pass criterion: each job is rejected by validation (failed, naming the problem) or, when it
trains, its candidate does not beat the champion on the fixed holdout beyond chance and the
gate refuses it; production never moves and no version is added. After ``breaker_threshold``
such jobs the circuit breaker is open, refuses the next trigger, stays open, and only a
person's reset over the API lets a job through again.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from reoptimize.job.first_versions import train_first_version
from reoptimize.registry.backends import open_registry
from tests.reliability.support_http import empty_server
from tests.reliability.support_state import seed
from tests.support.alerting import TOKEN, auth, free_port, start_daemon
from tests.support.waiting import wait_until

pytestmark = pytest.mark.reliability

FEATURES = [f"f{i}" for i in range(8)]
RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [32]},
    "training": {"max_epochs": 15, "patience": 3, "learning_rate": 0.003},
}
KINDS = ("nan", "schema", "wrong_type", "flipped", "unknown_class", "noisy")
ROWS = 300
# What a rejected job's error must name, per kind (None: it trains, and the gate must refuse it).
REJECTED = {
    "nan": "f3",
    "schema": "f5",
    "wrong_type": "f1",
    "flipped": "shifted or flipped",
    "unknown_class": "unknown class",
    "noisy": None,
}


def dataset() -> pd.DataFrame:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=1200 + ROWS * (len(KINDS) + 1), n_features=len(FEATURES), n_informative=6,
        n_redundant=1, n_classes=3, class_sep=1.5, random_state=3,
    )  # fmt: skip
    frame = pd.DataFrame(x.astype(np.float32), columns=FEATURES)
    frame["label"] = y
    return frame


def corrupt(kind: str, rows: pd.DataFrame) -> tuple[list[dict], list]:
    """The log records' feature objects and the labels for ``rows``, corrupted as ``kind`` says."""
    features = [{f: float(r[f]) for f in FEATURES} for _, r in rows.iterrows()]
    labels = [int(v) for v in rows["label"]]
    if kind == "nan":
        for i in range(0, len(features), 10):
            features[i]["f3"] = float("nan")
    elif kind == "schema":
        for f in features:
            f["f5_v2"] = f.pop("f5")
    elif kind == "wrong_type":
        for f in features:
            f["f1"] = f"{f['f1']:.3f}"
    elif kind == "flipped":
        labels = [(v + 1) % 3 for v in labels]
    elif kind == "unknown_class":
        labels = [7 for _ in labels]
    elif kind == "noisy":
        rng = random.Random(1)
        labels = [rng.randrange(3) if rng.random() < 0.5 else v for v in labels]
    return features, labels


def write_window(folder: Path, features: list[dict], now: float) -> list[str]:
    """A fresh prediction log holding these rows over the last minute; returns their request ids."""
    from serving.prediction_log_writer import format_ts, log_file_name

    for old in folder.glob("*.jsonl"):
        old.unlink()
    ids, lines = [], []
    for i, f in enumerate(features):
        rid = uuid.uuid4().hex
        ids.append(rid)
        at = now - 60 + 60 * i / len(features)
        record = {"ts": format_ts(at), "request_id": rid, "model": "m", "version": "1", "features": f,
                  "prediction": 0}  # fmt: skip
        lines.append(json.dumps(record))
    (folder / log_file_name(now)).write_text("\n".join(lines) + "\n")
    return ids


@pytest.fixture
def daemon_url(tmp_path):
    frame = dataset()
    registry = open_registry(tmp_path / "registry")
    train_first_version(registry, "m", RECIPE, frame.iloc[:1200], FEATURES, "label")
    (tmp_path / "predictions").mkdir()
    with empty_server() as server:
        config = {
            "state": f"sqlite:///{tmp_path}/state.db",
            "registry": str(tmp_path / "registry"),
            "api": {"listen": f"127.0.0.1:{free_port()}", "token": TOKEN},
            "jobs": {"timeout": "5m", "heartbeat_timeout": "60s"},
            "guards": {"breaker_threshold": len(KINDS), "daily_budget": 100, "default_cooldown": "0s"},
            "models": [{
                "name": "m", "server": {"url": server},
                "data": {"predictions": str(tmp_path / "predictions")},
                "features": FEATURES, "recipe": RECIPE, "check": {"every": "1h", "window": "10m"},
            }],
        }  # fmt: skip
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        daemon, url = start_daemon(path)
        try:
            yield daemon, url, frame, tmp_path / "predictions"
        finally:
            daemon.stop(grace=10)


def trigger(url: str) -> dict:
    reply = requests.post(
        url + "/api/v1/models/m/trigger", json={"pipeline": "retrain", "reason": "test"}, headers=auth()
    )
    assert reply.status_code == 202, reply.text
    return reply.json()


def test_corrupt_training_data_is_rejected_and_opens_the_breaker(daemon_url, report) -> None:
    daemon, url, frame, predictions = daemon_url
    kinds = list(KINDS)
    random.Random(seed()).shuffle(kinds)
    registry, passes, lost = daemon.registry, 0, 0
    versions, production = registry.versions("m"), registry.production("m")
    outcomes = {}
    for i, kind in enumerate(kinds):
        rows = frame.iloc[1200 + ROWS * i : 1200 + ROWS * (i + 1)]
        features, labels = corrupt(kind, rows)
        ids = write_window(predictions, features, time.time())
        body = {
            "model": "m",
            "labels": [{"request_id": r, "label": v} for r, v in zip(ids, labels, strict=True)],
        }
        assert requests.post(url + "/api/v1/labels", json=body, headers=auth()).status_code == 202
        answer = trigger(url)
        assert answer["queued"], (kind, answer)
        job = wait_until(
            lambda j=answer["job"]: (r := daemon.store.jobs.get(j)) and not r.active and r,
            240,
            f"the {kind} job",
        )
        expected = REJECTED[kind]
        if expected is not None:
            assert job.state == "failed" and expected in (job.error or ""), (kind, job.state, job.error)
            outcomes[kind] = f"rejected: {job.error[:80]}"
        else:
            assert job.state == "succeeded", (kind, job.error)
            verdict, result = job.result["verdict"], job.result
            assert not verdict["passed"] and job.candidate_version is None, (kind, verdict["text"])
            # It does not beat the champion on the fixed holdout beyond what chance gives on its rows.
            cand, champ = result["candidate"], result["champion"]
            spread = cand["holdout_accuracy"] * (1 - cand["holdout_accuracy"])
            spread += champ["holdout_accuracy"] * (1 - champ["holdout_accuracy"])
            chance = 1.645 * (spread / cand["holdout_rows"]) ** 0.5
            assert cand["holdout_accuracy"] - champ["holdout_accuracy"] < chance, (kind, cand, champ)
            outcomes[kind] = (
                f"gate refused (holdout {result['candidate']['holdout_accuracy']:.2f} "
                f"vs {result['champion']['holdout_accuracy']:.2f})"
            )
        lost += registry.production("m") != production or registry.versions("m") != versions
        passes += 1
    # The jobs are handled (decision log) before the breaker is asked.
    wait_until(lambda: not daemon.store.jobs.unhandled_finished(), 30, "the jobs to be handled")
    breaker = requests.get(url + "/api/v1/models/m/breaker").json()
    assert breaker["open"] and breaker["consecutive_failures"] == len(KINDS), breaker
    refused = trigger(url)
    assert not refused["queued"] and "a person must reset it" in refused["reason"]
    # Still open later: only a person closes it.
    daemon.clock = lambda: time.time() + 7 * 86400
    daemon.rules.clock = daemon.clock
    assert not trigger(url)["queued"]
    daemon.clock = daemon.rules.clock = time.time
    reset = requests.post(
        url + "/api/v1/models/m/breaker/reset",
        json={"reason": "fixed the feed", "by": "test"},
        headers=auth(),
    )
    assert reset.status_code == 200 and reset.json()["open"] is False
    again = trigger(url)
    assert again["queued"]
    requests.post(url + f"/api/v1/jobs/{again['job']}/cancel", headers=auth())
    assert registry.production("m") == production and registry.versions("m") == versions
    assert daemon.store.promotions.list("m") == []
    report.record(
        "corrupt training data",
        trials=len(kinds),
        faults=len(kinds),
        passes=passes,
        lost=lost,
        note="; ".join(f"{k}: {v}" for k, v in outcomes.items()) + f"; breaker open after {len(KINDS)}",
    )
