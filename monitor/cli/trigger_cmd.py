"""``modelhealthd trigger``: start a re-optimization job by hand and follow its progress.

The request goes through the running daemon's API, so it passes the same guards as a rule's
action. With ``--wait`` a progress bar follows the job (stage, step, epoch, trial) until it
ends, then the gate's verdict is printed.

Exit codes: 0 queued (or, with ``--wait``, the job succeeded); 1 refused by a guard, the job
failed, or the daemon cannot be reached; 2 bad usage.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from monitor.cli.api_client import ApiAnswer, call_object, read_token
from monitor.cli.common import ConfigOption, config_or_exit, fail, print_json
from reoptimize.steps.catalog import CATALOG
from rules.pipelines import NOTIFY, normalize_pipeline

FINAL = ("succeeded", "failed", "cancelled", "timed_out")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists), else as text."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise fail(f"--with {item!r}: expected key=value, e.g. max_epochs=30", 2)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def describe(progress: dict[str, Any] | None) -> tuple[str, float | None, float | None]:
    """A line for the progress bar, plus (completed, total) when the job says how far it is."""
    if not progress:
        return "waiting for the worker", None, None
    parts = [str(progress[k]) for k in ("stage", "step") if progress.get(k)]
    done, total = None, None
    for count, limit in (("epoch", "max_epochs"), ("trial", "trials"), ("candidate", "candidates")):
        if progress.get(count) is not None:
            parts.append(
                f"{count} {progress[count]}" + (f"/{progress[limit]}" if progress.get(limit) else "")
            )
            done, total = progress.get(count), progress.get(limit)
    for metric in ("val_loss", "val_accuracy"):
        if isinstance(progress.get(metric), float):
            parts.append(f"{metric} {progress[metric]:.4g}")
    return " ".join(parts), done, total


def follow(api: str, job_id: str, poll: float, timeout: float) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]{task.fields[job]}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("queued", total=None, job=job_id)
        while time.monotonic() < deadline:
            job = call_object("GET", api, f"/api/v1/jobs/{job_id}")
            text, done, total = describe(job.get("progress"))
            bar.update(task, description=f"{job['state']}: {text}", completed=done or 0, total=total)
            if job["state"] in FINAL:
                return job
            time.sleep(poll)
    raise fail(f"job {job_id} still had not finished after {timeout:g}s (it keeps running in the daemon)")


def register(app: typer.Typer) -> None:
    @app.command("trigger")
    def trigger(
        model: str = typer.Argument(..., help="Model name."),
        pipeline: str = typer.Argument(
            ...,
            help=f"{', '.join((*CATALOG.job_kinds(), NOTIFY))}, or steps joined with '+', '->' or ','.",
        ),
        params: list[str] = typer.Option([], "--with", help="A pipeline parameter, key=value (repeatable)."),
        reason: str = typer.Option("manual trigger", "--reason"),
        wait: bool = typer.Option(False, "--wait", help="Follow the job with a progress bar until it ends."),
        api: str | None = typer.Option(None, "--api", envvar="MODELHEALTHD_API", help="Daemon URL."),
        token_file: Path | None = typer.Option(None, "--token-file", help="API token file."),
        timeout: float = typer.Option(3600.0, "--timeout", help="Give up waiting after this many seconds."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Queue a job for MODEL through the daemon (the guards apply), optionally waiting for its verdict."""
        try:
            pipeline = normalize_pipeline(pipeline, CATALOG)  # the daemon's own check, before asking it
        except ValueError as exc:
            raise fail(f"pipeline: got {pipeline!r}; {exc}", 2) from None
        token = read_token(token_file)
        if api is None or token is None:
            cfg = config_or_exit(config)
            api = api or f"http://{cfg.api.host}:{cfg.api.port}"
            token = token or cfg.api.resolved_token()
        body = {"pipeline": pipeline, "with": parse_params(params), "reason": reason}
        try:
            answer = call_object("POST", api, f"/api/v1/models/{model}/trigger", token=token, json=body)
        except ApiAnswer as exc:
            raise fail(f"the daemon refused: {exc}", 2 if exc.status in (404, 422) else 1) from None
        if not answer.get("queued"):
            if as_json:
                print_json(answer)
            raise fail(f"not queued: {answer.get('reason') or 'dry run'}")
        if not wait:
            print_json(answer) if as_json else print(f"queued job {answer['job']}")
            return
        job = follow(api, answer["job"], 1.0, timeout)
        if as_json:
            print_json(job)
        else:
            from monitor.cli.operator_view import verdict_text

            verdict = (job.get("result") or {}).get("verdict") or {}
            print(verdict_text(verdict) or job.get("error") or job["state"])
        if job["state"] != "succeeded":
            raise typer.Exit(1)
