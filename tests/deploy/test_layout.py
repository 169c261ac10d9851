"""The tree spells the loop: unique module names, a short top level, and packages that say what they hold."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("monitor", "rules", "reoptimize", "serving")


def _modules() -> list[Path]:
    return [
        p
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    ]


def test_no_two_modules_share_a_name() -> None:
    counts = Counter(p.name for p in _modules())
    shared = {name: sorted(str(p.relative_to(ROOT)) for p in _modules() if p.name == name)
              for name, n in counts.items() if n > 1}  # fmt: skip
    assert not shared, shared


def test_monitor_has_at_most_twelve_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "monitor").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 12, top


def test_every_sub_package_says_what_it_holds_and_what_it_may_import() -> None:
    missing = []
    for pkg in PACKAGES:
        for init in (ROOT / pkg).rglob("__init__.py"):
            if init.parent == ROOT / pkg:
                continue
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            if "import" not in doc.lower():
                missing.append(str(init.relative_to(ROOT)))
    assert not missing, missing


def test_every_module_that_declares_a_protocol_is_type_checked_strictly() -> None:
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = [m for o in config["overrides"] if o.get("strict") for m in o["module"]]
    loose = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        protocols = [
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", getattr(base, "attr", None)) == "Protocol" for base in node.bases)
        ]
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if protocols and not any(fnmatch.fnmatch(module, pattern) for pattern in strict):
            loose.append(f"{module} ({', '.join(protocols)})")
    assert not loose, loose
