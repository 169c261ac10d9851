"""The state store on a real SQLite file and a real PostgreSQL database: schema version, job
transitions, labels, rule states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from monitor.state.store import StateError, StateStore


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = StateStore.open(store_url)
    yield opened
    opened.close()


def test_job_lifecycle_is_guarded(store: StateStore) -> None:
    job = store.jobs.create("m", "retrain", {"max_epochs": 3}, {"rule": "drift"}, now=1.0, rule="drift")
    assert job.state == "queued" and job.params == {"max_epochs": 3}
    assert store.jobs.mark_running(job.id, 2.0)
    assert not store.jobs.mark_running(job.id, 2.5)  # only a queued job can start
    assert store.jobs.heartbeat(job.id, 3.0, {"epoch": 1})
    assert store.jobs.finish(job.id, "succeeded", 4.0, result={"ok": True}, candidate_version="2")
    assert not store.jobs.finish(job.id, "failed", 5.0)  # a finished job stays finished
    assert not store.jobs.heartbeat(job.id, 6.0)
    done = store.jobs.get(job.id)
    assert done.state == "succeeded" and done.candidate_version == "2" and done.progress == {"epoch": 1}
    assert [j.id for j in store.jobs.unhandled_finished()] == [job.id]
    assert store.jobs.mark_handled(job.id, 7.0) and not store.jobs.mark_handled(job.id, 8.0)
    assert store.jobs.unhandled_finished() == []
    with pytest.raises(ValueError, match="not final"):
        store.jobs.finish(job.id, "running", 9.0)


def test_consecutive_failures_reset_by_success(store: StateStore) -> None:
    for i, state in enumerate(["failed", "succeeded", "failed", "timed_out", "cancelled"]):
        job = store.jobs.create("m", "retrain", {}, {}, now=float(i))
        store.jobs.finish(job.id, state, float(i))
    assert store.jobs.consecutive_failures("m") == 2


def test_labels_and_rule_states_upsert(store: StateStore) -> None:
    store.labels.add("m", [("r1", 3, 10.0), ("r2", "cat", 11.0)])
    store.labels.add("m", [("r1", 4, 12.0)])
    assert store.labels.since("m", 0) == {"r1": 4, "r2": "cat"}
    assert store.labels.since("m", 11.5) == {"r1": 4}
    store.rule_states.save("m", {"drift": {"state": "pending"}}, 1.0)
    store.rule_states.save("m", {"drift": {"state": "firing"}}, 2.0)
    assert store.rule_states.load("m") == {("drift", "m"): {"state": "firing"}}


def test_state_survives_reopen_and_refuses_newer_schema(store_url: str) -> None:
    url = store_url
    first = StateStore.open(url)
    first.decisions.append(1.0, "transition", "hello", model="m", data={"x": 1})
    first.close()
    second = StateStore.open(url)
    assert [d.message for d in second.decisions.list("m")] == ["hello"]
    with second.engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value='99' WHERE key='schema_version'"))
    second.close()
    with pytest.raises(StateError, match="newer than this modelhealthd"):
        StateStore.open(url)
