"""The demo: train v1, start server and daemon, replay traffic with a drift, watch the loop close."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.live import Live
from rich.table import Table

from monitor.demo import artefacts
from monitor.demo.demo_data import FEATURES, LABEL, prepare
from monitor.demo.follow import DaemonWatch, brief, render
from monitor.demo.setup import MODEL, DemoSetup, prepare_state, write_setup
from monitor.demo.stack import Process, cli, free_port, wait_http
from monitor.replay.drift_injection import DriftSpec
from monitor.replay.label_delivery import HttpLabelSink
from monitor.replay.progress import ReplayProgress
from monitor.replay.traffic_replay import ReplayPlan, load_replay_data, run_replay

RECOVERY_ROWS = 100  # labelled answers of the new version to measure its accuracy on
MIN_RECOVERY_ROWS = 30  # enough when the traffic data runs out first (a slow or busy machine)


@dataclass
class Timeline:
    wall_start: float = 0.0
    drift_at: float | None = None  # seconds since the traffic started
    promoted_at: float | None = None


def train_v1(setup: DemoSetup, console: Console) -> str:
    import pandas as pd

    from monitor.config import load_config
    from reoptimize.job.first_versions import train_first_version
    from reoptimize.registry.backends import open_registry

    config = load_config(setup.config_path)
    recipe = config.model(MODEL).recipe
    if recipe is None:
        raise RuntimeError(f"{setup.config_path}: model {MODEL!r} has no recipe to train version 1 from")
    frame = pd.read_parquet(setup.out / "data" / "digits-training.parquet")
    console.print(f"training version 1 of [bold]{MODEL}[/] on {len(frame)} digits ...")
    manifest = train_first_version(
        open_registry(config.registry.settings()),
        MODEL,
        recipe.model_dump(mode="json"),
        frame,
        FEATURES,
        LABEL,
    )
    console.print(
        f"  v{manifest.version}: holdout accuracy {manifest.metrics.get('holdout_accuracy', float('nan')):.3f}"
    )
    return manifest.version


def split_accuracy(progress: ReplayProgress, first_version: str) -> dict[str, Any]:
    """Accuracy before the drift and during it (first version), and of any later version after it."""
    before, during, after = [], [], []
    for r in progress.recent():
        if r.correct is None:
            continue
        if r.version != first_version:
            after.append(r.correct)
        elif r.phase == "baseline":
            before.append(r.correct)
        else:
            during.append(r.correct)
    return {"before": before, "during": during, "after": after}


def live_series(progress: ReplayProgress, bucket: float = 5.0) -> list[tuple[float, float]]:
    buckets: dict[int, list[bool]] = {}
    for r in progress.recent():
        if r.correct is not None:
            buckets.setdefault(int(r.at_seconds // bucket), []).append(r.correct)
    return [((k + 0.5) * bucket, sum(v) / len(v)) for k, v in sorted(buckets.items())]


def explain(watch: DaemonWatch, timeline: Timeline) -> str:
    """Why the loop has not closed yet, from what the daemon recorded."""
    decisions = watch.state.decisions
    if timeline.drift_at is None:
        return "the drift had not started yet"
    if not any(d["kind"] == "transition" and "feature-drift" in d["message"] for d in decisions):
        return f"no drift was detected (last check: {watch.state.last_check})"
    jobs = watch.state.jobs
    if not jobs:
        guards = [d["message"] for d in decisions if d["kind"] == "guard"]
        return "the drift rule did not start a job" + (f": {guards[-1]}" if guards else "")
    job = jobs[0]
    if job["state"] in ("queued", "running"):
        return f"job {job['id']} was still {job['state']} (progress {job.get('progress')})"
    if job["state"] != "succeeded":
        return f"job {job['id']} {job['state']}: {job.get('error')}"
    verdict = (job.get("result") or {}).get("verdict") or {}
    if not verdict.get("passed"):
        return "the gate rejected the candidate (see the gate's verdict)"
    return "the promoted model had not yet answered enough labelled traffic to show its accuracy"


class DemoRun:
    """One run of the demo: its processes, traffic, what it has seen, and its artefacts."""

    def __init__(
        self,
        out: Path,
        timeout: float,
        rate: float,
        console: Console,
        state_url: str | None = None,
        reset_state: bool = False,
    ):
        url = state_url
        if url is not None and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).resolve())  # not relative to --out
        if url is not None:
            removed = prepare_state(url, reset_state)  # before anything is written or started
            if removed:
                console.print(f"emptied the state store: {removed} row(s) of an earlier run removed")
        self.out = Path(out).resolve()
        self.timeout = timeout
        self.rate = rate
        self.console = console
        self.started = time.monotonic()
        self.session = requests.Session()
        self.progress = ReplayProgress(keep=20_000)
        self.timeline = Timeline()
        self.stop = threading.Event()
        self.data = prepare(self.out / "data")
        self.setup = write_setup(self.out, free_port(), free_port(), url)
        self.watch = DaemonWatch(self.setup.api_url, MODEL, self.session)
        state = self.setup.out / "state"
        port = self.setup.server_url.rsplit(":", 1)[1]
        self.server = Process(
            "model server",
            cli("serve", "--registry", str(self.setup.registry), "--model", MODEL, "--port", port,
                "--predictions", str(self.setup.predictions), "--token-file", str(self.setup.server_token_file)),
            state / "server.log",
        )  # fmt: skip
        self.daemon = Process(
            "daemon",
            cli("run", "--config", str(self.setup.config_path), "--log-format", "json"),
            state / "daemon.log",
        )
        self.first_version = ""

    def run(self) -> artefacts.Summary:
        self.first_version = train_v1(self.setup, self.console)
        finished, reason, checks = False, "not started", []
        try:
            self.server.start()
            wait_http(self.setup.server_url + "/readyz", self.server, 60, self.session)
            self.daemon.start()
            wait_http(self.setup.api_url + "/healthz", self.daemon, 60, self.session)
            self.console.print(
                f"server {self.setup.server_url}, daemon {self.setup.api_url} ({self.setup.config_path})"
            )
            replay = self._start_traffic()
            finished, reason = self._follow(replay)
        finally:
            self.stop.set()
            artefacts.scrape(self.setup.api_url + "/metrics", self.out / "daemon.prom", self.session)
            artefacts.scrape(self.setup.server_url + "/metrics", self.out / "server.prom", self.session)
            checks = self._checks()
            self.daemon.stop()
            self.server.stop()
        return self._finish(checks, finished, reason)

    def _start_traffic(self) -> threading.Thread:
        data, setup = self.data, self.setup
        plan = ReplayPlan(
            url=setup.server_url,
            rate=self.rate,
            duration=None,
            max_rows=data.baseline_rows + data.drifted_rows,
            drift=DriftSpec(kind="file", at_rows=data.baseline_rows),
            label_delay=2.0,
            model=MODEL,
        )
        kwargs = {
            "stop": self.stop,
            "labels": HttpLabelSink(requests.Session(), setup.api_url + "/api/v1/labels", setup.api_token),
            "drift_data": load_replay_data(data.drifted, LABEL),
            "progress": self.progress,
        }
        args = (plan, load_replay_data(data.baseline, LABEL), requests.Session())
        replay = threading.Thread(target=run_replay, args=args, kwargs=kwargs, name="replay", daemon=True)
        self.timeline.wall_start = time.time()
        replay.start()
        return replay

    def _follow(self, replay: threading.Thread) -> tuple[bool, str]:
        deadline = self.started + self.timeout
        console, timeline = self.console, self.timeline
        with Live(Table(), console=console, refresh_per_second=2, transient=not console.is_terminal) as live:
            while time.monotonic() < deadline:
                for process in (self.server, self.daemon):
                    if not process.alive():
                        return False, f"the {process.name} exited unexpectedly:\n{process.tail()}"
                try:
                    fresh = self.watch.refresh()
                except requests.RequestException as exc:
                    fresh = []
                    console.log(f"daemon API: {exc}")
                if not console.is_terminal:
                    verdicts = self.watch.state.verdict_texts
                    for d in fresh:
                        console.print(
                            f"[{time.monotonic() - self.started:5.0f}s] {d['kind']}: "
                            f"{brief(d['message'], verdicts)}"
                        )
                drift_rows = [r.at_seconds for r in self.progress.recent() if r.phase == "drift"]
                if drift_rows and timeline.drift_at is None:
                    timeline.drift_at = min(drift_rows)
                if self.watch.state.promotion and timeline.promoted_at is None:
                    timeline.promoted_at = self.watch.state.promotion["finished_at"] - timeline.wall_start
                live.update(render(self.watch.state, self.progress, self.started))
                after = len(split_accuracy(self.progress, self.first_version)["after"])
                if after >= RECOVERY_ROWS:
                    return True, "the retrained model was promoted and its live accuracy measured"
                if not replay.is_alive() and after >= MIN_RECOVERY_ROWS:
                    return (
                        True,
                        f"the retrained model was promoted; the traffic ended after {after} of its answers",
                    )
                if not replay.is_alive():
                    return False, "the traffic data ran out before the loop closed: " + explain(
                        self.watch, timeline
                    )
                time.sleep(1.0)
        return False, f"timed out after {self.timeout:g}s: " + explain(self.watch, timeline)

    def _checks(self) -> list[dict[str, Any]]:
        try:
            return sorted(self.watch.get("/api/v1/checks", model=MODEL, limit=1000), key=lambda c: c["at"])
        except requests.RequestException:
            return []

    def _finish(self, checks: list[dict[str, Any]], finished: bool, reason: str) -> artefacts.Summary:
        parts = split_accuracy(self.progress, self.first_version)
        promotion, timeline = self.watch.state.promotion, self.timeline
        job = next((j for j in self.watch.state.jobs if j.get("result")), None)
        report = artefacts.copy_latest_report(self.setup.out / "state" / "reports" / MODEL, self.out)
        drift_to_promotion = None
        if timeline.promoted_at is not None and timeline.drift_at is not None:
            drift_to_promotion = timeline.promoted_at - timeline.drift_at
        summary = artefacts.Summary(
            promoted_version=promotion["to_version"] if promotion else None,
            accuracy_before_drift=artefacts.accuracy(parts["before"]),
            accuracy_during_drift=artefacts.accuracy(parts["during"]),
            accuracy_after_promotion=artefacts.accuracy(parts["after"]) if promotion else None,
            seconds_from_drift_to_promotion=drift_to_promotion,
            rows_before_drift=len(parts["before"]),
            rows_during_drift=len(parts["during"]),
            rows_after_promotion=len(parts["after"]),
            finished=finished,
            reason=reason,
            elapsed_seconds=time.monotonic() - self.started,
            gate_verdict=((job or {}).get("result") or {}).get("verdict", {}).get("text"),
            drift_report=str(report) if report else None,
        )
        artefacts.write_summary(summary, self.out)
        artefacts.plot_timeline(
            checks, live_series(self.progress), timeline.drift_at, timeline.promoted_at, timeline.wall_start,
            self.out / "timeline.png",
        )  # fmt: skip
        (self.out / "decisions.json").write_text(json.dumps(self.watch.state.decisions, indent=2))
        _print_table(summary, self.console)
        return summary


def run_demo(
    out: Path,
    timeout: float = 300.0,
    rate: float = 10.0,
    console: Console | None = None,
    state: str | None = None,
    reset_state: bool = False,
) -> artefacts.Summary:
    """Run the demo end to end; the summary says whether the loop closed, and why not if it did not.

    ``state`` is a state store URL (such as ``postgresql://...``) to use instead of a new SQLite
    file in ``out``; it must be empty unless ``reset_state`` lets the demo empty it."""
    return DemoRun(out, timeout, rate, console or Console(), state, reset_state).run()


def _print_table(summary: artefacts.Summary, console: Console) -> None:
    table = Table(title="before / after")
    for col in ("phase", "model", "rows", "accuracy"):
        table.add_column(col)
    table.add_row("before drift", "v1", str(summary.rows_before_drift), _fmt(summary.accuracy_before_drift))
    table.add_row("during drift", "v1", str(summary.rows_during_drift), _fmt(summary.accuracy_during_drift))
    table.add_row(
        "after promotion", f"v{summary.promoted_version or '-'}", str(summary.rows_after_promotion),
        _fmt(summary.accuracy_after_promotion),
    )  # fmt: skip
    console.print(table)
    if summary.gate_verdict:  # the one place the demo prints the verdict; decisions point here
        console.print(f"gate: {summary.gate_verdict}")
    console.print(("[green]done[/]: " if summary.finished else "[red]stopped[/]: ") + summary.reason)
    if summary.seconds_from_drift_to_promotion is not None:
        console.print(f"drift to promotion: {summary.seconds_from_drift_to_promotion:.1f}s")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
