"""Evidently as the oracle for drift verdicts: imported once per module, run on DataFrames."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest

VALUE_DRIFT_TEST = "Value Drift for column "
# ValueDrift's config shows the display name of a method Evidently chose, the name of one we chose.
DISPLAY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance": "hellinger",
    "Energy-distance": "ed",
}


@dataclass(frozen=True)
class ColumnVerdict:
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class EvidentlyRun:
    columns: Mapping[str, ColumnVerdict]
    drifted_count: int
    drifted_share: float


def _parse(snapshot: dict) -> EvidentlyRun:
    columns: dict[str, dict] = {}
    count = share = None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            method = DISPLAY_NAMES.get(config["method"], config["method"])
            columns[config["column"]] = {
                "method": method,
                "score": metric["value"],
                "threshold": config["threshold"],
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            count, share = metric["value"]["count"], metric["value"]["share"]
    for test in snapshot["tests"]:
        if test["name"].startswith(VALUE_DRIFT_TEST):
            columns[test["name"][len(VALUE_DRIFT_TEST) :]]["drifted"] = test["status"] == "FAIL"
    return EvidentlyRun(
        {name: ColumnVerdict(**fields) for name, fields in columns.items()}, int(count), share
    )


@pytest.fixture(scope="module")
def evidently_drift() -> Callable[..., EvidentlyRun]:
    """Run Evidently's DataDriftPreset (current first) and return its per-column verdicts."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def run(reference, current, per_column_method: Mapping[str, str] | None = None) -> EvidentlyRun:
        preset = DataDriftPreset(per_column_method=dict(per_column_method) if per_column_method else None)
        with warnings.catch_warnings():
            # scipy warns on chi-squared with an expected count of 0; Evidently lets it.
            warnings.simplefilter("ignore", RuntimeWarning)
            snapshot = Report([preset], include_tests=True).run(current, reference)
        return _parse(snapshot.dict())

    return run
