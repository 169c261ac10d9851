"""The alert log: every alert episode the webhooks delivered, stored once.

An episode is (source, groupKey, fingerprint, startsAt). Alertmanager delivers at least once,
so the same episode arrives again on every retry; the ``alerts`` table's unique key makes the
first delivery the only one that can queue work. ``processed`` moves 0 (queued) -> 2 (claimed
by the one thread acting on it) -> 1 (done). An episode whose first notice is ``resolved``
(notices out of order) is stored done: a late ``firing`` notice of it starts nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import desc, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from monitor.state.schema import alerts

QUEUED, DONE, CLAIMED = 0, 1, 2
Received = Literal["new", "duplicate"]


@dataclass(frozen=True)
class StoredAlert:
    """One episode as stored; ``payload`` is the alert with the group's ``groupKey`` and ``receiver``."""

    id: int
    source: str
    group_key: str
    fingerprint: str
    starts_at: str
    status: str
    received_at: float
    payload: dict[str, Any]
    processed: int

    @property
    def pending(self) -> bool:
        return self.processed == QUEUED

    def to_json(self) -> dict[str, Any]:
        state = {QUEUED: "queued", DONE: "done", CLAIMED: "claimed"}.get(self.processed, "?")
        return {
            "id": self.id,
            "source": self.source,
            "group_key": self.group_key,
            "fingerprint": self.fingerprint,
            "starts_at": self.starts_at,
            "status": self.status,
            "received_at": self.received_at,
            "state": state,
            "labels": self.payload.get("labels", {}),
        }


def _stored(row: Any) -> StoredAlert:
    return StoredAlert(
        row.id,
        row.source,
        row.group_key,
        row.fingerprint,
        row.starts_at,
        row.status,
        row.received_at,
        json.loads(row.payload),
        row.processed,
    )


class AlertsRepo:
    """The alert log, reached as ``store.alerts``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def _key(self, source: str, group_key: str, fingerprint: str, starts_at: str) -> ColumnElement[bool]:
        return (
            (alerts.c.source == source)
            & (alerts.c.group_key == group_key)
            & (alerts.c.fingerprint == fingerprint)
            & (alerts.c.starts_at == starts_at)
        )

    def receive(
        self,
        source: str,
        group_key: str,
        fingerprint: str,
        starts_at: str,
        status: str,
        payload: dict[str, Any],
        now: float,
    ) -> tuple[Received, StoredAlert]:
        """Store an episode's notice; ``new`` the first time it is seen, else ``duplicate``.

        A ``resolved`` notice of a stored episode updates its status; nothing else changes.
        """
        key = self._key(source, group_key, fingerprint, starts_at)
        values: dict[str, Any] = {
            "source": source,
            "group_key": group_key,
            "fingerprint": fingerprint,
            "starts_at": starts_at,
            "status": status,
            "received_at": now,
            "payload": json.dumps(payload, sort_keys=True),
            "processed": QUEUED if status == "firing" else DONE,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(alerts.insert().values(**values))
                outcome: Received = "new"
        except IntegrityError:  # stored before, perhaps by a concurrent retry
            outcome = "duplicate"
            if status == "resolved":
                with self.engine.begin() as conn:
                    conn.execute(update(alerts).where(key).values(status="resolved"))
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(key)).one()
        return outcome, _stored(row)

    def claim(self, alert_id: int) -> bool:
        """Take a queued episode for acting on it; False when another thread has it or it is done."""
        return self._move(alert_id, QUEUED, CLAIMED)

    def release(self, alert_id: int) -> bool:
        """Give a claimed episode back (nothing was queued for it) so that it is tried again."""
        return self._move(alert_id, CLAIMED, QUEUED)

    def done(self, alert_id: int) -> bool:
        return self._move(alert_id, CLAIMED, DONE)

    def _move(self, alert_id: int, before: int, after: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(alerts)
                .where((alerts.c.id == alert_id) & (alerts.c.processed == before))
                .values(processed=after)
            )
            return result.rowcount == 1

    def queued(self, limit: int = 100) -> list[StoredAlert]:
        """Episodes stored but not yet acted on, oldest first."""
        query = select(alerts).where(alerts.c.processed == QUEUED).order_by(alerts.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]

    def list(self, source: str | None = None, limit: int = 100) -> list[StoredAlert]:
        query = select(alerts).order_by(desc(alerts.c.id)).limit(limit)
        if source:
            query = query.where(alerts.c.source == source)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]
