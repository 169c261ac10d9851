"""A portable copy of the store's tables between any database and a SQLite backup file.

The tables are read back from the database itself (not from ``schema.py``), so a store at an
older schema version is copied as it is and migrated forward only when it is opened. Column
types are reduced to their generic SQLAlchemy forms (VARCHAR, TEXT, INTEGER, FLOAT), which
both SQLite and PostgreSQL create the same way as a fresh store does, and server-side
defaults (PostgreSQL's sequences) are left behind: the rows carry their ids.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Index, MetaData, Table, UniqueConstraint, create_engine, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from monitor.state.errors import StateError

BATCH_ROWS = 1000


def _portable_type(table: str, column: str, kind: TypeEngine[Any]) -> TypeEngine[Any]:
    try:
        generic: TypeEngine[Any] = kind.as_generic()
    except NotImplementedError:
        raise StateError(f"column {table}.{column} has type {kind!r}, which has no portable form") from None
    if isinstance(generic, Float):
        return Float()  # DOUBLE PRECISION and FLOAT alike
    return generic


def portable_tables(tables: Iterable[Table]) -> MetaData:
    """Copies of ``tables`` (columns, keys, unique constraints, indexes) with generic types."""
    out = MetaData()
    for table in tables:
        columns = [
            Column(
                c.name,
                _portable_type(table.name, c.name, c.type),
                primary_key=c.primary_key,
                nullable=c.nullable,
            )
            for c in table.columns
        ]
        uniques = [
            UniqueConstraint(*[c.name for c in u.columns], name=u.name)
            for u in table.constraints
            if isinstance(u, UniqueConstraint)
        ]
        copy = Table(table.name, out, *columns, *uniques)
        for index in table.indexes:
            Index(index.name, *[copy.c[c.name] for c in index.columns], unique=index.unique)
    return out


def reflect(conn: Connection, names: Collection[str] | None = None) -> MetaData:
    """The tables of ``conn``'s database (only ``names`` that exist, when given)."""
    present = inspect(conn).get_table_names()
    metadata = MetaData()
    metadata.reflect(conn, only=[n for n in present if names is None or n in names])
    return metadata


def copy_rows(source: Connection, table: Table, target: Connection, into: Table) -> int:
    """Insert every row of ``table`` (read through ``source``) into ``into``, in batches."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = source.execution_options(yield_per=BATCH_ROWS).execute(select(table).order_by(*order))
    count = 0
    for part in result.partitions():
        target.execute(into.insert(), [dict(row._mapping) for row in part])
        count += len(part)
    return count


def dump(source: Connection, names: Collection[str], dest: Path) -> None:
    """Write the tables ``names`` of ``source`` (as one snapshot: run it in one transaction) to the
    new file ``dest``."""
    if dest.exists():
        raise StateError(f"{dest} already exists; a dump is written to a new file only")
    tables = reflect(source, names)
    if "meta" not in tables.tables:
        raise StateError("there is no modelhealthd state store in that database (no meta table)")
    copies = portable_tables(tables.sorted_tables)
    engine = create_engine(f"sqlite:///{dest}", poolclass=NullPool)
    try:
        with engine.begin() as out:
            copies.create_all(out)
            for table in tables.sorted_tables:
                copy_rows(source, table, out, copies.tables[table.name])
    finally:
        engine.dispose()


def load(src: Path, target: Connection, ours: Collection[str]) -> MetaData:
    """Replace the tables of ``target`` named in ``ours`` or in the file ``src`` with the file's.

    Run it in one transaction on a database with transactional DDL (PostgreSQL), so a failure
    leaves the store as it was. Returns the tables as created in ``target``.
    """
    engine = create_engine(f"sqlite:///file:{src}?mode=ro&uri=true", poolclass=NullPool)
    try:
        with engine.connect() as source:
            tables = reflect(source)
            reflect(target, set(ours) | set(tables.tables)).drop_all(target)
            copies = portable_tables(tables.sorted_tables)
            copies.create_all(target)
            for table in tables.sorted_tables:
                copy_rows(source, table, target, copies.tables[table.name])
    finally:
        engine.dispose()
    return copies
