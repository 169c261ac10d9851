"""``modelhealthd decisions``: the decision log, the answer to "why did my model change?".

Reads the state store named by the config directly, so it works whether or not the daemon
runs (``GET /api/v1/decisions`` serves the same entries over HTTP).
"""

from __future__ import annotations

from pathlib import Path

import typer

from monitor.cli.common import EXIT_USAGE, ConfigOption, config_or_exit, fail, print_json
from rules.decisions import KINDS
from rules.durations import format_time


def register(app: typer.Typer) -> None:
    @app.command("decisions")
    def decisions(
        model: str | None = typer.Option(None, "--model", "-m", help="Only this model's entries."),
        kind: str | None = typer.Option(None, "--kind", "-k", help=f"Only one kind: {', '.join(KINDS)}."),
        job: str | None = typer.Option(None, "--job", help="Only entries about this job id."),
        limit: int = typer.Option(
            50, "--limit", "-n", min=1, max=100_000, help="At most this many, newest first."
        ),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON, as the API does."),
    ) -> None:
        """Show the decision log: rule transitions, guard verdicts, alerts, jobs, gate verdicts,
        promotions, rollbacks and breaker resets, newest first, each with its inputs (--json)."""
        from monitor.state.store import StateError, StateStore

        if kind is not None and kind not in KINDS:
            raise fail(f"--kind: got {kind!r}; expected one of {', '.join(KINDS)}", EXIT_USAGE)
        cfg = config_or_exit(config)
        if model is not None and model not in {m.name for m in cfg.models}:
            known = ", ".join(m.name for m in cfg.models) or "none"
            raise fail(f"--model: no model named {model!r} in {config} (known: {known})", EXIT_USAGE)
        try:
            store = StateStore.open(cfg.state)
        except StateError as exc:
            raise fail(str(exc)) from None
        try:
            entries = store.decisions.list(model, kind, job, limit)
        finally:
            store.close()
        if as_json:
            print_json([d.to_json() for d in entries])
            return
        if not entries:
            print("no decisions recorded" + (f" for {model}" if model else ""))
            return
        for d in entries:
            where = d.model or "-"
            print(f"{format_time(d.at)}  {d.kind:<10} {where:<16} {d.message}")
