"""``modelhealthd demo``: the whole loop on the built-in digits demo."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(
            Path("demo-out"), "--out", help="Folder for the artefacts (and the demo's state)."
        ),
        timeout: float = typer.Option(300.0, "--timeout", help="Give up after this many seconds."),
        rate: float = typer.Option(10.0, "--rate", help="Traffic, in predictions per second."),
        state: str | None = typer.Option(
            None,
            "--state",
            help="State store URL, e.g. postgresql://user@host/db (default: a new SQLite file in --out).",
        ),
        reset_state: bool = typer.Option(
            False, "--reset-state", help="Empty modelhealthd's tables in the --state store first."
        ),
    ) -> None:
        """Train a digits model, serve it, drift the traffic, and watch modelhealthd retrain and promote."""
        import os

        os.environ.setdefault("DO_NOT_TRACK", "1")
        from monitor.cli.common import fail
        from monitor.demo.run import run_demo
        from monitor.state.store import StateError

        try:
            summary = run_demo(out, timeout=timeout, rate=rate, state=state, reset_state=reset_state)
        except StateError as exc:
            raise fail(str(exc), 2) from None
        raise typer.Exit(0 if summary.finished else 1)
