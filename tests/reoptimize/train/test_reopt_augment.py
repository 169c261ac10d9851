from __future__ import annotations

import numpy as np
import pytest

from reoptimize.train.augment import (
    KINDS,
    AugmentError,
    AugmentSpec,
    augment_dataset,
    augmentations_for_drift,
    build_augmentations,
)

SHAPE = (8, 8)


def digits_xy(digits, n=300):
    x = digits.iloc[:n, :64].to_numpy(dtype=np.float32)
    y = digits["label"].to_numpy()[:n]
    return x, y


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_keeps_shapes_labels_and_is_seeded(digits, kind):
    x, y = digits_xy(digits)
    (aug,) = build_augmentations([{"kind": kind, "strength": 0.1, "fraction": 0.5}], SHAPE)
    before = x.copy()
    new_x, new_y = aug.apply(x, y, np.random.default_rng(3))
    again_x, again_y = aug.apply(x, y, np.random.default_rng(3))
    other_x, _ = aug.apply(x, y, np.random.default_rng(4))
    assert new_x.shape == (150, 64) and new_y.shape == (150,)
    assert new_x.dtype == x.dtype and new_y.dtype == y.dtype
    assert set(new_y.tolist()) <= set(y.tolist())
    assert np.array_equal(new_x, again_x) and np.array_equal(new_y, again_y)
    assert not np.array_equal(new_x, other_x)
    assert np.array_equal(x, before), "an augmentation must not modify its input"
    assert np.isfinite(new_x).all()


def test_tabular_kinds_work_without_an_image_shape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    for kind in ("noise", "mixup", "smote", "scale"):
        (aug,) = build_augmentations([kind])
        new_x, new_y = aug.apply(x, y, rng)
        assert new_x.shape == (50, 5) and set(new_y.tolist()) <= {0, 1}


def test_image_kinds_need_an_image_shape():
    with pytest.raises(AugmentError, match=r"augment\[1\]: kind 'shift' works on images"):
        build_augmentations(["noise", {"kind": "shift"}])


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"kind": "warp"}, r"augment\[0\]\.kind: got 'warp'"),
        ({"kind": "noise", "strength": -1}, r"augment\[0\]\.strength: got -1"),
        ({"kind": "noise", "fraction": 9}, r"augment\[0\]\.fraction: got 9; expected between 0 and 4"),
        ({"kind": "noise", "amount": 1}, "unknown field"),
        (42, "expected a name or a mapping"),
    ],
)
def test_bad_items_are_named(item, message):
    with pytest.raises(AugmentError, match=message):
        build_augmentations([item], SHAPE)


def test_shift_moves_a_single_pixel_by_at_most_the_limit():
    x = np.zeros((1, 64), dtype=np.float32)
    x[0, 3 * 8 + 4] = 1.0  # pixel (3, 4)
    (aug,) = build_augmentations([{"kind": "shift", "strength": 0.2, "fraction": 4}], SHAPE)
    new_x, _ = aug.apply(np.repeat(x, 20, axis=0), np.zeros(20, dtype=np.int64), np.random.default_rng(0))
    limit = int(np.ceil(0.2 * 8))
    moved = set()
    for row in new_x:
        assert row.sum() == pytest.approx(1.0)
        r, c = divmod(int(row.argmax()), 8)
        assert abs(r - 3) <= limit and abs(c - 4) <= limit
        moved.add((r, c))
    assert len(moved) > 3


def test_rotate_keeps_a_centred_blob_and_blur_spreads_it():
    blob = np.zeros((8, 8), dtype=np.float32)
    blob[3:5, 3:5] = 4.0
    x = blob.reshape(1, 64)
    y = np.zeros(1, dtype=np.int64)
    (rotate, blur) = build_augmentations(
        [
            {"kind": "rotate", "strength": 0.5, "fraction": 1},
            {"kind": "blur", "strength": 0.1, "fraction": 1},
        ],
        SHAPE,
    )
    rotated, _ = rotate.apply(x, y, np.random.default_rng(0))
    assert rotated.sum() == pytest.approx(x.sum(), rel=0.25)
    blurred, _ = blur.apply(x, y, np.random.default_rng(0))
    assert blurred.max() < x.max()
    assert blurred.sum() == pytest.approx(x.sum(), rel=1e-4)
    assert (blurred > 0).sum() > (x > 0).sum()


def test_noise_scale_follows_strength():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4000, 3)) * np.array([1.0, 10.0, 100.0])).astype(np.float32)
    y = np.zeros(4000, dtype=np.int64)
    (aug,) = build_augmentations([{"kind": "noise", "strength": 0.1, "fraction": 1}])
    new_x, _ = aug.apply(x, y, np.random.default_rng(1))
    # Each new row is a source row plus noise; compare with the closest original row.
    base = x[np.random.default_rng(1).integers(0, len(x), size=len(x))]
    ratio = (new_x - base).std(axis=0) / x.std(axis=0)
    assert ratio == pytest.approx([0.1, 0.1, 0.1], rel=0.1)


def test_smote_and_mixup_stay_inside_their_class():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, size=(50, 2))
    b = rng.uniform(100, 101, size=(50, 2))
    x = np.vstack([a, b]).astype(np.float32)
    y = np.array([0] * 50 + [1] * 50)
    (smote,) = build_augmentations([{"kind": "smote", "strength": 1.0, "fraction": 2}])
    new_x, new_y = smote.apply(x, y, rng)
    assert ((new_x < 1.0 + 1e-5).all(axis=1) == (new_y == 0)).all()
    assert ((new_x > 100.0 - 1e-5).all(axis=1) == (new_y == 1)).all()
    (mixup,) = build_augmentations([{"kind": "mixup", "strength": 0.4, "fraction": 2}])
    mixed_x, mixed_y = mixup.apply(x, y, rng)
    # The source row always weighs at least half, so a row keeps the side of its label.
    assert ((mixed_x.mean(axis=1) < 50.5) == (mixed_y == 0)).all()


def test_regression_labels_are_interpolated_by_mixup():
    x = np.array([[0.0], [10.0]], dtype=np.float32)
    y = np.array([0.0, 10.0], dtype=np.float32)
    (mixup,) = build_augmentations([{"kind": "mixup", "strength": 1.0, "fraction": 4}])
    new_x, new_y = mixup.apply(x, y, np.random.default_rng(0))
    assert np.allclose(new_x[:, 0], new_y, atol=1e-5)
    assert ((new_y > 0.01) & (new_y < 9.99)).any()


def test_augment_dataset_appends_new_rows_after_the_originals(digits):
    x, y = digits_xy(digits, 100)
    augs = build_augmentations(["noise", {"kind": "shift", "fraction": 1.0}], SHAPE)
    big_x, big_y = augment_dataset(x, y, augs, np.random.default_rng(0))
    assert big_x.shape == (250, 64)
    assert np.array_equal(big_x[:100], x) and np.array_equal(big_y[:100], y)


def test_augmentations_for_drift():
    assert augmentations_for_drift([], SHAPE) == ()
    image = [s.kind for s in augmentations_for_drift(["px3", "px4"], SHAPE)]
    assert image == ["shift", "rotate", "noise"]
    assert [s.kind for s in augmentations_for_drift(["a"], None, n_features=10)] == ["noise"]
    assert [s.kind for s in augmentations_for_drift(["a", "b", "c"], None, n_features=4)] == [
        "noise",
        "mixup",
    ]
    assert all(isinstance(s, AugmentSpec) for s in augmentations_for_drift(["a"], None))
