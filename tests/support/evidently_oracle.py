"""Evidently's own per-column drift verdicts (``DataDriftPreset`` with its tests), for comparisons."""

from __future__ import annotations

import os
import warnings
from typing import Any

VALUE_DRIFT_TEST = "Value Drift for column "


def evidently_verdicts(reference: Any, current: Any) -> dict[str, bool]:
    """Column -> drifted, as Evidently's DataDriftPreset decides on these pandas frames."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference).dict()
    return {
        test["name"][len(VALUE_DRIFT_TEST) :]: test["status"] == "FAIL"
        for test in snapshot["tests"]
        if test["name"].startswith(VALUE_DRIFT_TEST)
    }
