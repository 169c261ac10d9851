"""An interpretability surrogate: a shallow decision tree that imitates a model, printed as rules.

The tree learns the *model's* predictions (not the labels) on the model's reference rows,
so its rules describe what the model does. Fidelity says how far to trust them: the share
of rows the tree did not see on which it agrees with the model (R² against the model's
values for regressors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reoptimize.tasks.task import Task, task_named

MIN_ROWS = 20
HELD_OUT = 0.3


@dataclass(frozen=True)
class Surrogate:
    depth: int
    fidelity: float  # on held-out rows: agreement (classification) or R² (regression)
    fidelity_metric: str
    train_fidelity: float
    rows: int
    held_out_rows: int
    rules: tuple[str, ...]
    features_used: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "decision tree",
            "depth": self.depth,
            "fidelity": self.fidelity,
            "fidelity_metric": self.fidelity_metric,
            "train_fidelity": self.train_fidelity,
            "rows": self.rows,
            "held_out_rows": self.held_out_rows,
            "rules": list(self.rules),
            "features_used": list(self.features_used),
        }


def fit_surrogate(
    x: np.ndarray,
    predictions: Sequence[Any],
    features: Sequence[str],
    task: str | Task,
    *,
    max_depth: int = 4,
    seed: int = 0,
) -> Surrogate | None:
    """Fit the tree to ``predictions`` of the model on rows ``x``; None with fewer than 20 rows."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < MIN_ROWS:
        return None
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * HELD_OUT)))
    test, fit = order[:n_test], order[n_test:]
    leaf = max(2, n // 100)
    has_classes = task_named(task).has_classes
    if not has_classes:
        y = np.asarray(predictions, dtype=np.float64)
        tree = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=leaf, random_state=seed)
        tree.fit(x[fit], y[fit])
        fidelity, train_fidelity, metric = tree.score(x[test], y[test]), tree.score(x[fit], y[fit]), "r2"
    else:
        y = np.asarray([str(v) for v in predictions], dtype=object)
        tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf, random_state=seed)
        tree.fit(x[fit], y[fit])
        fidelity = float(np.mean(tree.predict(x[test]) == y[test]))
        train_fidelity, metric = float(np.mean(tree.predict(x[fit]) == y[fit])), "agreement"
    rules = _rules(tree, list(features), has_classes)
    used = sorted({features[i] for i in tree.tree_.feature if i >= 0})
    return Surrogate(
        depth=int(tree.get_depth()),
        fidelity=float(fidelity),
        fidelity_metric=metric,
        train_fidelity=float(train_fidelity),
        rows=int(len(fit)),
        held_out_rows=int(len(test)),
        rules=tuple(rules),
        features_used=tuple(used),
    )


def _rules(tree: Any, features: list[str], has_classes: bool) -> list[str]:
    """One line per leaf, ``if a <= 1 and b > 2 then 7 (40 rows, 95% of them)``, largest leaves first."""
    t = tree.tree_
    out: list[tuple[int, str]] = []

    def walk(node: int, conditions: list[str]) -> None:
        if t.children_left[node] == -1:
            rows = int(t.n_node_samples[node])
            if not has_classes:
                outcome = f"{float(t.value[node][0][0]):.4g}"
                detail = f"{rows} rows"
            else:
                counts = t.value[node][0]
                best = int(np.argmax(counts))
                outcome = str(tree.classes_[best])
                detail = f"{rows} rows, {counts[best] / counts.sum():.0%} of them"
            condition = " and ".join(conditions) if conditions else "always"
            out.append((rows, f"if {condition} then {outcome} ({detail})"))
            return
        name, threshold = features[t.feature[node]], float(t.threshold[node])
        walk(t.children_left[node], [*conditions, f"{name} <= {threshold:.4g}"])
        walk(t.children_right[node], [*conditions, f"{name} > {threshold:.4g}"])

    walk(0, [])
    return [text for _, text in sorted(out, key=lambda item: -item[0])]
