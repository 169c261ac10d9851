"""Drift check speed and verdicts: modelhealthd's engine against Evidently's DataDriftPreset.

Both run on the same seeded data: ``--rows`` x ``--features`` numeric columns, the current window
shifted in half of the features by between 0.02 and 0.5 reference standard deviations. The engine
is timed on ``detect_drift`` alone (the reference statistics are cached per version in the daemon,
so ``build_reference_stats`` runs once, outside the timing); Evidently on ``Report(...).run``.
Each figure is a median. A second case uses a reference of 1000 rows, where both use K-S.

    .venv/bin/python bench/drift.py [--rows 5000] [--features 64] [--repeats 20] [--evidently-runs 3]

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DO_NOT_TRACK", "1")

from monitor.drift import build_reference_stats, detect_drift  # noqa: E402

VALUE_DRIFT_TEST = "Value Drift for column "


@dataclass(frozen=True)
class CaseResult:
    name: str
    reference_rows: int
    current_rows: int
    features: int
    modelhealthd_seconds: float
    build_seconds: float
    evidently_seconds: float
    agreement: float
    drifted_ours: int
    drifted_evidently: int
    methods: str

    @property
    def speedup(self) -> float:
        return self.evidently_seconds / self.modelhealthd_seconds


def make_data(reference_rows: int, current_rows: int, features: int, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.5, 5.0, features)
    reference = {f"f{i:02d}": rng.normal(0.0, scales[i], reference_rows) for i in range(features)}
    current = {}
    for i in range(features):
        shift = rng.uniform(0.02, 0.5) * scales[i] if i % 2 == 0 else 0.0
        current[f"f{i:02d}"] = rng.normal(shift, scales[i], current_rows)
    return reference, current


def time_engine(reference: dict, current: dict, repeats: int) -> tuple[float, float, dict[str, bool], str]:
    start = time.perf_counter()
    stats = build_reference_stats(reference)
    build_seconds = time.perf_counter() - start
    detect_drift(stats, current, prediction_column=None)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = detect_drift(stats, current, prediction_column=None)
        timings.append(time.perf_counter() - start)
    methods = ",".join(sorted({feature.method or "-" for feature in result.features}))
    verdicts = {feature.column: feature.drifted for feature in result.features}
    return statistics.median(timings), build_seconds, verdicts, methods


def time_evidently(reference: dict, current: dict, runs: int) -> tuple[float, dict[str, bool]]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference_frame, current_frame = pd.DataFrame(reference), pd.DataFrame(current)
    timings = []
    snapshot = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for attempt in range(runs + 1):
            start = time.perf_counter()
            snapshot = Report([DataDriftPreset()], include_tests=True).run(current_frame, reference_frame)
            if attempt:  # the first run warms up caches and lazy imports
                timings.append(time.perf_counter() - start)
    verdicts = {
        test["name"][len(VALUE_DRIFT_TEST) :]: test["status"] == "FAIL"
        for test in snapshot.dict()["tests"]
        if test["name"].startswith(VALUE_DRIFT_TEST)
    }
    return statistics.median(timings), verdicts


def run_case(name: str, reference_rows: int, args: argparse.Namespace) -> CaseResult:
    reference, current = make_data(reference_rows, args.rows, args.features, args.seed)
    ours_seconds, build_seconds, ours, methods = time_engine(reference, current, args.repeats)
    evidently_seconds, theirs = time_evidently(reference, current, args.evidently_runs)
    agree = sum(ours[column] == theirs.get(column) for column in ours) / len(ours)
    return CaseResult(
        name=name,
        reference_rows=reference_rows,
        current_rows=args.rows,
        features=args.features,
        modelhealthd_seconds=ours_seconds,
        build_seconds=build_seconds,
        evidently_seconds=evidently_seconds,
        agreement=agree,
        drifted_ours=sum(ours.values()),
        drifted_evidently=sum(theirs.values()),
        methods=methods,
    )


def print_table(results: list[CaseResult]) -> None:
    header = (
        f"{'case':<16}{'ref rows':>9}{'cur rows':>9}{'feat':>5}  {'method':<12}{'ours s':>9}{'build s':>9}"
        f"{'evidently s':>12}{'speedup':>9}{'agree':>7}{'drifted ours/evid':>19}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<16}{r.reference_rows:>9}{r.current_rows:>9}{r.features:>5}  {r.methods:<12}"
            f"{r.modelhealthd_seconds:>9.4f}{r.build_seconds:>9.4f}{r.evidently_seconds:>12.3f}"
            f"{r.speedup:>8.0f}x{r.agreement:>7.3f}{f'{r.drifted_ours}/{r.drifted_evidently}':>19}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--small-reference-rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--evidently-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = [
        run_case("large reference", args.rows, args),
        run_case("small reference", args.small_reference_rows, args),
    ]
    print_table(results)
    main_case, small = results
    print(
        json.dumps(
            {
                "speedup_vs_evidently": round(main_case.speedup, 1),
                "verdict_agreement": main_case.agreement,
                "modelhealthd_seconds": round(main_case.modelhealthd_seconds, 6),
                "evidently_seconds": round(main_case.evidently_seconds, 3),
                "rows": main_case.current_rows,
                "features": main_case.features,
                "small_reference_speedup": round(small.speedup, 1),
                "small_reference_agreement": small.agreement,
                "small_reference_rows": small.reference_rows,
            }
        )
    )


if __name__ == "__main__":
    main()
