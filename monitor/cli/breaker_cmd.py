"""``modelhealthd breaker status|reset``: see and close the circuit breakers of automatic jobs.

A model's breaker opens after ``guards.breaker_threshold`` failed jobs in a row and then
refuses every automatic job for it until a person resets it. A reset is a ``reset`` entry in
the decision log, written to the state store the daemon reads: failures before it no longer
count, and the daemon sees it at the next proposal (``POST /api/v1/models/{m}/breaker/reset``
does the same over HTTP).
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import EXIT_USAGE, ConfigOption, config_or_exit, fail, print_json
from monitor.config import Config

if TYPE_CHECKING:
    from monitor.state.store import StateStore


def _open_store(cfg: Config) -> StateStore:
    from monitor.state.store import StateError, StateStore

    try:
        return StateStore.open(cfg.state)
    except StateError as exc:
        raise fail(str(exc)) from None


def _check_model(cfg: Config, model: str, config: Path) -> None:
    if model not in {m.name for m in cfg.models}:
        known = ", ".join(m.name for m in cfg.models) or "none"
        raise fail(f"no model named {model!r} in {config} (known: {known})", EXIT_USAGE)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="See and reset the circuit breakers that stop automatic jobs.", no_args_is_help=True
    )
    app.add_typer(group, name="breaker")

    @group.command("status")
    def status(
        model: str | None = typer.Argument(None, help="One model; all models when omitted."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show whether each model's breaker is open and how many jobs failed in a row."""
        from monitor.decide.guard_context import StoreGuardContext
        from monitor.decide.rule_runner import guard_settings
        from rules.guards import CircuitBreakerGuard

        cfg = config_or_exit(config)
        if model is not None:
            _check_model(cfg, model, config)
        settings = guard_settings(cfg)
        guard = CircuitBreakerGuard(settings.breaker_threshold, settings.breaker_reset_s)
        store = _open_store(cfg)
        try:
            ctx, now = StoreGuardContext(store), time.time()
            rows = [
                {
                    "model": name,
                    "open": guard.is_open(name, ctx, now),
                    "consecutive_failures": ctx.consecutive_failures(name),
                    "threshold": guard.threshold,
                }
                for name in ([model] if model else [m.name for m in cfg.models])
            ]
        finally:
            store.close()
        if as_json:
            print_json(rows)
            return
        for row in rows:
            state = "OPEN" if row["open"] else "closed"
            print(
                f"{row['model']:24} {state:7} {row['consecutive_failures']}/{row['threshold']} failed in a row"
            )

    @group.command("reset")
    def reset(
        model: str = typer.Argument(..., help="The model whose breaker to close."),
        reason: str = typer.Option("reset by hand", "--reason", help="Why; recorded in the decision log."),
        by: str | None = typer.Option(None, "--by", help="Who; defaults to cli:<user>."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Close MODEL's circuit breaker: earlier failed jobs stop counting. Recorded in the decision log."""
        from monitor.decide.guard_context import StoreGuardContext
        from rules.decisions import breaker_reset_decision

        cfg = config_or_exit(config)
        _check_model(cfg, model, config)
        who = by or f"cli:{getpass.getuser()}"
        store = _open_store(cfg)
        try:
            failures = StoreGuardContext(store).consecutive_failures(model)
            d = breaker_reset_decision(model, time.time(), who, reason, failures)
            store.decisions.append(d.at, d.kind, d.message, model=d.model, data=d.data)
        finally:
            store.close()
        if as_json:
            print_json(d.to_json())
        else:
            print(d.message)
