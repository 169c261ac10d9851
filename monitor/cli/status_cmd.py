"""``modelhealthd status``: every model's versions, health, firing rules and running jobs.

It reads the state store and registry named by the config (no daemon needed, so it works
while the daemon is down), or a running daemon's API with ``--api URL``.

Exit codes: 0 every model is healthy; 3 at least one model is not (unknown, failing, stale
or firing); 1 the store or the API cannot be read; 2 bad usage or config.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from monitor.cli.api_client import ApiAnswer, ApiOption, call_list, call_object
from monitor.cli.common import ConfigOption, config_or_exit, fail, print_json
from monitor.config import Config

if TYPE_CHECKING:
    from monitor.cli.operator_view import ModelStatus

EXIT_UNHEALTHY = 3


def _local(cfg: Config) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from monitor.cli.operator_view import local_summary
    from monitor.state.daemon_lock import holder
    from monitor.state.store import StateError, StateStore, display_url
    from reoptimize.registry.backends import open_registry

    try:
        store = StateStore.open(cfg.state)
    except StateError as exc:
        raise fail(str(exc)) from None
    registry = open_registry(cfg.registry.settings())
    try:
        names = sorted({m.name for m in cfg.models} | set(registry.models()))
        summaries = [local_summary(name, store, registry) for name in names]
        jobs = {j.id: j.to_json() for j in store.jobs.active()}
    finally:
        store.close()
    who = holder(cfg.state)
    daemon = {"running": who is not None, "holder": who, "source": display_url(cfg.state), "jobs": jobs}
    return summaries, daemon


def _remote(api: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        summaries = call_list("GET", api, "/api/v1/models")
        active = call_list("GET", api, "/api/v1/jobs", params={"state": "running"}) + call_list(
            "GET", api, "/api/v1/jobs", params={"state": "queued"}
        )
        ready = call_object("GET", api, "/readyz")
    except ApiAnswer as exc:
        raise fail(f"the daemon at {api} answered {exc}") from None
    daemon = {
        "running": True,
        "ready": ready.get("ready"),
        "source": api,
        "jobs": {j["id"]: j for j in active},
    }
    return summaries, daemon


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        config: Path = ConfigOption,
        api: str | None = ApiOption,
        as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    ) -> None:
        """Models with their versions, health, firing rules and running jobs. Exit 3 if any is unhealthy."""
        from monitor.cli.operator_view import HEALTHY, statuses

        if api:
            cfg = config_or_exit(config) if config.exists() else Config()
            summaries, daemon = _remote(api)
        else:
            cfg = config_or_exit(config)
            summaries, daemon = _local(cfg)
        now = time.time()
        models = statuses(cfg, summaries, now)
        unhealthy = [m.model for m in models if m.health != HEALTHY]
        if as_json:
            print_json({"daemon": daemon, "models": [m.to_json() for m in models], "unhealthy": unhealthy})
        else:
            _print(daemon, models, now)
        if unhealthy:
            raise typer.Exit(EXIT_UNHEALTHY)


def _print(daemon: dict[str, Any], models: list[ModelStatus], now: float) -> None:
    from monitor.cli.operator_view import age

    if "holder" in daemon:
        print(f"daemon: {'running, ' + daemon['holder'] if daemon['running'] else 'not running'}")
    else:
        print(f"daemon: {daemon['source']} ({'ready' if daemon.get('ready') else 'not ready'})")
    if not models:
        print("no models in the config or the registry")
        return
    print(f"{'MODEL':20} {'VERSION':8} {'HEALTH':8} {'CHECKED':16} {'FIRING':24} JOBS")
    for m in models:
        jobs = [daemon["jobs"].get(j, {}) for j in m.active_jobs]
        job_text = ", ".join(f"{j.get('id', '?')} {j.get('pipeline', '')} {j.get('state', '')}" for j in jobs)
        checked = age(now - m.last_check_at if m.last_check_at is not None else None)
        version = f"v{m.production_version}" if m.production_version else "-"
        print(
            f"{m.model:20} {version:8} {m.health:8} {checked:16} {', '.join(m.firing) or '-':24} {job_text or '-'}"
        )
    for m in models:
        if m.health != "ok":
            print(f"  {m.model}: {m.reason}")
