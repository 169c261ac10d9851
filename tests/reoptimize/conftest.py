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
    from reoptimize.registry import FileRegistry
    from reoptimize.versions import train_first_version

    root = tmp_path_factory.mktemp("champion-registry")
    train_first_version(FileRegistry(root), "digits", RECIPE, digits.iloc[:1000], FEATURES, "label")
    return root


@pytest.fixture
def champion_registry(champion_root: Path, tmp_path: Path):
    """A private copy of the champion registry, so a test may add versions."""
    from reoptimize.registry import FileRegistry

    root = tmp_path / "registry"
    shutil.copytree(champion_root, root)
    return FileRegistry(root)


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
    from reoptimize.registry import FileRegistry
    from reoptimize.versions import train_first_version

    root = tmp_path_factory.mktemp("wide-registry")
    train_first_version(FileRegistry(root), "wide", WIDE_RECIPE, digits.iloc[:1200], FEATURES, "label")
    return root


@pytest.fixture
def wide_registry(wide_root: Path, tmp_path: Path):
    from reoptimize.registry import FileRegistry

    root = tmp_path / "wide-registry"
    shutil.copytree(wide_root, root)
    return FileRegistry(root)


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
    from reoptimize.registry import FileRegistry
    from reoptimize.versions import train_first_version

    root = tmp_path_factory.mktemp("cancer-registry")
    train_first_version(
        FileRegistry(root), "cancer", CANCER_RECIPE, cancer.iloc[:450], CANCER_FEATURES, "label"
    )
    return root


@pytest.fixture
def cancer_registry(cancer_root: Path, tmp_path: Path):
    from reoptimize.registry import FileRegistry

    root = tmp_path / "cancer-registry"
    shutil.copytree(cancer_root, root)
    return FileRegistry(root)
