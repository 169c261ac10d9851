"""The operator's guide stays true: generated references are current, every exported metric is
documented, links resolve, and every command the guide tells an operator to run exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import typer
from prometheus_client.parser import text_string_to_metric_families

from monitor.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _load_generator():  # noqa: ANN202
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_references_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(DOCS / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_exported_metric_is_in_the_metrics_reference() -> None:
    from prometheus_client.exposition import generate_latest

    metrics = _load_generator()._populated_metrics()
    exposition = generate_latest(metrics.registry).decode()
    reference = (DOCS / "metrics.md").read_text()
    names = {
        sample.name for family in text_string_to_metric_families(exposition) for sample in family.samples
    }
    names |= set(re.findall(r"^# TYPE (\S+) ", exposition, re.M))
    assert names, "the exporter exported nothing"
    missing = sorted(n for n in names if f"`{n}" not in reference and f"`{n}_total`" not in reference)
    assert missing == [], f"metrics missing from docs/metrics.md: {missing}"


def test_every_config_setting_has_a_meaning() -> None:
    table_rows = [
        line for line in (DOCS / "configuration.md").read_text().splitlines() if line.startswith("| `")
    ]
    assert table_rows
    undescribed = [row.split("|")[1].strip() for row in table_rows if row.rstrip().endswith("|  |")]
    assert undescribed == [], f"add meanings to docs/config-fields.yaml: {undescribed}"


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).strip().replace(" ", "-")


def test_links_between_pages_resolve() -> None:
    anchors = {
        page.name: {_slug(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), re.M)} for page in PAGES
    }
    for page in PAGES:
        for target in re.findall(r"\]\(([^)]+)\)", page.read_text()):
            if "://" in target:
                continue
            name, _, anchor = target.partition("#")
            name = name or page.name
            assert (DOCS / name).exists(), f"{page.name} links to missing {name}"
            if anchor and name in anchors:
                assert anchor in anchors[name], f"{page.name} links to missing #{anchor} in {name}"


def test_the_index_lists_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    for page in PAGES:
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"


def test_every_command_in_the_guide_exists() -> None:
    tree = typer.main.get_command(app)
    commands = set(tree.commands)
    groups = {name: set(cmd.commands) for name, cmd in tree.commands.items() if hasattr(cmd, "commands")}
    for page in PAGES:
        for lang, block in re.findall(r"^```(\w*)\n(.*?)^```", page.read_text(), re.S | re.M):
            if lang not in ("", "sh", "bash"):
                continue
            for first, second in re.findall(
                r"(?<![\w/.-])modelhealthd (?!modelhealthd )([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", block
            ):
                assert first in commands, f"{page.name}: `modelhealthd {first}` is not a command"
                if first in groups and second and not second.startswith("-") and groups[first]:
                    if second in groups[first] or first in ("models", "jobs"):
                        continue
                    raise AssertionError(f"{page.name}: `modelhealthd {first} {second}` is not a command")
