"""Labels that contradict the champion in a pattern: a class mapping gone wrong in the label feed.

A drifted classifier loses accuracy towards chance. Labels that agree with the champion *below*
chance, while one class-to-class mapping of its predictions explains most of them, say that
the feed shifts or swaps classes (an off-by-one join, flipped binary labels): the champion
calls a row class 0 and the feed says 1, again and again. Training on them would teach the
mapping error, and a gate that measures on the same labels could even reward it. A job that
meets such labels stops and names the mapping, so a person looks at the feed.

    check_label_agreement(champion_predictions, labels, classes, "job 42 recent window")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from reoptimize.train.tables import DataError, to_scalar

MIN_ROWS = 30
MIN_MAPPED_ACCURACY = 0.5
MIN_GAIN = 0.3


def mapped_accuracy(predicted: Sequence[Any], labels: Sequence[Any]) -> tuple[float, dict[Any, Any]]:
    """The accuracy when each predicted class is read as the label it most often has, and that mapping."""
    pairs = Counter(zip(map(to_scalar, predicted), map(to_scalar, labels), strict=True))
    best: dict[Any, tuple[Any, int]] = {}
    for (p, label), n in pairs.items():
        if p not in best or n > best[p][1]:
            best[p] = (label, n)
    total = sum(pairs.values())
    hits = sum(n for _, n in best.values())
    return (hits / total if total else 0.0), {p: label for p, (label, _) in best.items()}


def check_label_agreement(
    predicted: Sequence[Any], labels: Sequence[Any], classes: Sequence[Any], where: str
) -> None:
    """Raise :class:`DataError` when ``labels`` look like the champion's classes mapped wrongly.

    That is: at least ``MIN_ROWS`` rows, the champion agrees with the labels less often than
    chance (one in the number of classes), and the best class mapping of its predictions agrees
    at least ``MIN_MAPPED_ACCURACY`` and ``MIN_GAIN`` more often than the identity.
    """
    n = len(labels)
    if n < MIN_ROWS or len(classes) < 2:
        return
    identity = sum(to_scalar(p) == to_scalar(y) for p, y in zip(predicted, labels, strict=True)) / n
    mapped, mapping = mapped_accuracy(predicted, labels)
    if identity >= 1 / len(classes) or mapped < MIN_MAPPED_ACCURACY or mapped - identity < MIN_GAIN:
        return
    moved = ", ".join(f"{p!r}->{y!r}" for p, y in sorted(mapping.items(), key=repr) if p != y)
    raise DataError(
        f"{where}: the labels agree with the champion on {identity:.0%} of {n} rows, below chance "
        f"(1 in {len(classes)}), while reading its predictions as {moved} agrees on {mapped:.0%}; "
        "the label feed looks shifted or flipped between classes"
    )
