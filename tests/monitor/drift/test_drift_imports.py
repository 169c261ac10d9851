"""The engine runs inside the daemon, so importing it must not pull in evidently, torch or pandas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("evidently", "torch", "pandas")


@pytest.mark.parametrize("module", ["monitor.drift.detect", "monitor.drift"])
def test_engine_import_stays_light(module):
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_distance_methods_do_not_load_scipy():
    """References above 1000 rows use Wasserstein and Jensen-Shannon: no scipy in the daemon then."""
    code = (
        "import json, sys\n"
        "import numpy as np\n"
        "from monitor.drift import build_reference_stats, detect_drift\n"
        "rng = np.random.default_rng(0)\n"
        "columns = {'x': rng.normal(size=3000), 'c': np.array(['a', 'b', 'c'] * 1000, dtype=object)}\n"
        "detect_drift(build_reference_stats(columns), columns)\n"
        "print(json.dumps('scipy' in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) is False


def test_a_check_stays_light_too():
    code = (
        "import json, sys\n"
        "import numpy as np\n"
        "from monitor.drift import build_reference_stats, detect_drift\n"
        "rng = np.random.default_rng(0)\n"
        "columns = {'x': rng.normal(size=50), 'c': np.array(['a', 'b'] * 25, dtype=object)}\n"
        "detect_drift(build_reference_stats(columns), columns, effect_size_floor=0.1, fdr=0.05)\n"
        "big = {'x': rng.normal(size=20000)}\n"
        "detect_drift(build_reference_stats({'x': rng.normal(size=900)}), big)\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
