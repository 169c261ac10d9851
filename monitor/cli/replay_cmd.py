"""``modelhealthd replay``: send a dataset to a model server at a set rate, with drift and delayed labels."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rules.durations import parse_duration

if TYPE_CHECKING:
    from monitor.replay.label_delivery import LabelSink
    from monitor.replay.progress import BatchResult, ReplayStats

_ROWS_RE = re.compile(r"^\s*(\d+)\s*rows?\s*$")


def parse_drift_at(text: str) -> tuple[float | None, int | None]:
    """``30s``/``2m`` → (seconds, None); ``500rows`` → (None, 500)."""
    match = _ROWS_RE.match(text)
    if match:
        return None, int(match.group(1))
    try:
        return parse_duration(text), None
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: {exc}, or a row count such as '500rows'", param_hint="--drift-at"
        ) from None


def _seconds(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: {exc}", param_hint=option) from None


def _read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--labels-token-file"
        ) from None
    if not token:
        raise typer.BadParameter(f"{path} is empty", param_hint="--labels-token-file")
    return token


def _line(stats: ReplayStats) -> str:
    phases = "  ".join(
        f"{name}: {c.ok}/{c.sent} ok" + (f", accuracy {c.accuracy:.3f}" if c.accuracy is not None else "")
        for name, c in stats.phases.items()
        if c.sent
    )
    return (
        f"[{stats.elapsed_seconds:6.1f}s] sent {stats.sent}  ok {stats.ok}  failed {stats.failed}  "
        f"labels {stats.labels_delivered} delivered, {stats.labels_pending} pending  {phases}"
    )


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        url: str = typer.Option(..., "--url", help="Model server base URL (POSTs to <url>/predict)."),
        data: Path = typer.Option(..., "--data", help="Parquet or CSV file of feature rows."),
        label_column: str = typer.Option("label", "--label-column", help="Column holding the true label."),
        rate: float = typer.Option(50.0, "--rate", help="Rows per second."),
        duration: str = typer.Option("60s", "--duration", help="How long to run, e.g. 60s or 5m."),
        rows: int | None = typer.Option(
            None, "--rows", min=1, help="Stop after this many rows (first limit wins)."
        ),
        batches_per_second: float = typer.Option(5.0, "--batches-per-second", help="Requests per second."),
        drift_at: str | None = typer.Option(None, "--drift-at", help="When drift starts: 30s, or 500rows."),
        drift: str | None = typer.Option(None, "--drift", help="scale, shift, noise, file or image-shift."),
        drift_features: str = typer.Option(
            "", "--drift-features", help="Comma-separated features (default all)."
        ),
        drift_amount: float | None = typer.Option(
            None,
            "--drift-amount",
            help="scale: factor [1.5]; shift, noise: standard deviations [1, 0.5]; image-shift: pixels [2].",
        ),
        drift_data: Path | None = typer.Option(
            None, "--drift-data", help="Rows to switch to for --drift file."
        ),
        labels_url: str | None = typer.Option(
            None, "--labels-url", help="Daemon URL for POST /api/v1/labels."
        ),
        labels_token_file: Path | None = typer.Option(
            None, "--labels-token-file", help="Daemon API token file."
        ),
        labels_file: Path | None = typer.Option(
            None, "--labels-file", help="Append labels to this JSONL file."
        ),
        label_delay: str = typer.Option("5s", "--label-delay", help="How late labels arrive."),
        model: str | None = typer.Option(
            None, "--model", help="Model name for labels (default: the server's)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed for noise drift."),
        as_json: bool = typer.Option(False, "--json", help="Print the final stats as one JSON line."),
    ) -> None:
        """Replay DATA to a model server, optionally injecting drift and delivering labels late."""
        import requests

        from monitor.replay.drift_injection import DriftSpec
        from monitor.replay.label_delivery import FileLabelSink, HttpLabelSink
        from monitor.replay.traffic_replay import ReplayPlan, ReplayProgress, load_replay_data, run_replay

        if (drift is None) != (drift_at is None):
            raise typer.BadParameter("--drift and --drift-at go together", param_hint="--drift")
        if labels_url and labels_file:
            raise typer.BadParameter(
                "give --labels-url or --labels-file, not both", param_hint="--labels-url"
            )
        if labels_token_file and not labels_url:
            raise typer.BadParameter(
                "--labels-token-file needs --labels-url", param_hint="--labels-token-file"
            )
        if drift == "file" and drift_data is None:
            raise typer.BadParameter("--drift file needs --drift-data FILE", param_hint="--drift-data")
        try:
            spec = None
            if drift is not None:
                at_seconds, at_rows = parse_drift_at(drift_at or "")
                features = tuple(f.strip() for f in drift_features.split(",") if f.strip())
                spec = DriftSpec(drift, at_seconds, at_rows, features, drift_amount)
            plan = ReplayPlan(
                url=url,
                rate=rate,
                duration=_seconds(duration, "--duration"),
                max_rows=rows,
                batches_per_second=batches_per_second,
                drift=spec,
                label_delay=_seconds(label_delay, "--label-delay"),
                model=model,
                seed=seed,
            )
            base = load_replay_data(data, label_column)
            switch = load_replay_data(drift_data, label_column) if drift_data is not None else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

        session = requests.Session()
        sink: LabelSink | None = None
        if labels_url:
            token = _read_token(labels_token_file) if labels_token_file else None
            sink = HttpLabelSink(session, labels_url, token)
        elif labels_file:
            sink = FileLabelSink(labels_file)
        if sink is not None and base.labels is None:
            typer.echo(f"warning: {data} has no column {label_column!r}; no labels will be sent", err=True)

        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())  # finish the batch in flight, then report
        progress = ReplayProgress()
        last_print = [time.monotonic()]

        def report(_batch: BatchResult) -> None:
            if time.monotonic() - last_print[0] >= 5:
                last_print[0] = time.monotonic()
                typer.echo(_line(progress.snapshot()), err=True)

        try:
            stats = run_replay(
                plan,
                base,
                session,
                stop=stop,
                labels=sink,
                drift_data=switch,
                progress=progress,
                on_batch=report,
            )
        except KeyboardInterrupt:
            stats = progress.finish(progress.snapshot().elapsed_seconds, True)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        typer.echo(_line(stats), err=True)
        if stats.last_error:
            typer.echo(f"last error: {stats.last_error}", err=True)
        if stats.last_label_error:
            typer.echo(f"last label error: {stats.last_label_error}", err=True)
        if as_json:
            print(json.dumps(stats.to_json(), sort_keys=True))
        if stats.ok == 0:
            raise typer.Exit(1)
