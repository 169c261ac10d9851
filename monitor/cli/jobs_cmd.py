"""``modelhealthd jobs``, ``jobs show ID`` and ``jobs cancel ID``: re-optimization jobs, for operators.

They read and write the state store named by the config, or go through a running daemon's
API with ``--api URL``. A cancel written to the store stops the worker at the daemon's next
supervisor tick (about a second), and the worker itself stops at its next heartbeat.

Exit codes: 0 done; 1 no such job, or the store or API cannot be used; 2 bad usage or
config; 3 the job had already finished (nothing to cancel).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from monitor.cli.api_client import (
    ApiAnswer,
    ApiOption,
    TokenFileOption,
    call,
    call_list,
    call_object,
    read_token,
)
from monitor.cli.common import ConfigOption, config_or_exit, fail, print_json
from rules.durations import format_time

if TYPE_CHECKING:
    from monitor.state.store import StateStore

EXIT_FINISHED = 3
STATES = ("queued", "running", "succeeded", "failed", "cancelled", "timed_out")


def _store(config: Path) -> StateStore:
    from monitor.state.store import StateError, StateStore

    cfg = config_or_exit(config)
    try:
        return StateStore.open(cfg.state)
    except StateError as exc:
        raise fail(str(exc)) from None


def _list(
    config: Path, api: str | None, model: str | None, state: str | None, limit: int
) -> list[dict[str, Any]]:
    if api:
        params = {"model": model, "state": state, "limit": limit}
        try:
            return call_list("GET", api, "/api/v1/jobs", params={k: v for k, v in params.items() if v})
        except ApiAnswer as exc:
            raise fail(f"the daemon at {api} answered {exc}") from None
    store = _store(config)
    try:
        return [j.to_json() for j in store.jobs.list(model, (state,) if state else None, limit)]
    finally:
        store.close()


def _get(config: Path, api: str | None, job_id: str) -> dict[str, Any]:
    if api:
        try:
            return call_object("GET", api, f"/api/v1/jobs/{job_id}")
        except ApiAnswer as exc:
            raise fail(f"no job {job_id!r}" if exc.status == 404 else str(exc)) from None
    store = _store(config)
    try:
        job = store.jobs.get(job_id)
    finally:
        store.close()
    if job is None:
        raise fail(f"no job {job_id!r}")
    return job.to_json()


def _when(at: float | None) -> str:
    # None is a moment that has not come (not started, not finished): a dash, not "unknown".
    return "-" if at is None else format_time(at)


def register(app: typer.Typer) -> None:
    jobs = typer.Typer(help="List, show and cancel re-optimization jobs.", invoke_without_command=True)
    app.add_typer(jobs, name="jobs")

    @jobs.callback()
    def list_jobs(
        ctx: typer.Context,
        model: str | None = typer.Option(None, "--model", "-m", help="Only this model's jobs."),
        state: str | None = typer.Option(
            None, "--state", help=f"Only jobs in this state: {', '.join(STATES)}."
        ),
        limit: int = typer.Option(20, "--limit", min=1, max=1000, help="At most this many, newest first."),
        config: Path = ConfigOption,
        api: str | None = ApiOption,
        as_json: bool = typer.Option(False, "--json", help="Print the jobs as JSON."),
    ) -> None:
        """List jobs, newest first."""
        if ctx.invoked_subcommand:
            return
        if state is not None and state not in STATES:
            raise fail(f"--state: got {state!r}; expected one of {', '.join(STATES)}", 2)
        rows = _list(config, api, model, state, limit)
        if as_json:
            print_json(rows)
            return
        if not rows:
            print("no jobs")
            return
        print(f"{'JOB':17} {'MODEL':16} {'PIPELINE':16} {'STATE':10} {'CREATED':20} CANDIDATE")
        for j in rows:
            candidate = f"v{j['candidate_version']}" if j.get("candidate_version") else "-"
            print(
                f"{j['id']:17} {j['model']:16} {j['pipeline']:16} {j['state']:10} "
                f"{_when(j['created_at']):20} {candidate}"
            )

    @jobs.command("show")
    def show(
        job_id: str = typer.Argument(..., help="The job's id."),
        config: Path = ConfigOption,
        api: str | None = ApiOption,
        as_json: bool = typer.Option(False, "--json", help="Print the job as JSON."),
    ) -> None:
        """Show one job: trigger, timing, progress, error and the gate's verdict."""
        job = _get(config, api, job_id)
        if as_json:
            print_json(job)
            return
        for key in ("id", "model", "pipeline", "state", "rule", "champion_version", "candidate_version"):
            print(f"{key:18} {job.get(key) if job.get(key) is not None else '-'}")
        for key in ("created_at", "started_at", "finished_at", "heartbeat_at"):
            print(f"{key:18} {_when(job.get(key))}")
        if job.get("error"):
            print(f"{'error':18} {job['error']}")
        from monitor.cli.operator_view import verdict_text

        text = verdict_text((job.get("result") or {}).get("verdict") or {})
        if text:
            print("\n" + text)

    @jobs.command("cancel")
    def cancel(
        job_id: str = typer.Argument(..., help="The job's id."),
        config: Path = ConfigOption,
        api: str | None = ApiOption,
        token_file: Path | None = TokenFileOption,
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    ) -> None:
        """Cancel a queued or running job. Exit 3 if it had already finished."""
        outcome = _cancel_api(config, api, job_id, token_file) if api else _cancel_store(config, job_id)
        if as_json:
            print_json(outcome)
        elif outcome["cancelled"]:
            print(f"job {job_id} cancelled")
        else:
            print(f"job {job_id} had already finished ({outcome['state']}); nothing to cancel")
        if not outcome["cancelled"]:
            raise typer.Exit(EXIT_FINISHED)


def _cancel_store(config: Path, job_id: str) -> dict[str, Any]:
    store = _store(config)
    try:
        job = store.jobs.get(job_id)
        if job is None:
            raise fail(f"no job {job_id!r}")
        done = store.jobs.finish(job_id, "cancelled", time.time(), error="cancelled from the command line")
        after = store.jobs.get(job_id)
        if after is None:  # only a restore of the store removes jobs
            raise fail(f"job {job_id!r} left the state store while it was being cancelled")
        state = after.state
    finally:
        store.close()
    return {"job": job_id, "cancelled": done, "state": state}


def _cancel_api(config: Path, api: str, job_id: str, token_file: Path | None) -> dict[str, Any]:
    token = read_token(token_file)
    if token is None and config.exists():
        token = config_or_exit(config).api.resolved_token()
    try:
        call("POST", api, f"/api/v1/jobs/{job_id}/cancel", token=token)
    except ApiAnswer as exc:
        if exc.status == 404:
            raise fail(f"no job {job_id!r}") from None
        if exc.status == 409:
            state = call_object("GET", api, f"/api/v1/jobs/{job_id}")["state"]
            return {"job": job_id, "cancelled": False, "state": state}
        raise fail(f"the daemon at {api} answered {exc}") from None
    return {"job": job_id, "cancelled": True, "state": "cancelled"}
