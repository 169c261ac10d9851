"""Quantize: ONNX Runtime int8, dynamic or static QDQ, within an accuracy budget.

``with: {quantize: {mode: static, accuracy_budget: 0.005, calibration_rows: 1000}}``

* ``static`` (default) calibrates activation ranges on recent traffic (``StepInput.traffic``;
  the training rows when fewer than 64 recent rows exist) and writes a QDQ graph;
* ``dynamic`` quantizes the weights only and the activations at run time.

The budget is the largest loss the step accepts against its input model, on labelled
training rows: accuracy points for classifiers (0.005 = 0.5 pt), relative RMSE increase for
regressors. When the fully quantized model is over budget, each node's cost is measured
alone (only that node quantized) and the costliest nodes are excluded, one at a time, until
the budget holds. The step reports which nodes it excluded and why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from reoptimize.steps.step import TRAFFIC, Candidate, StepError, StepInput, StepOutput, step_params
from reoptimize.tasks.task import task_named
from reoptimize.train.settings import check_number

DEFAULTS = {
    "mode": "static",
    "accuracy_budget": 0.005,
    "calibration_rows": 1000,
    "calibration": "minmax",
    "per_channel": False,
    "check_rows": 2000,
}
if TYPE_CHECKING:
    import pandas as pd

MODES = ("static", "dynamic")
MIN_TRAFFIC_ROWS = 64


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    from reoptimize.onnx.quantize import CALIBRATION_METHODS

    p = step_params(params, "quantize", DEFAULTS)
    if p["mode"] not in MODES:
        raise StepError(f"with.quantize.mode: got {p['mode']!r}; expected one of {', '.join(MODES)}")
    if p["calibration"] not in CALIBRATION_METHODS:
        raise StepError(
            f"with.quantize.calibration: got {p['calibration']!r}; expected one of {', '.join(CALIBRATION_METHODS)}"
        )
    if not isinstance(p["per_channel"], bool):
        raise StepError(f"with.quantize.per_channel: got {p['per_channel']!r}; expected true or false")
    check_number("with.quantize.accuracy_budget", p["accuracy_budget"], low=0)
    check_number("with.quantize.calibration_rows", p["calibration_rows"], integer=True, low=1)
    check_number("with.quantize.check_rows", p["check_rows"], integer=True, low=1)
    return p


def spread(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """At most ``rows`` rows, evenly spaced over the frame (old and new traffic alike)."""
    if len(frame) <= rows:
        return frame
    return frame.iloc[np.linspace(0, len(frame) - 1, num=rows).astype(int)]


class Scorer:
    """Quality of a model on fixed labelled rows, in its task's primary metric (accuracy, or RMSE)."""

    def __init__(self, candidate: Candidate, x: np.ndarray, y: np.ndarray):
        from reoptimize.train.tables import to_scalar

        self.candidate, self.x = candidate, x
        self.task = task_named(candidate.task)
        self.truth = [to_scalar(v) for v in y]

    def score(self, onnx_bytes: bytes) -> float:
        from reoptimize.onnx.onnx_model import OnnxModel
        from reoptimize.train.tables import to_scalar

        model = OnnxModel(onnx_bytes, task=self.task, classes=self.candidate.classes)
        predicted = [to_scalar(v) for v in model.run(self.x).labels]
        return self.task.score(predicted, self.truth)

    def loss(self, base: float, score: float) -> float:
        """What quantization cost: accuracy points lost, or relative RMSE added."""
        return self.task.quality_loss(base, score)


class QuantizeStep:
    """Quantize the current ONNX graph to int8; exclude nodes until the accuracy budget holds."""

    name = "quantize"
    needs: frozenset[str] = frozenset({TRAFFIC})
    budget_share: float | None = None

    def run(self, step_input: StepInput) -> StepOutput:
        from reoptimize.onnx.graph_opt import fuse_standardization
        from reoptimize.onnx.quantize import quantizable_nodes, quantize_dynamic_bytes, quantize_static_bytes
        from reoptimize.train.tables import validate_training_frame

        inp = step_input
        p = read_params(dict(inp.params))
        # Graphs exported before the fused standardization existed get it here: same answers, one node less.
        current = replace(inp.current, onnx_bytes=fuse_standardization(inp.current.onnx_bytes))
        if "quantization" in current.stats:
            raise StepError(
                f"quantize: {current.name} is already quantized ({current.stats['quantization']['mode']})"
            )
        validate_training_frame(inp.train, inp.features, inp.label, current.task, where="quantize check rows")
        check = spread(inp.train, int(p["check_rows"]))
        scorer = Scorer(current, check[list(inp.features)].to_numpy(np.float32), check[inp.label].to_numpy())
        calibration, source = self._calibration(inp, int(p["calibration_rows"]), p["mode"])
        nodes = quantizable_nodes(current.onnx_bytes)
        if not nodes:
            raise StepError(f"quantize: {current.name} has no Gemm, MatMul or Conv node to quantize")

        def quantize(exclude: list[str] | tuple[str, ...] = (), only: list[str] | None = None) -> bytes:
            if p["mode"] == "dynamic":
                skip = [n for n in nodes if n not in only] if only is not None else list(exclude)
                return quantize_dynamic_bytes(
                    current.onnx_bytes, per_channel=p["per_channel"], nodes_to_exclude=skip
                )
            return quantize_static_bytes(
                current.onnx_bytes,
                calibration,
                per_channel=p["per_channel"],
                method=p["calibration"],
                nodes_to_exclude=list(exclude),
                nodes_to_quantize=only,
            )

        inp.progress({"stage": "quantize", "step": self.name, "mode": p["mode"], "nodes": len(nodes)})
        base = scorer.score(current.onnx_bytes)
        budget = float(p["accuracy_budget"])
        quantized = quantize()
        score = scorer.score(quantized)
        excluded: list[str] = []
        sensitivity: dict[str, float] = {}
        if scorer.loss(base, score) > budget:
            for node in nodes:
                inp.progress({"stage": "quantize", "step": self.name, "sensitivity_of": node})
                sensitivity[node] = scorer.loss(base, scorer.score(quantize(only=[node])))
            for node in sorted(nodes, key=lambda n: -sensitivity[n]):
                if scorer.loss(base, score) <= budget or len(excluded) == len(nodes) - 1:
                    break
                excluded.append(node)
                quantized = quantize(exclude=excluded)
                score = scorer.score(quantized)
        loss = scorer.loss(base, score)
        metric = scorer.task.primary_metric
        info: dict[str, Any] = {
            "step": self.name,
            "mode": p["mode"],
            "calibration": {"rows": int(len(calibration)), "source": source, "method": p["calibration"]}
            if p["mode"] == "static"
            else None,
            "per_channel": p["per_channel"],
            "quantized_nodes": [n for n in nodes if n not in excluded],
            "excluded_nodes": [
                {
                    "node": n,
                    "cost_alone": sensitivity[n],
                    "why": f"quantizing it alone costs {sensitivity[n]:.4g} {metric}",
                }
                for n in excluded
            ],
            "check": {
                "rows": int(len(check)),
                "metric": metric,
                "before": base,
                "after": score,
                "loss": loss,
            },
            "accuracy_budget": budget,
            "size_ratio": len(quantized) / max(1, len(current.onnx_bytes)),
        }
        veto = None
        if loss > budget:
            veto = (
                f"quantization costs {loss:.4g} {metric} on {len(check)} training rows even with "
                f"{len(excluded)} of {len(nodes)} nodes excluded; the budget is {budget:g}"
            )
        candidate = replace(
            current,
            name=f"{current.name}+quantize",
            onnx_bytes=quantized,
            stats={
                **current.stats,
                "quantization": {k: info[k] for k in ("mode", "quantized_nodes", "accuracy_budget")},
            },
            info=info,
        )
        return StepOutput(candidate=candidate, info=info, veto=veto)

    @staticmethod
    def _calibration(inp: StepInput, rows: int, mode: str) -> tuple[np.ndarray, str]:
        if mode != "static":
            return np.empty((0, len(inp.features)), dtype=np.float32), "none"
        traffic = inp.traffic
        if traffic is not None and len(traffic) >= MIN_TRAFFIC_ROWS:
            return spread(traffic, rows)[list(inp.features)].to_numpy(np.float32), "recent traffic"
        return spread(inp.train, rows)[list(inp.features)].to_numpy(np.float32), "training rows"


def make_step() -> QuantizeStep:
    return QuantizeStep()
