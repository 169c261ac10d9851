"""``modelhealthd state info|migrate|backup|restore``: the state store, for operators.

Exit codes: 0 done; 1 failed (unreadable store or backup, I/O error); 2 bad usage or config;
3 refused because a daemon holds the store (stop it first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from monitor.cli.common import ConfigOption, config_or_exit, fail, print_json
from rules.durations import format_time

EXIT_LOCKED = 3


def _info(url: str) -> dict[str, Any]:
    from monitor.state import schema
    from monitor.state.daemon_lock import holder
    from monitor.state.store import StateStore, display_url

    store = StateStore.open(url)
    try:
        meta = store.meta.values()
        rows = store.meta.row_counts()
        size = store.meta.size_bytes()
    finally:
        store.close()
    return {
        "url": display_url(url),
        "schema_version": meta.get("schema_version"),
        "supported_schema_version": schema.SCHEMA_VERSION,
        "migrations": {k: v for k, v in meta.items() if k.startswith("migration_")},
        "restored_from": meta.get("restored_from"),
        "size_bytes": size,
        "daemon": holder(url),
        "rows": rows,
    }


def _history_lines(data: dict[str, Any]) -> list[str]:
    """When each migration ran and what the store was restored from, for people (RFC 3339)."""
    lines = []
    applied = [
        (int(key.removeprefix("migration_")), entry)
        for key, entry in data["migrations"].items()
        if key.removeprefix("migration_").isdigit() and isinstance(entry, dict)
    ]
    if applied:
        shown = ", ".join(f"v{n} at {format_time(e.get('applied_at'))}" for n, e in sorted(applied))
        lines.append(f"migrated   {shown}")
    restored = data.get("restored_from")
    if isinstance(restored, dict):
        lines.append(
            f"restored   from {restored.get('file', '?')} at {format_time(restored.get('restored_at'))} "
            f"(a backup of {restored.get('source', '?')} made {format_time(restored.get('created_at'))})"
        )
    return lines


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The state store: schema version, migrations, backup and restore.", no_args_is_help=True
    )
    app.add_typer(group, name="state")

    @group.command("info")
    def info(config: Path = ConfigOption, as_json: bool = typer.Option(False, "--json")) -> None:
        """Show the store's location, schema version, size, row counts and whether a daemon holds it."""
        from monitor.state.store import StateError

        cfg = config_or_exit(config)
        try:
            data = _info(cfg.state)
        except StateError as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(data)
            return
        print(f"store      {data['url']}")
        print(
            f"schema     v{data['schema_version']} (this modelhealthd: v{data['supported_schema_version']})"
        )
        print(f"size       {data['size_bytes'] if data['size_bytes'] is not None else '-'} bytes")
        print(f"daemon     {data['daemon'] or 'none holds the store'}")
        print("rows       " + ", ".join(f"{k} {v}" for k, v in sorted(data["rows"].items())))
        for line in _history_lines(data):
            print(line)

    @group.command("migrate")
    def migrate(config: Path = ConfigOption, as_json: bool = typer.Option(False, "--json")) -> None:
        """Bring the store's schema up to this version (the daemon also does this when it starts)."""
        from monitor.state.store import StateError

        cfg = config_or_exit(config)
        try:
            data = _info(cfg.state)
        except StateError as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json({"schema_version": data["schema_version"], "migrations": data["migrations"]})
        else:
            print(f"{data['url']}: schema v{data['schema_version']}")

    @group.command("backup")
    def backup_command(
        file: Path = typer.Argument(
            ..., help="Where to write the backup (one SQLite file, whichever database the store is in)."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Copy the store (and every model's production pointer) to FILE; safe while the daemon runs."""
        from monitor.state.backup import backup
        from monitor.state.store import StateError, display_url
        from reoptimize.registry.backends import open_registry

        cfg = config_or_exit(config)
        try:
            info = backup(cfg.state, file, open_registry(cfg.registry.settings()), overwrite=force)
        except (StateError, OSError) as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(info.to_json() | {"file": str(file)})
        else:
            print(
                f"backed up {display_url(cfg.state)} (schema v{info.schema_version}, {len(info.pointers)} model(s)) to {file}"
            )

    @group.command("restore")
    def restore_command(
        file: Path = typer.Argument(..., help="A file written by `modelhealthd state backup`."),
        pointers: bool = typer.Option(
            False, "--pointers", help="Also move production pointers back to the backup's versions."
        ),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Replace the store with FILE. Refuses (exit 3) while a daemon runs; stop it first."""
        from monitor.state.backup import restore
        from monitor.state.daemon_lock import StoreLockedError
        from monitor.state.store import StateError, display_url
        from reoptimize.registry.backends import open_registry

        cfg = config_or_exit(config)
        try:
            result = restore(
                cfg.state, file, open_registry(cfg.registry.settings()), restore_pointers=pointers
            )
        except StoreLockedError as exc:
            raise fail(str(exc), EXIT_LOCKED) from None
        except (StateError, OSError) as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(result.to_json())
            return
        made = f"a backup of {result.info.source} made {format_time(result.info.created_at)}"
        print(f"restored {file} ({made}) into {display_url(cfg.state)} (schema v{result.schema_version})")
        if result.saved_current:
            print(f"the store as it was is saved in {result.saved_current}")
        for model, (now, then) in sorted(result.pointer_changes.items()):
            if model in result.pointers_moved:
                print(f"{model}: production moved back from v{now} to v{then}")
            else:
                print(
                    f"{model}: production is v{now}, the backup had v{then} ({result.pointers_left[model]})"
                )
