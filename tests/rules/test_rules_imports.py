"""``rules`` stays light: no heavy libraries, nothing from the other packages, a quick import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rules.guards

RULES = Path(__file__).parents[2] / "rules"
MODULES = sorted(
    "rules." + ".".join(p.relative_to(RULES).with_suffix("").parts).removesuffix(".__init__")
    for p in RULES.rglob("*.py")
)


def test_rules_imports_nothing_from_the_other_packages():
    for path in RULES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"monitor", "reoptimize", "serving"}, (
                    f"{path} imports {name}"
                )


def test_importing_every_module_loads_no_heavy_library():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in MODULES)
        + "heavy = [m for m in ('torch', 'pandas', 'numpy', 'evidently', 'onnxruntime', 'sklearn') if m in sys.modules]\n"
        + "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_guards_public_names():
    assert sorted(rules.guards.__all__) == [
        "BlastRadiusGuard",
        "CircuitBreakerGuard",
        "ConcurrencyGuard",
        "CooldownGuard",
        "DailyBudgetGuard",
        "Guard",
        "GuardContext",
        "GuardOutcome",
        "GuardSettings",
        "GuardVerdict",
        "InhibitionGuard",
        "MemoryGuardContext",
        "default_guards",
        "run_guards",
    ]
    for name in rules.guards.__all__:
        assert hasattr(rules.guards, name)
