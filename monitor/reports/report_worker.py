"""Render Evidently's data-drift report in a process of its own.

The daemon never imports evidently (it costs seconds and hundreds of MB); it writes the current
window and the reference as Parquet and runs::

    python -m monitor.reports.report_worker --reference R.parquet --current C.parquet --out report.html \\
        [--json out.json] [--workspace DIR --project NAME] [--columns a,b]

The report is ``Report([DataDriftPreset()])`` run on current vs reference, over the columns both
files hold. With ``--workspace`` the snapshot is also added to a local Evidently workspace, so
``evidently ui --workspace DIR`` shows it. Exit code 0 on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import html
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

EXIT_BAD_INPUT = 2
_LOCK_FILE = ".modelhealthd-report.lock"


class ReportInputError(ValueError):
    """Input the report cannot be built from; the message names the file or column."""


@dataclass(frozen=True)
class ReportOutcome:
    html: Path
    json: Path | None
    columns: tuple[str, ...]
    project_id: str | None = None
    snapshot_id: str | None = None


def _read_frame(source: str | os.PathLike[str] | pd.DataFrame, what: str) -> pd.DataFrame:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise ReportInputError(f"{what} file {str(path)!r} does not exist")
    if path.suffix == ".npz":
        return _read_npz(path, what)
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise ReportInputError(f"{what} file {str(path)!r} is not readable Parquet: {err}") from err


def _read_npz(path: Path, what: str) -> pd.DataFrame:
    """A window written by ``monitor.reports.renderer.write_npz``: text columns get their gaps back as None."""
    import numpy as np
    import pandas as pd

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise ReportInputError(f"{what} file {str(path)!r} is not a readable NPZ window: {err}") from err
    columns = {}
    for name, values in arrays.items():
        if name.startswith("__missing__"):
            continue
        gaps = arrays.get(f"__missing__{name}")
        if gaps is not None:
            values = np.where(gaps, None, values.astype(object))
        columns[name] = values
    return pd.DataFrame(columns)


def select_columns(
    reference: pd.DataFrame, current: pd.DataFrame, wanted: Sequence[str] | None = None
) -> list[str]:
    """Columns of the reference, in its order, that the current window also holds (and ``wanted`` names)."""
    common = [str(name) for name in reference.columns if name in set(current.columns)]
    if wanted:
        missing = [name for name in wanted if name not in common]
        if missing:
            raise ReportInputError(
                f"--columns names {missing}, which are not in both files; common columns: {common}"
            )
        common = [name for name in common if name in set(wanted)]
    if not common:
        raise ReportInputError(
            f"reference columns {list(map(str, reference.columns))} and current columns "
            f"{list(map(str, current.columns))} have no column in common"
        )
    if current.empty or reference.empty:
        raise ReportInputError(f"empty input: reference has {len(reference)} rows, current {len(current)}")
    return common


@contextlib.contextmanager
def _workspace_lock(workspace: Path) -> Iterator[None]:
    # Reports of several models may finish together; one writer at a time keeps one project per name.
    workspace.mkdir(parents=True, exist_ok=True)
    with open(workspace / _LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def add_to_workspace(snapshot: object, workspace: Path, project: str) -> tuple[str, str]:
    """Add the snapshot to the project named ``project`` (created if absent); returns (project id, snapshot id)."""
    from evidently.ui.workspace import Workspace

    with _workspace_lock(workspace):
        ws = Workspace.create(str(workspace))
        found = [p for p in ws.list_projects() if p.name == project]
        target = found[0] if found else ws.create_project(project, description="modelhealthd drift reports")
        ref = ws.add_run(target.id, snapshot)
    return str(target.id), str(ref.id)


def _replace_atomically(path: Path, write: Callable[[str], object]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write(str(temporary))
    os.replace(temporary, path)


def render_report(
    reference: str | os.PathLike[str] | pd.DataFrame,
    current: str | os.PathLike[str] | pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    json_out: str | os.PathLike[str] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    project: str | None = None,
    columns: Sequence[str] | None = None,
    impact: Mapping[str, Any] | None = None,
) -> ReportOutcome:
    """Build Evidently's DataDriftPreset report of ``current`` against ``reference`` and save it.

    ``reference``/``current`` are Parquet paths or DataFrames. Writes ``out`` (HTML, with
    :func:`impact_section` of ``impact`` above the report when given; the file appears complete
    or not at all) and ``json_out``; with ``workspace`` (and ``project``, default "modelhealthd")
    adds the snapshot to that local Evidently workspace. Raises ReportInputError for unusable input.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    reference_frame = _read_frame(reference, "reference")
    current_frame = _read_frame(current, "current")
    chosen = select_columns(reference_frame, current_frame, columns)
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_frame[chosen], reference_frame[chosen])
    html = Path(out)
    html.parent.mkdir(parents=True, exist_ok=True)

    def write_html(target: str) -> None:
        snapshot.save_html(target)
        if impact is not None:
            _insert_impact_section(Path(target), impact)

    _replace_atomically(html, write_html)
    json_path = Path(json_out) if json_out is not None else None
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(json_path, snapshot.save_json)
    project_id = snapshot_id = None
    if workspace is not None:
        project_id, snapshot_id = add_to_workspace(snapshot, Path(workspace), project or "modelhealthd")
    return ReportOutcome(html, json_path, tuple(chosen), project_id, snapshot_id)


def impact_section(extra: Mapping[str, Any]) -> str:
    """An HTML block with the drift impact per feature (``{"drift_impact": {...}, "model": ...}``)."""
    impact = extra.get("drift_impact") or {}
    rows = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{float(value):.4f}</td></tr>"
        for name, value in sorted((impact.get("features") or {}).items(), key=lambda kv: -kv[1])
    )
    basis = {"accuracy_drop": "accuracy drop", "rmse_increase": "relative RMSE increase"}.get(
        str(impact.get("basis")), "share of predictions that change"
    )
    body = (
        f"<table><tr><th>drifted feature</th><th>impact ({basis})</th></tr>{rows}</table>"
        f"<p>Permutation impact on {int(impact.get('rows') or 0)} rows of the window.</p>"
        if rows
        else "<p>No drifted feature, or the impact could not be measured.</p>"
    )
    title = html.escape(
        f"modelhealthd: does the drift matter? ({extra.get('model', '')} v{extra.get('version', '')})"
    )
    return f'<section id="modelhealthd-impact" style="font-family:sans-serif;margin:1em"><h2>{title}</h2>{body}</section>'


def _insert_impact_section(path: Path, extra: Mapping[str, Any]) -> None:
    """Insert :func:`impact_section` right after ``<body>`` of an HTML file, in place."""
    text = path.read_text(encoding="utf-8")
    at = text.find("<body>")
    at = at + len("<body>") if at >= 0 else 0
    path.write_text(text[:at] + impact_section(extra) + text[at:], encoding="utf-8")


def _read_impact(path: str) -> dict[str, Any]:
    try:
        extra = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ReportInputError(f"--extra-json file {path!r} is not readable JSON: {err}") from err
    if not isinstance(extra, dict):
        raise ReportInputError(f"--extra-json file {path!r} holds {type(extra).__name__}, expected an object")
    return extra


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.reports.report_worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--reference", required=True, help="reference data (Parquet)")
    parser.add_argument("--current", required=True, help="current window (Parquet)")
    parser.add_argument("--out", required=True, help="HTML report to write")
    parser.add_argument("--json", dest="json_out", help="also write the snapshot as JSON here")
    parser.add_argument("--workspace", help="local Evidently workspace directory to add the snapshot to")
    parser.add_argument("--project", help="workspace project name (default: modelhealthd)")
    parser.add_argument("--columns", help="comma-separated subset of the common columns")
    parser.add_argument("--extra-json", help="modelhealthd's drift impact (JSON) to show above the report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.project and not args.workspace:
        print("report_worker: --project needs --workspace", file=sys.stderr)
        return EXIT_BAD_INPUT
    columns = [name.strip() for name in args.columns.split(",") if name.strip()] if args.columns else None
    try:
        impact = _read_impact(args.extra_json) if args.extra_json else None
        outcome = render_report(
            args.reference,
            args.current,
            args.out,
            json_out=args.json_out,
            workspace=args.workspace,
            project=args.project,
            columns=columns,
            impact=impact,
        )
    except ReportInputError as err:
        print(f"report_worker: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report_worker: wrote {outcome.html} ({len(outcome.columns)} columns)")
    return 0


if __name__ == "__main__":
    from reoptimize.executors.process_exit import exit_now

    exit_now(main())
