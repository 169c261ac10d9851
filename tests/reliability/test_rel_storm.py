"""Webhook storm: a burst of alerts across many models, with duplicates and out-of-order notices.

The real daemon (HTTP API, SQLite, job supervisor and real worker processes) receives
``STORM_ALERTS`` Alertmanager and Grafana notifications (default 1000) for ``STORM_MODELS``
models (default 50) within ``STORM_SECONDS`` (default 30: twice the rate of 1000 a minute),
from four senders that retry a 503 as Alertmanager does. Among them: re-sends of an episode
(duplicates), episodes whose ``resolved`` notice comes before any ``firing`` one, late
``resolved`` notices, and episodes whose ``startsAt`` are out of order.

Pass criterion: no notice is lost; every episode first seen firing is acted on exactly once
(one guard decision, at most one job), one first seen resolved never; the guards hold (jobs per
model within the budget, models within the blast radius, jobs at once within the concurrency
limit) and every refusal is recorded as rate-limited in the decision log; and ``/healthz``
stays responsive: its p99 during the storm is at most ``max(10 x idle p99, 250 ms)``.

Other seeds and counts: ``RELIABILITY_SEED=7 STORM_ALERTS=2000 STORM_MODELS=80 make test-reliability``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pytest
import requests

from tests.reliability.support_http import empty_server
from tests.reliability.support_state import env_int, seed
from tests.support.alerting import TOKEN, start_daemon, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.reliability

RULES = """\
rules:
  - name: drift-alert
    source: alert
    match: {alertname: ModelFeatureDrift}
    cooldown: 0s
    actions: [{pipeline: retrain}]
"""
GUARDS = {
    "concurrency": 2,
    "daily_budget": 2,
    "blast_radius": 10,
    "blast_radius_window": "1h",
    "breaker_threshold": 100_000,  # these workers all fail; the breaker is not what is tested here
}
SENDERS = 4
FLOOR_SECONDS = 0.25


@dataclass(frozen=True)
class Notice:
    episode: str
    model: str
    source: str
    status: str
    starts_at: str


def plan_storm(rng: random.Random, alerts: int, models: int) -> tuple[list[Notice], dict[str, str]]:
    """The notices to send, and each episode's expected fate (``firing`` or ``resolved`` first)."""
    names = [f"m{i:03d}" for i in range(models)]
    episodes = max(1, int(alerts * 0.55))
    first: dict[str, str] = {}
    per_episode: dict[str, list[Notice]] = {}
    base = 1_795_000_000
    for e in range(episodes):
        eid = f"e{e:05d}"
        model, source = rng.choice(names), ("grafana" if rng.random() < 0.2 else "alertmanager")
        starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + rng.randrange(0, 86_400)))
        kind = "resolved" if rng.random() < 0.1 else "firing"
        make = lambda status, eid=eid, model=model, source=source, starts=starts: Notice(  # noqa: E731
            eid, model, source, status, starts
        )
        per_episode[eid] = [make("resolved"), make("firing")] if kind == "resolved" else [make("firing")]
        first[eid] = kind
    sent = sum(len(v) for v in per_episode.values())
    while sent < alerts:  # duplicates: re-sent firing notices, and late resolved ones
        eid = rng.choice(list(per_episode))
        notice = per_episode[eid][-1]
        status = "resolved" if rng.random() < 0.15 else "firing"
        per_episode[eid].append(Notice(eid, notice.model, notice.source, status, notice.starts_at))
        sent += 1
    # Episodes interleave at random; each episode's own notices keep their order.
    order = [eid for eid, notices in per_episode.items() for _ in notices]
    rng.shuffle(order)
    cursor: dict[str, int] = defaultdict(int)
    flat = []
    for eid in order:
        flat.append(per_episode[eid][cursor[eid]])
        cursor[eid] += 1
    return flat, first


def body(notice: Notice) -> bytes:
    alert = {
        "status": notice.status,
        "labels": {"alertname": "ModelFeatureDrift", "model": notice.model, "episode": notice.episode},
        "annotations": {"summary": "drift"},
        "startsAt": notice.starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": f"{int(notice.episode[1:]):016x}",
    }
    payload = {
        "version": "1" if notice.source == "grafana" else "4",
        "groupKey": f'{{}}:{{alertname="ModelFeatureDrift",model="{notice.model}"}}',
        "truncatedAlerts": 0,
        "status": notice.status,
        "receiver": "modelhealthd",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }
    if notice.source == "grafana":
        payload |= {"orgId": 1, "title": "drift", "state": "alerting", "message": "drift"}
    return json.dumps(payload).encode()


class Sender(threading.Thread):
    """Sends its notices in order, paced over ``seconds``; retries 5xx and connection errors."""

    def __init__(self, url: str, notices: list[Notice], seconds: float):
        super().__init__(daemon=True)
        self.url, self.notices, self.seconds = url, notices, seconds
        self.lost: list[Notice] = []
        self.statuses: Counter[int] = Counter()

    def run(self) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        began = time.monotonic()
        for i, notice in enumerate(self.notices):
            time.sleep(max(0.0, began + i * self.seconds / max(1, len(self.notices)) - time.monotonic()))
            for attempt in range(6):
                try:
                    reply = session.post(
                        f"{self.url}/hooks/{notice.source}", data=body(notice), headers=headers, timeout=30
                    )
                    self.statuses[reply.status_code] += 1
                    if reply.status_code == 202:
                        break
                    if reply.status_code < 500:
                        self.lost.append(notice)  # a sender drops a 4xx
                        break
                except requests.RequestException:
                    self.statuses[0] += 1
                time.sleep(0.2 * (attempt + 1))
            else:
                self.lost.append(notice)


class Prober(threading.Thread):
    """GET /healthz every 25 ms until stopped; keeps each latency in seconds."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failures = 0

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.wait(0.025):
            started = time.perf_counter()
            try:
                ok = session.get(self.url + "/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            self.latencies.append(time.perf_counter() - started)
            self.failures += not ok


def _probe(url: str, seconds: float) -> Prober:
    prober = Prober(url)
    prober.start()
    time.sleep(seconds)
    prober.stop.set()
    prober.join(15)
    return prober


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


@pytest.fixture
def server_url():
    with empty_server() as url:
        yield url


def test_an_alert_storm_acts_once_per_episode_within_the_guards(tmp_path, server_url, report) -> None:
    alerts, models = env_int("STORM_ALERTS", 1000), env_int("STORM_MODELS", 50)
    seconds = float(env_int("STORM_SECONDS", 30))
    rng = random.Random(seed())
    notices, first = plan_storm(rng, alerts, models)
    names = tuple(sorted({n.model for n in notices}))
    config = write_config(
        tmp_path,
        server_url,
        rules=RULES,
        models=names,
        guards=GUARDS,
        jobs={"concurrency": 2, "heartbeat_timeout": "30s"},
        api={"listen": f"127.0.0.1:{_free_port()}", "token": TOKEN, "max_body_bytes": 65536},
    )
    daemon, url = start_daemon(config)
    try:
        wait_until(lambda: len(daemon.store.checks.list(limit=1000)) >= len(names), 60, "the first checks")
        idle = _probe(url, 5.0)
        prober = Prober(url)
        prober.start()
        senders = [Sender(url, q, seconds) for q in _split(notices)]
        started = time.monotonic()
        for s in senders:
            s.start()
        for s in senders:
            s.join(seconds + 300)
        sent_in = time.monotonic() - started
        prober.stop.set()
        prober.join(15)
        wait_until(
            lambda: not daemon.store.jobs.active() and not daemon.intake.log.queued(),
            120,
            "every job to finish and every alert to be acted on",
        )
        guard_decisions = daemon.store.decisions.list(kind="guard", limit=1_000_000)
        jobs = daemon.store.jobs.list(limit=1_000_000)
        stored = daemon.intake.log.list(limit=1_000_000)
    finally:
        daemon.stop(grace=10)

    lost = [n for s in senders for n in s.lost]
    assert not lost, f"{len(lost)} notices were never accepted: {lost[:5]}"
    assert all(not t.is_alive() for t in senders), "a sender did not finish"
    # Every episode is stored once, whatever the number of deliveries.
    episodes = {(a.source, a.fingerprint, a.starts_at) for a in stored}
    assert len(stored) == len(episodes) == len(first)

    acted = Counter(d.data["proposal"]["labels"]["episode"] for d in guard_decisions)
    by_episode = Counter(j.trigger["labels"]["episode"] for j in jobs)
    firing_first = {e for e, kind in first.items() if kind == "firing"}
    assert set(acted) == firing_first and set(acted.values()) == {1}, "an episode was acted on twice or never"
    assert set(by_episode) <= firing_first and max(by_episode.values()) == 1, "an episode started two jobs"

    # The guards held.
    per_model = Counter(j.model for j in jobs)
    assert max(per_model.values()) <= GUARDS["daily_budget"]
    assert len(per_model) <= GUARDS["blast_radius"]
    spans = [(j.created_at, j.finished_at) for j in jobs]
    assert all(end is not None for _, end in spans)
    overlap = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert overlap <= GUARDS["concurrency"], f"{overlap} jobs active at once"

    # The excess is recorded as rate-limited; nothing else refused them.
    refused = [d for d in guard_decisions if not d.data["allowed"]]
    assert all(d.data["rate_limited"] and d.message.startswith("rate-limited: ") for d in refused)
    assert len(refused) + len(jobs) == len(firing_first)
    limits = Counter(d.data["verdicts"][-1]["guard"] for d in refused)

    # Responsive: /healthz p99 against the idle baseline of this run.
    bound = max(10 * p99(idle.latencies), FLOOR_SECONDS)
    busy = p99(prober.latencies)
    assert idle.failures == 0 and prober.failures == 0
    assert busy <= bound, f"/healthz p99 {busy * 1000:.1f} ms under the storm; bound {bound * 1000:.1f} ms"

    resolved_first = len(first) - len(firing_first)
    report.record(
        "webhook storm and duplicates",
        trials=len(notices),
        faults=len(notices) - len(firing_first),  # duplicates and resolved notices
        passes=len(notices) - len(lost),
        lost=len(lost),
        note=(
            f"seed {seed()}: {len(notices)} notices for {len(names)} models in {sent_in:.0f}s, "
            f"{len(first)} episodes ({resolved_first} resolved first), {len(jobs)} jobs, "
            f"{len(refused)} rate-limited {dict(limits)}; /healthz p99 idle "
            f"{p99(idle.latencies) * 1000:.1f} ms, storm {busy * 1000:.1f} ms (bound {bound * 1000:.0f} ms)"
        ),
    )


def _split(notices: list[Notice]) -> list[list[Notice]]:
    """One sender carries all of an episode's notices, so they arrive in order."""
    queues: list[list[Notice]] = [[] for _ in range(SENDERS)]
    for notice in notices:
        queues[int(notice.episode[1:]) % SENDERS].append(notice)
    return queues


def _free_port() -> int:
    from tests.support.alerting import free_port

    return free_port()
