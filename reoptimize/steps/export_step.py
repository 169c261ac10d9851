"""Export: the framework switch from PyTorch to ONNX, checked numerically against torch.

``with: {export: {tolerance: 1e-4, opset: 17}}``. The current model's torch module (trained
by an earlier step, or rebuilt from the version's weights) is exported again and ONNX
Runtime's outputs are compared with torch's on training rows; the largest difference and
the tolerance are recorded, and an export outside the tolerance fails the step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from reoptimize.steps.step import RECIPE, TORCH, WEIGHTS, StepInput, StepOutput, step_params
from reoptimize.train.settings import check_number

DEFAULTS = {"tolerance": 1e-4, "opset": 17}


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    p = step_params(params, "export", DEFAULTS)
    check_number("with.export.tolerance", p["tolerance"], low=0)
    check_number("with.export.opset", p["opset"], integer=True, low=13, high=22)
    return p


class ExportStep:
    """Re-export the torch module to ONNX and record how closely ONNX Runtime reproduces it."""

    name = "export"
    needs: frozenset[str] = frozenset({RECIPE, TORCH, WEIGHTS})
    budget_share: float | None = None

    def run(self, step_input: StepInput) -> StepOutput:
        from reoptimize.steps.torch_candidate import export_sample, trained_of
        from reoptimize.train.export import export_onnx

        inp = step_input
        p = read_params(dict(inp.params))
        trained = trained_of(inp.current, self.name)
        x = inp.train[list(inp.features)].to_numpy(np.float32)
        inp.progress({"stage": "export", "step": self.name})
        export = export_onnx(
            trained,
            trained.n_features,
            sample=export_sample(x),
            tolerance=float(p["tolerance"]),
            opset=int(p["opset"]),
        )
        info = {"step": self.name, "export": export.to_json(), "rows_checked": int(len(export_sample(x)))}
        candidate = replace(
            inp.current,
            name=f"{inp.current.name}+export",
            onnx_bytes=export.onnx_bytes,
            trained=trained,
            stats={**trained.stats_json(), "export": export.to_json()},
            info=info,
        )
        return StepOutput(candidate=candidate, info=info)


def make_step() -> ExportStep:
    return ExportStep()
