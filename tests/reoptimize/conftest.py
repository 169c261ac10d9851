"""Shared data for the reoptimize tests: scikit-learn's bundled digits, and a trained champion."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.reopt_steps import CANCER_FEATURES, CANCER_RECIPE

os.environ.setdefault("DO_NOT_TRACK", "1")


def _trained_root(
    factory: pytest.TempPathFactory, model: str, recipe: dict, rows: pd.DataFrame, features: tuple[str, ...]
) -> Path:
    """A registry (trained once per session) whose ``model`` has version 1, trained on ``rows``."""
    from reoptimize.job.first_versions import train_first_version
    from reoptimize.registry.backends import open_registry

    root = factory.mktemp(f"{model}-registry")
    train_first_version(open_registry(root), model, recipe, rows, features, "label")
    return root


def _private_copy(root: Path, dest: Path):  # noqa: ANN202 - a files registry
    """A copy of a session registry, so a test may add versions."""
    from reoptimize.registry.backends import open_registry

    shutil.copytree(root, dest)
    return open_registry(dest)


FEATURES = tuple(f"px{i}" for i in range(64))
RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [64]},
    "task": "classification",
    "image_shape": [8, 8],
    "training": {"max_epochs": 30, "patience": 4, "learning_rate": 0.003, "batch_size": 64},
}


def _shift_images(frame: pd.DataFrame, columns: int) -> pd.DataFrame:
    """Move every 8x8 digit ``columns`` pixels to the right, filling with background (0)."""
    images = frame[list(FEATURES)].to_numpy().reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, columns:] = images[:, :, :-columns]
    out = frame.copy()
    out[list(FEATURES)] = shifted.reshape(-1, 64)
    return out


@pytest.fixture(scope="session")
def features() -> tuple[str, ...]:
    """The digits feature names, ``px0`` .. ``px63`` (row-major 8x8 pixels)."""
    return FEATURES


@pytest.fixture(scope="session")
def recipe() -> dict:
    """A small, fast MLP recipe for digits."""
    return RECIPE


@pytest.fixture(scope="session")
def shift_images() -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    return _shift_images


@pytest.fixture(scope="session")
def digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    frame = pd.DataFrame(bunch.data.astype(np.float32), columns=list(FEATURES))
    frame["label"] = bunch.target.astype(np.int64)
    return frame


@pytest.fixture(scope="session")
def champion_root(tmp_path_factory: pytest.TempPathFactory, digits: pd.DataFrame) -> Path:
    """A registry whose model ``digits`` has version 1, trained on the first 1000 clean digits."""
    return _trained_root(tmp_path_factory, "digits", RECIPE, digits.iloc[:1000], FEATURES)


@pytest.fixture
def champion_registry(champion_root: Path, tmp_path: Path):
    """A private copy of the champion registry, so a test may add versions."""
    return _private_copy(champion_root, tmp_path / "registry")


WIDE_RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [256, 256]},
    "task": "classification",
    "image_shape": [8, 8],
    "training": {"max_epochs": 25, "patience": 4, "learning_rate": 0.003, "batch_size": 64},
}


@pytest.fixture(scope="session")
def wide_recipe() -> dict:
    """A wider digits MLP (64-256-256-10): big enough that pruning and int8 change its speed."""
    return WIDE_RECIPE


@pytest.fixture(scope="session")
def wide_root(tmp_path_factory: pytest.TempPathFactory, digits: pd.DataFrame) -> Path:
    """A registry whose model ``wide`` (64-256-256-10) has version 1, trained on 1200 digits."""
    return _trained_root(tmp_path_factory, "wide", WIDE_RECIPE, digits.iloc[:1200], FEATURES)


@pytest.fixture
def wide_registry(wide_root: Path, tmp_path: Path):
    return _private_copy(wide_root, tmp_path / "wide-registry")


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast-cancer table: 569 rows, 30 features of very different scales."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data.astype(np.float32), columns=list(CANCER_FEATURES))
    frame["label"] = bunch.target.astype(np.int64)
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def cancer_root(tmp_path_factory: pytest.TempPathFactory, cancer: pd.DataFrame) -> Path:
    return _trained_root(tmp_path_factory, "cancer", CANCER_RECIPE, cancer.iloc[:450], CANCER_FEATURES)


@pytest.fixture
def cancer_registry(cancer_root: Path, tmp_path: Path):
    return _private_copy(cancer_root, tmp_path / "cancer-registry")
