"""The alert log and the guard queries on both backends: what moved into monitor/state/ answers
the same on SQLite and PostgreSQL, including when concurrent deliveries race."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from monitor.decide.guard_context import StoreGuardContext
from monitor.state.alerts_repo import DONE
from monitor.state.store import StateStore


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = StateStore.open(store_url)
    yield opened
    opened.close()


def _receive(store: StateStore, status: str = "firing", fingerprint: str = "f1", now: float = 1.0):  # noqa: ANN202
    payload = {"labels": {"alertname": "Drift", "model": "m"}, "status": status}
    return store.alerts.receive(
        "alertmanager", "g", fingerprint, "2026-01-01T00:00:00Z", status, payload, now
    )


def test_an_episode_is_stored_once_and_moves_queued_claimed_done(store: StateStore) -> None:
    seen, first = _receive(store)
    assert seen == "new" and first.pending and first.payload["labels"]["model"] == "m"
    again, same = _receive(store, now=2.0)
    assert again == "duplicate" and same.id == first.id and same.received_at == 1.0
    assert [a.id for a in store.alerts.queued()] == [first.id]
    assert store.alerts.claim(first.id) and not store.alerts.claim(first.id)
    assert store.alerts.release(first.id) and store.alerts.claim(first.id)
    assert store.alerts.done(first.id) and not store.alerts.done(first.id)
    assert store.alerts.queued() == []
    resolved, after = _receive(store, status="resolved", now=3.0)
    assert resolved == "duplicate" and after.status == "resolved" and after.processed == DONE
    late_seen, late = _receive(store, status="resolved", fingerprint="f2")
    assert late_seen == "new" and late.processed == DONE  # resolved before it was seen firing
    assert [a.fingerprint for a in store.alerts.list("alertmanager")] == ["f2", "f1"]
    assert store.alerts.list("grafana") == []


def test_concurrent_deliveries_of_one_episode_store_it_once(store: StateStore) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def deliver() -> None:
        start.wait(10)
        outcomes.append(_receive(store)[0])

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["duplicate"] * 5 + ["new"]
    (stored,) = store.alerts.list()
    claims = []
    claimers = [
        threading.Thread(target=lambda: claims.append(store.alerts.claim(stored.id))) for _ in range(6)
    ]
    for thread in claimers:
        thread.start()
    for thread in claimers:
        thread.join(30)
    assert sorted(claims) == [False] * 5 + [True]


def _job(
    store: StateStore, state: str, at: float, rule: str | None = None, candidate: str | None = None
) -> str:
    job = store.jobs.create("m", "retrain", {}, {}, now=at, rule=rule)
    if state != "queued":
        store.jobs.finish(job.id, state, at + 0.5, candidate_version=candidate)
    return job.id


def test_the_guard_context_reads_jobs_and_resets_from_the_store(store: StateStore) -> None:
    guards = StoreGuardContext(store)
    assert guards.last_action_at("drift", "m") is None and guards.consecutive_failures("m") == 0
    assert guards.last_failure_at("m") is None and guards.breaker_reset_at("m") is None
    _job(store, "succeeded", 10.0, rule="drift", candidate="2")  # staged: ends any run of failures
    _job(store, "failed", 20.0, rule="drift")
    _job(store, "succeeded", 30.0, rule="latency")  # refused by the gate: counts as a failure
    _job(store, "cancelled", 40.0)  # neither counts nor ends the run
    _job(store, "timed_out", 50.0)
    _job(store, "queued", 60.0, rule="drift")  # not finished: not an outcome yet
    assert guards.last_action_at("drift", "m") == 60.0 and guards.last_action_at("latency", "m") == 30.0
    assert guards.models_acted_since(30.0) == {"m"} and guards.models_acted_since(61.0) == set()
    assert guards.running_jobs("m") == 1 and guards.jobs_started_since("m", 25.0) == 4
    assert guards.consecutive_failures("m") == 3
    assert guards.last_failure_at("m") == 50.5

    store.decisions.append(35.0, "reset", "breaker reset by hand", model="m")
    store.decisions.append(99.0, "reset", "another model's reset", model="other")
    assert guards.breaker_reset_at("m") == 35.0
    assert guards.consecutive_failures("m") == 1  # only the time-out after the reset counts
    store.jobs.finish(_job(store, "queued", 70.0), "succeeded", 70.5, candidate_version="3")
    assert guards.consecutive_failures("m") == 0


def test_meta_and_sizes_are_read_through_the_store(store: StateStore) -> None:
    store.decisions.append(1.0, "transition", "one")
    assert store.meta.schema_version() >= 2 and store.meta.values()["schema_version"] >= 2
    assert store.meta.row_counts()["decisions"] == 1 and "meta" not in store.meta.row_counts()
    store.meta.put("note", {"a": 1})
    assert store.meta.get("note") == {"a": 1} and store.meta.get("absent") is None
    size = store.meta.size_bytes()
    assert size is not None and size > 0
