"""The label-agreement check: a feed that maps classes wrongly is refused; drift is not."""

from __future__ import annotations

import random

import pytest

from reoptimize.gate.label_check import check_label_agreement, mapped_accuracy
from reoptimize.train.tables import DataError

CLASSES = (0, 1, 2)


def truth(n: int = 300, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(3) for _ in range(n)]


def test_labels_shifted_by_one_class_are_refused_naming_the_mapping() -> None:
    predicted = truth()
    labels = [(p + 1) % 3 for p in predicted]
    with pytest.raises(
        DataError, match=r"agree with the champion on 0% of 300 rows.* 0->1, 1->2, 2->0 agrees on 100%"
    ):
        check_label_agreement(predicted, labels, CLASSES, "job j recent window")


def test_flipped_binary_labels_with_some_errors_are_refused() -> None:
    rng = random.Random(1)
    predicted = [rng.randrange(2) for _ in range(200)]
    labels = [1 - p if rng.random() < 0.9 else p for p in predicted]
    with pytest.raises(DataError, match="shifted or flipped"):
        check_label_agreement(predicted, labels, (0, 1), "w")


@pytest.mark.parametrize("accuracy", [0.95, 0.6, 0.4])
def test_a_drifted_champion_at_or_above_chance_is_not_a_broken_feed(accuracy: float) -> None:
    rng = random.Random(2)
    labels = truth(400, seed=3)
    predicted = [y if rng.random() < accuracy else rng.choice([c for c in CLASSES if c != y]) for y in labels]
    check_label_agreement(predicted, labels, CLASSES, "w")


def test_random_labels_are_left_to_the_gate_and_few_rows_are_not_judged() -> None:
    check_label_agreement(truth(seed=4), truth(seed=5), CLASSES, "w")  # no mapping explains noise
    predicted = truth(20)
    check_label_agreement(predicted, [(p + 1) % 3 for p in predicted], CLASSES, "w")


def test_mapped_accuracy_reads_each_predicted_class_as_its_commonest_label() -> None:
    accuracy, mapping = mapped_accuracy([0, 0, 0, 1, 1], [1, 1, 0, 1, 1])
    assert accuracy == pytest.approx(4 / 5) and mapping == {0: 1, 1: 1}
