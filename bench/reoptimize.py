"""Re-optimization: fp32, dynamic int8, static int8, structured pruning, distillation and `auto`.

Two models of different shapes, each trained as a first version in a temporary registry:

* ``digits``: the demo's recipe (MLP 64-128-10 on scikit-learn's 8x8 digits);
* ``tabular``: a wider MLP (48-512-512-4) on a generated 4-class table of 12000 rows, big
  enough that its latency is measurable.

Every variant is built from the same champion by the same steps a job runs. ``dynamic int8``
is the one-line baseline a user would write by hand (``quantize_dynamic`` on the fp32 graph).
``auto`` is what ``pipeline: auto`` keeps for a latency rule: the job builds its candidates,
gates them against the champion and stages the best; the bench reads that version back.
All variants are then measured together in one interleaved run (same rows, same CPU, one
ONNX Runtime thread each), with holdout accuracy from the model's fixed holdout.

    .venv/bin/python bench/reoptimize.py [--models digits,tabular] [--rounds 3]

Each figure is the median over ``--rounds`` measurement runs. The last line printed is JSON;
the headline ratios are the worst case over the models.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DO_NOT_TRACK", "1")

from reoptimize.gate.evaluation import evaluate  # noqa: E402
from reoptimize.job.first_versions import train_first_version  # noqa: E402
from reoptimize.job.runner import JobData, JobSpec, run_job  # noqa: E402
from reoptimize.onnx.quantize import quantize_dynamic_bytes  # noqa: E402
from reoptimize.registry.backends import open_registry  # noqa: E402
from reoptimize.registry.registry import Registry  # noqa: E402
from reoptimize.steps.step import Candidate, StepInput  # noqa: E402
from reoptimize.train.recipe import RecipeSpec  # noqa: E402
from reoptimize.train.reference_frames import read_parquet_bytes  # noqa: E402

VARIANTS = ("fp32", "dynamic int8", "static int8", "structured-pruned", "distilled", "auto")
GOAL_THROUGHPUT, GOAL_DROP_PT = 1.3, 0.5


def digits_case(seed: int) -> tuple[pd.DataFrame, tuple[str, ...], dict]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    features = tuple(f"px_{i}" for i in range(64))
    frame = pd.DataFrame(x.astype(np.float32), columns=list(features))
    frame["label"] = y
    recipe = {
        "factory": "reoptimize.recipes.mlp:mlp",
        "params": {"hidden": [128]},
        "image_shape": [8, 8],
        "training": {"max_epochs": 80, "patience": 8, "learning_rate": 0.003},
    }
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True), features, recipe


def tabular_case(seed: int) -> tuple[pd.DataFrame, tuple[str, ...], dict]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=12000, n_features=48, n_informative=24, n_redundant=8, n_classes=4,
        n_clusters_per_class=2, class_sep=1.5, random_state=seed,
    )  # fmt: skip
    features = tuple(f"f{i:02d}" for i in range(48))
    frame = pd.DataFrame(x.astype(np.float32), columns=list(features))
    frame["label"] = y
    recipe = {
        "factory": "reoptimize.recipes.mlp:mlp",
        "params": {"hidden": [512, 512]},
        "training": {"max_epochs": 40, "patience": 5, "learning_rate": 0.001, "batch_size": 128},
    }
    return frame, features, recipe


CASES = {"digits": digits_case, "tabular": tabular_case}


def build_variants(registry: Registry, name: str, frame: pd.DataFrame, features, recipe) -> dict[str, bytes]:
    """The champion and every variant, as ONNX bytes, built by the job's own steps."""
    from reoptimize.steps.catalog import load_step

    n_train = int(len(frame) * 0.75)
    train_first_version(registry, name, recipe, frame.iloc[:n_train], features, "label")
    manifest = registry.verify(name, "1")
    champion = Candidate(
        name="champion",
        onnx_bytes=registry.read_bytes(name, "1", "model.onnx"),
        task="classification",
        classes=tuple(manifest.classes),
        weights=registry.read_bytes(name, "1", "weights.safetensors"),
        stats=dict(manifest.extra),
    )
    reference = read_parquet_bytes(registry.read_bytes(name, "1", "reference.parquet"))
    recent = frame.iloc[n_train:].reset_index(drop=True)
    recent["request_id"] = [f"{name}-{i}" for i in range(len(recent))]
    recent["ts"] = pd.date_range("2026-01-01", periods=len(recent), freq="s", tz="UTC")
    spec = RecipeSpec.from_dict(recipe)
    train = reference[[*features, "label"]]
    traffic = recent[list(features)]

    def step(step_name: str, params: dict) -> bytes:
        out = load_step(step_name).run(
            StepInput(champion, train, tuple(features), "label", spec, spec.training, params, traffic=traffic)
        )
        return out.candidate.onnx_bytes

    variants = {
        "fp32": champion.onnx_bytes,
        "dynamic int8": quantize_dynamic_bytes(champion.onnx_bytes),
        "static int8": step("quantize", {"quantize": {"mode": "static"}}),
        "structured-pruned": step("prune", {"prune": {"amount": 0.75}}),
        "distilled": step("distill", {"distill": {"width": 0.25}}),
    }
    job = JobSpec(
        job_id=f"bench-{name}",
        model=name,
        pipeline="auto",
        recipe=recipe,
        trigger={"rule": "slow-predictions", "inputs": {"latency_p95_seconds": 0.06, "request_rate": 5.0}},
    )
    started = time.perf_counter()
    result = run_job(job, JobData(reference, recent, tuple(features), "label"), registry)
    seconds = time.perf_counter() - started
    if result.staged_version is None:
        raise SystemExit(f"{name}: auto kept no candidate:\n{result.verdict.text()}")
    variants["auto"] = registry.read_bytes(name, result.staged_version, "model.onnx")
    print(f"{name}: auto kept {result.chosen} in {seconds:.1f}s")
    for record in result.candidates:
        print(f"  {record['name']} {record['plan']:<28} {record['status']:<9} {record['reason'][:110]}")
    return variants


def measure(registry: Registry, name: str, variants: dict[str, bytes], features, rounds: int) -> dict:
    manifest = registry.verify(name, "1")
    holdout = read_parquet_bytes(registry.read_bytes(name, "1", "holdout.parquet"))
    runs = [
        evaluate(variants, holdout, None, None, task="classification", features=features, label="label",
                 classes=tuple(manifest.classes), latency_runs=2000, batch_runs=100)
        for _ in range(rounds)
    ]  # fmt: skip
    table = {}
    for variant in variants:
        metrics = [run[variant] for run in runs]
        table[variant] = {
            "accuracy": metrics[0].holdout_accuracy,
            "p50_us": statistics.median(m.latency_p50_seconds for m in metrics) * 1e6,
            "p95_us": statistics.median(m.latency_p95_seconds for m in metrics) * 1e6,
            "throughput": statistics.median(m.batch_throughput_rows_per_second for m in metrics),
            "size": metrics[0].model_size_bytes,
        }
    return {"holdout_rows": len(holdout), "table": table}


def print_table(name: str, measured: dict) -> None:
    table = measured["table"]
    print(f"\n{name} (holdout {measured['holdout_rows']} rows)")
    print(
        f"{'variant':<20}{'accuracy':>9}{'p50 us':>9}{'p95 us':>9}{'rows/s':>12}{'size':>10}{'vs dynamic':>12}"
    )
    base = table["dynamic int8"]["throughput"]
    for variant, row in table.items():
        print(
            f"{variant:<20}{row['accuracy']:>9.4f}{row['p50_us']:>9.1f}{row['p95_us']:>9.1f}"
            f"{row['throughput']:>12.0f}{row['size']:>10}{row['throughput'] / base:>11.2f}x"
        )


def ratios(measured: dict) -> dict:
    t = measured["table"]
    return {
        "auto_vs_dynamic_throughput": round(t["auto"]["throughput"] / t["dynamic int8"]["throughput"], 3),
        "auto_vs_fp32_throughput": round(t["auto"]["throughput"] / t["fp32"]["throughput"], 3),
        "auto_accuracy_drop_pt": round((t["fp32"]["accuracy"] - t["auto"]["accuracy"]) * 100, 3),
        "dynamic_vs_fp32_throughput": round(t["dynamic int8"]["throughput"] / t["fp32"]["throughput"], 3),
        "static_vs_dynamic_throughput": round(
            t["static int8"]["throughput"] / t["dynamic int8"]["throughput"], 3
        ),
        "int8_size_ratio": round(t["static int8"]["size"] / t["fp32"]["size"], 3),
        "auto_size_ratio": round(t["auto"]["size"] / t["fp32"]["size"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="digits,tabular")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_model = {}
    with tempfile.TemporaryDirectory(prefix="bench-reoptimize-") as tmp:
        registry = open_registry(tmp)
        for name in args.models.split(","):
            frame, features, recipe = CASES[name](args.seed)
            variants = build_variants(registry, name, frame, features, recipe)
            measured = measure(registry, name, variants, features, args.rounds)
            print_table(name, measured)
            per_model[name] = ratios(measured)
    worst = {
        "auto_vs_dynamic_throughput": min(r["auto_vs_dynamic_throughput"] for r in per_model.values()),
        "auto_accuracy_drop_pt": max(r["auto_accuracy_drop_pt"] for r in per_model.values()),
        "int8_size_ratio": max(r["int8_size_ratio"] for r in per_model.values()),
    }
    worst["goal_met"] = (
        worst["auto_vs_dynamic_throughput"] >= GOAL_THROUGHPUT
        and worst["auto_accuracy_drop_pt"] <= GOAL_DROP_PT
    )
    print(json.dumps({**worst, "models": per_model, "rounds": args.rounds}))


if __name__ == "__main__":
    main()
