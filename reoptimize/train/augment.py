"""Data augmentation, chosen by name: one protocol, small pure NumPy implementations.

Config items are plain mappings such as ``{"kind": "shift", "strength": 0.05, "fraction": 0.5}``
or bare names such as ``"noise"``. ``fraction`` is how many new rows to add relative to the
input (0.5 adds half as many again); ``strength`` means, per kind:

============  =====================================================================
``noise``     noise std as a multiple of each feature's std (images: the pixel std)
``mixup``     the ``Beta(a, a)`` parameter of the blend weight (hard labels kept)
``smote``     largest step towards a same-class neighbour (1 = classic SMOTE)
``scale``     tabular: gain range ``1 ± strength``; images: zoom range ``1 ± strength``
``shift``     images: up to ``max(1, ceil(strength * side))`` whole pixels
``rotate``    images: up to ``strength * 180`` degrees
``blur``      images: Gaussian sigma ``max(0.5, strength * side)`` pixels
============  =====================================================================

Augmentation only ever touches training rows, never validation, holdout or evaluation rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from reoptimize.train.augment_image import Blur, Rotate, Shift, Zoom
from reoptimize.train.augment_tabular import Mixup, Noise, Scale, Smote

IMAGE_KINDS = ("shift", "rotate", "blur")
KINDS = ("noise", "mixup", "smote", "scale", *IMAGE_KINDS)


class AugmentError(ValueError):
    """An augmentation item that cannot be used; the message names the item and value."""


class Augmentation(Protocol):
    """One augmentation: from training rows ``X`` [N, F] and labels ``y`` [N], make new rows.

    ``apply`` returns only the new rows and their labels; it must not modify its inputs and
    must draw all randomness from ``rng`` so that a seed reproduces it.
    """

    # Read-only, so that frozen dataclasses (every augmentation here) satisfy the protocol.
    @property
    def name(self) -> str: ...

    def apply(
        self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class AugmentSpec:
    kind: str
    strength: float = 0.05
    fraction: float = 0.5

    @classmethod
    def parse(cls, item: Any, where: str = "augment") -> AugmentSpec:
        """Read a bare name or a ``{kind, strength, fraction}`` mapping."""
        if isinstance(item, AugmentSpec):
            return item
        if isinstance(item, str):
            item = {"kind": item}
        if not isinstance(item, Mapping):
            raise AugmentError(f"{where}: got {item!r}; expected a name or a mapping with 'kind'")
        unknown = set(item) - {"kind", "strength", "fraction"}
        if unknown:
            raise AugmentError(
                f"{where}: unknown field(s) {sorted(unknown)}; expected kind, strength, fraction"
            )
        kind = item.get("kind")
        if kind not in KINDS:
            raise AugmentError(f"{where}.kind: got {kind!r}; expected one of {', '.join(KINDS)}")
        spec = cls(kind=kind, strength=item.get("strength", 0.05), fraction=item.get("fraction", 0.5))
        for field, value, high in (("strength", spec.strength, None), ("fraction", spec.fraction, 4.0)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < 0
                or (high and value > high)
            ):
                limit = f"between 0 and {high}" if high else "a number >= 0"
                raise AugmentError(f"{where}.{field}: got {value!r}; expected {limit}")
        return spec

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "strength": self.strength, "fraction": self.fraction}


def build(
    spec: AugmentSpec, image_shape: tuple[int, int] | None = None, where: str = "augment"
) -> Augmentation:
    """The augmentation a spec names; image kinds need ``image_shape``."""
    s, f = float(spec.strength), float(spec.fraction)
    if spec.kind == "noise":
        return Noise(s, f, per_feature=image_shape is None)
    if spec.kind == "mixup":
        return Mixup(s, f)
    if spec.kind == "smote":
        return Smote(s, f)
    if spec.kind == "scale" and not image_shape:
        return Scale(s, f)
    images: dict[str, Callable[[tuple[int, int], float, float], Augmentation]]
    images = {"scale": Zoom, "shift": Shift, "rotate": Rotate, "blur": Blur}
    make = images[spec.kind]
    if image_shape is None:
        raise AugmentError(
            f"{where}: kind {spec.kind!r} works on images; set recipe.image_shape such as [8, 8]"
        )
    return make(image_shape, s, f)


def build_augmentations(
    items: Sequence[Any], image_shape: tuple[int, int] | None = None
) -> tuple[Augmentation, ...]:
    """Build every item of an ``augment`` list; errors name the item as ``augment[i]``."""
    if image_shape is not None:
        if len(image_shape) != 2 or any(not isinstance(v, int) or v < 1 for v in image_shape):
            raise AugmentError(f"image_shape {image_shape!r}: expected two positive integers such as [8, 8]")
        image_shape = (int(image_shape[0]), int(image_shape[1]))
    out = []
    for i, item in enumerate(items):
        spec = AugmentSpec.parse(item, f"augment[{i}]")
        out.append(build(spec, image_shape, f"augment[{i}]"))
    return tuple(out)


def augment_dataset(
    X: np.ndarray, y: np.ndarray, augmentations: Sequence[Augmentation], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The original rows followed by every augmentation's new rows (each made from the originals)."""
    parts_x, parts_y = [X], [y]
    for aug in augmentations:
        new_x, new_y = aug.apply(X, y, rng)
        if new_x.shape[1:] != X.shape[1:] or len(new_x) != len(new_y):
            raise AugmentError(f"augmentation {aug.name!r} returned shapes {new_x.shape} and {new_y.shape}")
        parts_x.append(new_x)
        parts_y.append(new_y)
    return np.concatenate(parts_x), np.concatenate(parts_y)


def augmentations_for_drift(
    drifted_features: Sequence[str], image_shape: tuple[int, int] | None = None, n_features: int | None = None
) -> tuple[AugmentSpec, ...]:
    """Augmentations that match the drift seen, for a retrain asked to pick them itself.

    The rule is deliberately simple:

    * nothing drifted: no augmentation;
    * images: drift in pixel distributions usually comes from framing (position, angle),
      so ``shift`` and ``rotate``, plus light ``noise`` for sensor changes;
    * tabular: ``noise`` around the training rows; when at least half of the features
      drifted (``n_features`` known), also ``mixup`` to fill the space between rows.
    """
    if not drifted_features:
        return ()
    if image_shape is not None:
        return (
            AugmentSpec("shift", 0.1, 1.0),
            AugmentSpec("rotate", 0.05, 0.5),
            AugmentSpec("noise", 0.05, 0.5),
        )
    specs = [AugmentSpec("noise", 0.1, 1.0)]
    if n_features and len(drifted_features) / n_features >= 0.5:
        specs.append(AugmentSpec("mixup", 0.4, 0.5))
    return tuple(specs)
