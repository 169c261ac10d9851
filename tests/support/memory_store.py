"""A state store in memory, shared by every thread of the test: the real repositories and schema
on SQLite's in-memory database, for tests that need a store but no file."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from monitor.state.store import StateStore, migrate


def memory_store() -> StateStore:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    migrate(engine)
    return StateStore(engine)
