"""Helpers shared by the reliability scenarios: the seed, a digest of all durable state, metrics.

``RELIABILITY_SEED`` picks the random choices of every scenario (default 0), so a failure can
be replayed and other seeds can be tried: ``RELIABILITY_SEED=7 make test-reliability``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, create_engine, select


def seed() -> int:
    return int(os.environ.get("RELIABILITY_SEED", "0"))


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def store_digest(state_url: str) -> dict[str, str]:
    """sha256 of every table of the state store, rows in primary-key order."""
    engine = create_engine(state_url)
    meta = MetaData()
    meta.reflect(engine)
    out = {}
    try:
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(select(table).order_by(*order)).all()
                text = json.dumps([list(r) for r in rows], default=str, sort_keys=True)
                out[name] = hashlib.sha256(text.encode()).hexdigest()
    finally:
        engine.dispose()
    return out


def registry_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under the registry (the production pointers included)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def state_digest(state_url: str, registry: Path) -> dict[str, dict[str, str]]:
    """Everything durable the daemon owns: the state store's tables and the registry's files."""
    return {"store": store_digest(state_url), "registry": registry_digest(registry)}


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one series in a Prometheus text exposition, or None when it is absent."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None
