"""Tables of the state store. ``SCHEMA_VERSION`` is checked on open and migrated forward."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

SCHEMA_VERSION = 2  # monitor/state/migrations.py brings older stores forward

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

checks = Table(
    "checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(64), nullable=False),
    Column("version", String(16)),
    Column("at", Float, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("error", Text),
    Column("measurements", Text, nullable=False),  # JSON: name -> value or null
    Column("details", Text, nullable=False),  # JSON: per-feature drift, sources, report path
    Index("ix_checks_model_at", "model", "at"),
)

rule_states = Table(
    "rule_states",
    metadata,
    Column("rule", String(128), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("state", Text, nullable=False),  # JSON from rules.state_machine.RuleState.to_json
    Column("updated_at", Float, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String(64), nullable=False),
    Column("pipeline", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("rule", String(128)),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("heartbeat_at", Float),
    Column("progress", Text),
    Column("result", Text),
    Column("error", Text),
    Column("champion_version", String(16)),
    Column("candidate_version", String(16)),
    Column("handled_at", Float),
    Index("ix_jobs_model_state", "model", "state"),
    Index("ix_jobs_state_created", "state", "created_at"),
)

promotions = Table(
    "promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(64), nullable=False),
    Column("from_version", String(16)),
    Column("to_version", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # promote | rollback
    Column("state", String(16), nullable=False),  # intent | done | aborted
    Column("job_id", String(32)),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("reload", Text),
    Index("ix_promotions_model", "model", "id"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("model", String(64)),
    Column("rule", String(128)),
    Column("job_id", String(32)),
    Column("message", Text, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_decisions_model_id", "model", "id"),
    Index("ix_decisions_kind_id", "kind", "id"),
)

labels = Table(
    "labels",
    metadata,
    Column("model", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("label", Text, nullable=False),  # JSON scalar
    Column("at", Float, nullable=False),
    Index("ix_labels_model_at", "model", "at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("starts_at", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("payload", Text, nullable=False),
    Column("processed", Integer, nullable=False, default=0),
    UniqueConstraint("source", "group_key", "fingerprint", "starts_at", name="uq_alert_episode"),
)
