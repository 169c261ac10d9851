"""Model cards: one page per version with its metrics, lineage, gate verdict and a surrogate.

``build_model_card(registry, model, version)`` reads a stored version; :func:`card_for` builds
the card of a version that is being staged (so ``model_card.md`` and ``model_card.json`` are
written into the version directory with everything else, and hashed by its manifest).

Example::

    card = build_model_card(open_registry("registry"), "digits", "2")
    print(card_markdown(card))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.cards.card import ModelCard
from reoptimize.cards.card_text import card_markdown
from reoptimize.cards.surrogate import Surrogate, fit_surrogate
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Addendum, Registry
from reoptimize.train.reference_frames import PREDICTION, read_parquet_bytes

CARD_FILES = ("model_card.md", "model_card.json")
SURROGATE_ROWS = 5000


def card_for(
    *,
    model: str,
    version: str,
    parent: str | None,
    task: str,
    features: Sequence[str],
    label: str,
    classes: Sequence[Any],
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    files: Mapping[str, bytes],
    extra: Mapping[str, Any],
    reference: pd.DataFrame,
    onnx_bytes: bytes,
) -> ModelCard:
    """The card of a version about to be written; ``files`` are its other artifacts' bytes."""
    return ModelCard(
        model=model,
        version=version,
        parent=parent,
        task=task,
        features=tuple(features),
        label=label,
        classes=tuple(classes),
        metrics=dict(metrics),
        lineage=dict(lineage),
        files={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        training=_training(extra),
        surrogate=surrogate_for(reference, features, task, onnx_bytes, classes),
    )


def add_version_with_card(
    registry: Registry,
    model: str,
    files: Mapping[str, bytes],
    *,
    parent: str | None,
    task: str,
    features: Sequence[str],
    label: str,
    classes: Sequence[Any],
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    extra: Mapping[str, Any],
    reference: pd.DataFrame,
    version_lineage: Callable[[str], Mapping[str, Any]] = lambda version: {},
) -> Manifest:
    """Write ``files`` as the next version of ``model``, with its model card among them.

    The registry assigns the version; the card, and the lineage entries ``version_lineage``
    returns for it (a verdict that names the new version), are built once it has.
    """
    features, classes = tuple(features), tuple(classes)

    def finish(version: str) -> Addendum:
        named = dict(version_lineage(version))
        card = card_for(
            model=model, version=version, parent=parent, task=task, features=features, label=label,
            classes=classes, metrics=metrics, lineage={**lineage, **named}, files=files, extra=extra,
            reference=reference, onnx_bytes=files["model.onnx"],
        )  # fmt: skip
        return Addendum(files=card_files(card), lineage=named)

    return registry.add_version(
        model, files, parent=parent, task=task, features=features, label=label, classes=classes,
        metrics=metrics, lineage=lineage, extra=dict(extra), finish=finish,
    )  # fmt: skip


def card_files(card: ModelCard) -> dict[str, bytes]:
    """``model_card.md`` and ``model_card.json`` as bytes, ready for the registry."""
    return {
        "model_card.md": card_markdown(card).encode(),
        "model_card.json": json.dumps(card.to_json(), indent=2, sort_keys=True, default=str).encode(),
    }


def build_model_card(registry: Registry, model: str, version: str) -> ModelCard:
    """The card of a stored version, built from its verified manifest, reference and model."""
    manifest = registry.verify(model, version)
    reference = pd.DataFrame()
    if "reference.parquet" in manifest.files:
        reference = read_parquet_bytes(registry.read_bytes(model, version, "reference.parquet"))
    return ModelCard(
        model=model,
        version=version,
        parent=manifest.parent,
        task=manifest.task,
        features=tuple(manifest.features),
        label=manifest.label,
        classes=tuple(manifest.classes),
        metrics=dict(manifest.metrics),
        lineage=dict(manifest.lineage),
        files={k: v for k, v in manifest.files.items() if k not in CARD_FILES},
        training=_training(manifest.extra),
        surrogate=surrogate_for(
            reference,
            manifest.features,
            manifest.task,
            registry.read_bytes(model, version, "model.onnx"),
            manifest.classes,
        ),
    )


def surrogate_for(
    reference: pd.DataFrame, features: Sequence[str], task: str, onnx_bytes: bytes, classes: Sequence[Any]
) -> Surrogate | None:
    """Fit the surrogate to the model's predictions on (up to 5000 of) its reference rows."""
    if not len(reference) or not features or any(f not in reference.columns for f in features):
        return None
    frame = reference.iloc[
        np.linspace(0, len(reference) - 1, num=min(len(reference), SURROGATE_ROWS)).astype(int)
    ]
    x = frame[list(features)].to_numpy(np.float32)
    if PREDICTION in frame.columns and frame[PREDICTION].notna().all():
        predictions = frame[PREDICTION].tolist()
    else:
        from reoptimize.onnx.onnx_model import OnnxModel

        predictions = OnnxModel(onnx_bytes, task=task, classes=classes).run(x).labels
    return fit_surrogate(x, predictions, features, task)


def _training(extra: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("factory", "params", "export", "quantization")
    return {k: extra[k] for k in keys if k in extra}
