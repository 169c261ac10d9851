"""Loading the registry's production version, and the one reference a reload swaps.

A request reads :attr:`ModelSlot.current` once and uses that :class:`LoadedModel` to the end,
so a reload that swaps the reference mid-request never affects it: requests in flight finish on
the old session, and the old session is freed when the last of them lets go.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reoptimize.onnx.onnx_model import OnnxModel, OnnxModelError
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError


class ModelLoadError(Exception):
    """The production version cannot be served; the message names the model, version and file."""


@dataclass(frozen=True)
class LoadedModel:
    model: str
    version: str
    task: str
    features: tuple[str, ...]
    classes: tuple[object, ...]
    onnx: OnnxModel


def load_production(registry: Registry, model: str, *, threads: int = 1) -> LoadedModel:
    """Load and check the production version of ``model``; raises :class:`ModelLoadError`.

    Every file of the version is checked against its manifest, the ONNX bytes are hash-verified
    again as they are read, the session is built, and one all-zero row is run through it, so a
    model whose outputs do not fit the contract is refused before it serves.
    """
    try:
        version = registry.production(model)
    except RegistryError as exc:
        raise ModelLoadError(f"{model}: unreadable production pointer ({exc})") from None
    if version is None:
        raise ModelLoadError(f"{model}: the registry at {registry.location} has no production version")
    try:
        # The whole version first: a tampered, missing or planted file (a pickle, say) refuses
        # the version before any of its bytes reach a parser.
        manifest = registry.verify(model, version)
        data = registry.read_bytes(model, version, "model.onnx")
    except RegistryError as exc:
        raise ModelLoadError(f"{model} v{version}: {exc}") from None
    if not manifest.features:
        raise ModelLoadError(
            f"{model} v{version}: manifest lists no features; expected the model's input columns"
        )
    try:
        onnx = OnnxModel(data, task=manifest.task, classes=manifest.classes, threads=threads)
        if onnx.n_features is not None and onnx.n_features != len(manifest.features):
            raise ModelLoadError(
                f"{model} v{version}: model.onnx takes {onnx.n_features} features but the manifest lists"
                f" {len(manifest.features)}"
            )
        onnx.run(np.zeros((1, len(manifest.features)), dtype=np.float32))
    except OnnxModelError as exc:
        raise ModelLoadError(f"{model} v{version}: {exc}") from None
    except ModelLoadError:
        raise
    except Exception as exc:  # onnxruntime raises its own types at run time
        raise ModelLoadError(f"{model} v{version}: model.onnx fails on a test row ({exc})") from None
    return LoadedModel(
        model=model,
        version=version,
        task=manifest.task,
        features=tuple(manifest.features),
        classes=tuple(onnx.classes),
        onnx=onnx,
    )


class ModelSlot:
    """Holds the model being served; reloads are serialized, reads never wait."""

    def __init__(
        self,
        registry: Registry,
        model: str,
        *,
        threads: int = 1,
        on_swap: Callable[[LoadedModel], None] | None = None,
    ):
        self.registry = registry
        self.on_swap = on_swap
        self.model = model
        self.threads = threads
        self.current: LoadedModel | None = None
        self.not_ready_reason: str = f"{model}: no model loaded yet"
        self._reload_lock = threading.Lock()

    def reload(self) -> tuple[LoadedModel, LoadedModel | None]:
        """Load production and swap it in; returns (new, previous). On error the old model stays."""
        with self._reload_lock:
            try:
                loaded = load_production(self.registry, self.model, threads=self.threads)
            except ModelLoadError as exc:
                if self.current is None:
                    self.not_ready_reason = str(exc)
                raise
            previous, self.current = self.current, loaded
            if self.on_swap is not None:
                # Under the lock, so what observers record follows the order of the swaps.
                self.on_swap(loaded)
            return loaded, previous
