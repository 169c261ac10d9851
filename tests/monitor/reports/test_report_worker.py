"""The Evidently report worker, run as the daemon runs it: a real subprocess on Parquet files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.reports.report_worker import ReportInputError, render_report, select_columns

TIMEOUT = 180


def _run_worker(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DO_NOT_TRACK="1")
    return subprocess.run(
        [sys.executable, "-m", "monitor.reports.report_worker", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


@pytest.fixture()
def frames(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 400),
            "city": rng.choice(["paris", "lyon", "nice"], 400),
            "label": rng.integers(0, 2, 400),  # only in the reference: left out
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(55, 10, 300),
            "city": rng.choice(["paris", "lyon", "nice"], 300),
            "_prediction": rng.integers(0, 3, 300),  # only in the window: left out
        }
    )
    reference.to_parquet(tmp_path / "reference.parquet")
    current.to_parquet(tmp_path / "current.parquet")
    return tmp_path / "reference.parquet", tmp_path / "current.parquet"


def test_worker_writes_html_json_and_a_workspace_evidently_can_list(tmp_path, frames):
    reference, current = frames
    out, json_out, workspace = (
        tmp_path / "reports" / "r.html",
        tmp_path / "reports" / "r.json",
        tmp_path / "ws",
    )
    completed = _run_worker(
        "--reference", str(reference), "--current", str(current), "--out", str(out),
        "--json", str(json_out), "--workspace", str(workspace), "--project", "digits",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().startswith("<!DOCTYPE html>") and "Dataset Drift" in html
    snapshot = json.loads(json_out.read_text())
    metrics = {metric["config"]["type"].rsplit(":", 1)[-1] for metric in snapshot["metrics"]}
    assert metrics == {"DriftedColumnsCount", "ValueDrift"}
    drifted_columns = [m["config"]["column"] for m in snapshot["metrics"] if "column" in m["config"]]
    assert sorted(drifted_columns) == ["age", "city"]
    assert not list(out.parent.glob(".*.tmp"))

    from evidently.ui.workspace import Workspace

    projects = [project for project in Workspace(str(workspace)).list_projects() if project.name == "digits"]
    assert len(projects) == 1
    assert len(Workspace(str(workspace)).list_runs(projects[0].id)) == 1

    # A second report of the same model lands in the same project.
    outcome = render_report(reference, current, tmp_path / "r2.html", workspace=workspace, project="digits")
    assert outcome.columns == ("age", "city") and outcome.project_id == str(projects[0].id)
    runs = Workspace(str(workspace)).list_runs(projects[0].id)
    assert len(runs) == 2 and outcome.snapshot_id in {str(run) for run in runs}


def test_missing_file_exits_2_naming_it(tmp_path, frames):
    _, current = frames
    missing = tmp_path / "nope.parquet"
    completed = _run_worker(
        "--reference", str(missing), "--current", str(current), "--out", str(tmp_path / "x.html")
    )
    assert completed.returncode == 2
    assert "nope.parquet" in completed.stderr and "does not exist" in completed.stderr
    assert not (tmp_path / "x.html").exists()


def test_no_common_columns_exits_2(tmp_path, frames):
    reference, _ = frames
    other = tmp_path / "other.parquet"
    pd.DataFrame({"z": [1.0, 2.0]}).to_parquet(other)
    completed = _run_worker(
        "--reference", str(reference), "--current", str(other), "--out", str(tmp_path / "x.html")
    )
    assert completed.returncode == 2
    assert "no column in common" in completed.stderr


def test_not_parquet_is_bad_input(tmp_path, frames):
    _, current = frames
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(ReportInputError, match="junk.parquet.*not readable Parquet"):
        render_report(junk, current, tmp_path / "x.html")


def test_column_selection_keeps_reference_order_and_checks_names():
    reference = pd.DataFrame({"b": [1.0], "a": [2.0], "c": [3.0]})
    current = pd.DataFrame({"a": [1.0], "b": [2.0]})
    assert select_columns(reference, current) == ["b", "a"]
    assert select_columns(reference, current, ["a"]) == ["a"]
    with pytest.raises(ReportInputError, match=r"--columns names \['c'\]"):
        select_columns(reference, current, ["a", "c"])


def test_the_impact_section_is_in_the_report_from_the_moment_it_appears(tmp_path, frames, monkeypatch):
    # The daemon serves reports as soon as the file exists, so the file must be published once, complete.
    import monitor.reports.report_worker as worker

    published: list[str] = []
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith(".html"):
            published.append(Path(source).read_text(encoding="utf-8"))
        real_replace(source, target)

    monkeypatch.setattr(worker.os, "replace", replace)
    reference, current = frames
    impact = {"model": "m", "version": "3", "drift_impact": {"features": {"age": 0.25}, "rows": 300}}
    render_report(reference, current, tmp_path / "r.html", impact=impact)
    assert len(published) == 1 and 'id="modelhealthd-impact"' in published[0]
    assert (
        "<td>age</td><td>0.2500</td>" in published[0] and "share of predictions that change" in published[0]
    )


def test_unreadable_impact_json_exits_2_and_writes_no_report(tmp_path, frames):
    reference, current = frames
    (tmp_path / "extra.json").write_text("[1, 2")
    completed = _run_worker(
        "--reference", str(reference), "--current", str(current), "--out", str(tmp_path / "x.html"),
        "--extra-json", str(tmp_path / "extra.json"),
    )  # fmt: skip
    assert (
        completed.returncode == 2
        and "extra.json" in completed.stderr
        and "not readable JSON" in completed.stderr
    )
    assert not (tmp_path / "x.html").exists()
