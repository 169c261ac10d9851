"""deploy/install.sh into a temporary root: dry run, install, upgrade (re-run), bad options.

The fast tests install modelhealthd itself with ``--no-deps`` (a real virtualenv and a real pip
build of this checkout). The slow test installs everything, torch first, and runs the
installed command line.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.systemd import exposure, needs_analyze, verify

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "install.sh"
PREFIX = "/opt/mhd"
SKIP = shutil.ignore_patterns(".git", ".venv", "demo-out", "build", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of this checkout, so that pip's in-tree build never writes into the real one."""
    dest = tmp_path_factory.mktemp("source") / "modelhealthd"
    shutil.copytree(ROOT, dest, ignore=SKIP)
    return dest


def install(root: Path, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = ["bash", str(SCRIPT), "--root", str(root), "--prefix", PREFIX, "--source", str(source)]
    argv += ["--python", sys.executable, *extra]
    env = dict(os.environ, PIP_NO_INPUT="1")
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path, source: Path) -> None:
    root = tmp_path / "root"
    result = install(root, source, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not root.exists()
    steps = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    pips = [i for i, line in enumerate(steps) if " -m pip install " in line]
    assert "torch==2.13.0" in steps[pips[0]] and str(source) in steps[pips[1]], steps
    for path in ("etc/modelhealthd/config.yaml", "etc/modelhealthd/api-token", "modelhealthd.service"):
        assert any(path in line for line in steps), path


def test_install_into_a_temporary_root_then_upgrade_keeps_config_and_tokens(
    tmp_path: Path, source: Path
) -> None:
    root = tmp_path / "root"
    first = install(root, source, "--no-deps")
    assert first.returncode == 0, first.stdout + first.stderr

    venv = root / PREFIX.lstrip("/") / "venv"
    assert (venv / "bin" / "python").exists() and os.access(venv / "bin" / "modelhealthd", os.X_OK)
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "monitor" / "daemon" / "service.py").exists() and (
        site / "monitor" / "daemon" / "lifecycle.py"
    ).exists()
    assert (site / "rules" / "default_rules.yaml").exists()  # package data travels with the wheel

    etc = root / "etc" / "modelhealthd"
    assert (etc / "config.yaml").read_text() == (ROOT / "deploy" / "config.example.yaml").read_text()
    for token in ("api-token", "server-token"):
        assert re.fullmatch(r"[0-9a-f]{64}\n", (etc / token).read_text())
        assert stat.S_IMODE((etc / token).stat().st_mode) == 0o600
    assert (root / PREFIX.lstrip("/") / "share/doc/modelhealthd/index.md").exists()

    units = root / "etc" / "systemd" / "system"
    for name in ("modelhealthd.service", "modelhealthd-serve@.service"):
        text = (units / name).read_text()
        assert "/opt/modelhealthd" not in text and f"{PREFIX}/venv/bin/modelhealthd" in text

    # Upgrade: run again over an edited config and existing tokens.
    (etc / "config.yaml").write_text("models: []\n# edited by the operator\n")
    token = (etc / "api-token").read_text()
    second = install(root, source, "--no-deps")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "keeping the existing config.yaml" in second.stdout and "upgrading in place" in second.stdout
    assert (etc / "config.yaml").read_text() == "models: []\n# edited by the operator\n"
    assert (etc / "config.example.yaml").read_text() == (ROOT / "deploy" / "config.example.yaml").read_text()
    assert (etc / "api-token").read_text() == token


@needs_analyze
def test_installed_units_verify_against_the_installed_binary(tmp_path: Path, source: Path) -> None:
    root = tmp_path / "root"
    assert install(root, source, "--no-deps").returncode == 0
    installed = root / PREFIX.lstrip("/")
    for name in ("modelhealthd.service", "modelhealthd-serve@.service"):
        unit = root / "etc" / "systemd" / "system" / name
        verify(unit, tmp_path, prefix=PREFIX, real_prefix=installed / "venv")
        assert exposure(unit) <= 2.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix", "relative/dir"], "--prefix must be absolute"),
        (["--bogus"], "unknown option --bogus"),
        (["--python", "/nonexistent/python"], "is not Python 3.11 or newer"),
        (["--source", "/nonexistent/source"], "does not exist"),
    ],
)
def test_bad_options_exit_2_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    argv = ["bash", str(SCRIPT), "--root", str(tmp_path / "r"), "--dry-run", *args]
    if "--python" not in args:
        argv += ["--python", sys.executable]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_full_install_with_dependencies_runs_the_installed_command_line(tmp_path: Path, source: Path) -> None:
    root = tmp_path / "root"
    result = install(root, source)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "checking the config with the installed modelhealthd" in result.stdout
    venv = root / PREFIX.lstrip("/") / "venv"
    torch = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
    )
    assert torch.stdout.startswith("2.13.0"), torch.stderr
    for argv in (
        ["--help"],
        ["status", "--help"],
        ["config", "validate", str(root / "etc/modelhealthd/config.yaml")],
    ):
        run = subprocess.run([str(venv / "bin" / "modelhealthd"), *argv], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
