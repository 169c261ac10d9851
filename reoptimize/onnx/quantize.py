"""ONNX Runtime quantization: dynamic int8, and static QDQ int8 calibrated on recent traffic.

Only matrix products (``Gemm``, ``MatMul``, ``Conv``) are quantized: they hold nearly all of
an MLP's bytes and multiply-adds, while quantizing the standardization and the softmax
would cost accuracy for no speed. Node names are what ``nodes_to_exclude`` refers to.

Static QDQ leaves the outputs of the matrix products unquantized
(``OpTypesToExcludeOutputQuantization``): the activation after them is quantized anyway, and
a second quantize/dequantize pair between a ``Gemm`` and its ``Relu`` keeps ONNX Runtime from
chaining the int8 kernels (measured here: ``QGemm -> QGemm`` instead of
``QGemm -> DequantizeLinear -> QuantizeLinear -> QGemm``, about 1.2x the batch throughput).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import onnx

QUANTIZED_OPS = ("Gemm", "MatMul", "Conv")
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
CALIBRATION_BATCH = 64


class _QuietQuantizer(logging.Filter):
    """Drop ONNX Runtime's advice to pre-process, which it logs on every call for plain MLPs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage() and "pre-processing" not in record.getMessage()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    flt = _QuietQuantizer()
    root = logging.getLogger()
    root.addFilter(flt)
    try:
        yield
    finally:
        root.removeFilter(flt)


def named_model(onnx_bytes: bytes) -> onnx.ModelProto:
    """The model with a unique name on every node (the exporter leaves some unnamed)."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)
    return model


def quantizable_nodes(onnx_bytes: bytes) -> list[str]:
    """Names of the nodes the quantizer may touch, in graph order."""
    return [n.name for n in named_model(onnx_bytes).graph.node if n.op_type in QUANTIZED_OPS]


def quantize_dynamic_bytes(
    onnx_bytes: bytes, *, per_channel: bool = False, nodes_to_exclude: Sequence[str] = ()
) -> bytes:
    """Weights to int8 ahead of time, activations quantized on the fly at every call."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="modelhealthd-quant-") as tmp, _quiet():
        out = Path(tmp) / "dynamic.onnx"
        quantize_dynamic(
            named_model(onnx_bytes),
            out,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(nodes_to_exclude),
        )
        return out.read_bytes()


class _CalibrationReader(Protocol):
    """What the calibrator asks of a reader: the next batch of inputs, or None at the end."""

    def get_next(self) -> dict[str, np.ndarray] | None: ...


def _reader(input_name: str, rows: np.ndarray) -> _CalibrationReader:
    from onnxruntime.quantization import CalibrationDataReader

    # onnxruntime ships no type information, so its base class is Any to mypy.
    class RowsReader(CalibrationDataReader):  # type: ignore[misc]
        """Feeds calibration rows in batches of 64 to the calibrator."""

        def __init__(self) -> None:
            self.batches = iter(
                [
                    {input_name: np.ascontiguousarray(rows[i : i + CALIBRATION_BATCH], dtype=np.float32)}
                    for i in range(0, len(rows), CALIBRATION_BATCH)
                ]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    return RowsReader()


def quantize_static_bytes(
    onnx_bytes: bytes,
    calibration: np.ndarray,
    *,
    per_channel: bool = False,
    method: str = "minmax",
    nodes_to_exclude: Sequence[str] = (),
    nodes_to_quantize: Sequence[str] | None = None,
) -> bytes:
    """QDQ int8 with activation ranges calibrated on ``calibration`` rows (raw features [N, F])."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method {method!r}: expected one of {', '.join(CALIBRATION_METHODS)}")
    if len(calibration) == 0:
        raise ValueError("static quantization needs calibration rows; none were given")
    model = named_model(onnx_bytes)
    input_name = model.graph.input[0].name
    calibrate = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[method]
    with tempfile.TemporaryDirectory(prefix="modelhealthd-quant-") as tmp, _quiet():
        out = Path(tmp) / "static.onnx"
        quantize_static(
            model,
            out,
            _reader(input_name, np.asarray(calibration, dtype=np.float32)),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(nodes_to_exclude),
            nodes_to_quantize=list(nodes_to_quantize) if nodes_to_quantize is not None else None,
            calibrate_method=calibrate,
            extra_options={"OpTypesToExcludeOutputQuantization": list(QUANTIZED_OPS)},
        )
        return out.read_bytes()
