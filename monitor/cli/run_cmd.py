"""``modelhealthd run``: the daemon in the foreground (systemd runs exactly this)."""

from __future__ import annotations

from pathlib import Path

import typer

from monitor.cli.common import ConfigOption, config_or_exit, fail


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Path = ConfigOption,
        log_format: str = typer.Option("json", "--log-format", help="json (for journald) or text."),
        log_level: str = typer.Option("INFO", "--log-level"),
    ) -> None:
        """Run the daemon: scheduled checks, rules, jobs and the HTTP API, until SIGTERM."""
        from monitor.daemon.wiring import build_daemon
        from monitor.decide.rule_runner import RulesLoadError
        from monitor.logs import setup_logging
        from monitor.state.store import StateError

        setup_logging(log_format, log_level.upper())
        cfg = config_or_exit(config)
        try:
            daemon = build_daemon(cfg, config)
        except (RulesLoadError, StateError) as exc:
            raise fail(str(exc), 2) from None
        try:
            daemon.start()
        except StateError as exc:  # another daemon holds the state store
            raise fail(str(exc), 2) from None
        except RuntimeError as exc:
            daemon.stop(0)
            raise fail(str(exc)) from None
        daemon.run_forever()
