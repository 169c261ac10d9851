"""tests/support/binaries.py: a missing tool fails the test in one line naming it and `make system-deps`."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import binaries
from tests.support.binaries import PACKAGES, find, needs, require

ROOT = Path(__file__).resolve().parents[2]


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def _pytest_without_tools(directory: Path, test_file: str) -> tuple[str, int]:
    """Run pytest on ``directory/test_file`` with a PATH that holds none of the tools."""
    env = dict(os.environ, PATH=str(directory / "bin"), PYTHONPATH=str(ROOT), COLUMNS="400")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", test_file],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr, done.returncode


def test_a_missing_binary_fails_naming_it_the_package_and_the_make_target(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failed:
        require("promtool")
    assert (
        str(failed.value)
        == "promtool is not installed: run `make system-deps` (installs Debian's prometheus)"
    )
    assert not isinstance(failed.value, pytest.skip.Exception)


def test_a_present_binary_is_returned_by_its_path(tmp_path, monkeypatch) -> None:
    amtool = _executable(tmp_path / "amtool")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert require("amtool") == str(amtool)


def test_an_absolute_path_must_exist_and_be_executable(tmp_path) -> None:
    tool = tmp_path / "postgres"
    assert find(str(tool)) is None
    tool.write_text("not executable")
    assert find(str(tool)) is None
    _executable(tool)
    assert find(str(tool)) == str(tool)


def test_a_binary_the_installer_does_not_know_is_a_mistake_in_the_test() -> None:
    with pytest.raises(KeyError, match=r"'kubectl' is not in system-deps's REQUIRED table"):
        require("kubectl")


def test_the_table_is_the_installers_and_covers_the_suites_packages() -> None:
    assert set(PACKAGES.values()) == {"prometheus", "prometheus-alertmanager", "systemd", "postgresql"}
    assert {b for b, p in PACKAGES.items() if p == "prometheus-alertmanager"} == {
        "prometheus-alertmanager",
        "amtool",
    }
    postgres = {b for b, p in PACKAGES.items() if p == "postgresql"}
    assert postgres == {str(binaries.POSTGRES_BIN / n) for n in ("initdb", "pg_ctl", "postgres")}


def test_needs_fails_before_the_body_and_keeps_the_fixture_signature(tmp_path, monkeypatch) -> None:
    ran = []

    @needs("systemd-analyze")
    def a_test(tmp_path: Path) -> None:
        ran.append(tmp_path)

    assert list(inspect.signature(a_test).parameters) == ["tmp_path"]
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        pytest.fail.Exception, match=r"^systemd-analyze is not installed: run `make system-deps`"
    ):
        a_test(tmp_path)
    assert ran == []
    _executable(tmp_path / "systemd-analyze")
    a_test(tmp_path)
    assert ran == [tmp_path]


def test_pytest_reports_a_missing_binary_as_one_failed_line_not_a_skip(tmp_path) -> None:
    """A real pytest run, PATH without promtool: the outcome is ``failed`` and the reason one line."""
    test_file = tmp_path / "test_needs_promtool.py"
    test_file.write_text(
        "from tests.support.binaries import require\n\n"
        "def test_lint():\n"
        "    require('promtool')\n"
        "    raise AssertionError('the test went on without promtool')\n"
    )
    out, returncode = _pytest_without_tools(tmp_path, test_file.name)
    message = "promtool is not installed: run `make system-deps` (installs Debian's prometheus)"
    assert returncode == 1, out
    assert "1 failed" in out and "skipped" not in out, out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "_ test_lint _" in line)
    assert lines[header + 1] == message and lines[header + 2].startswith("=="), out  # and no traceback
    assert f"FAILED {test_file.name}::test_lint - Failed: {message}" in lines, out
    assert "the test went on" not in out, out


def test_a_fixture_that_needs_a_missing_binary_errors_the_test_in_one_line(tmp_path) -> None:
    """Required in a fixture, the same message comes back as a setup error: counted, never skipped."""
    (tmp_path / "test_fixture_needs_amtool.py").write_text(
        "import pytest\n"
        "from tests.support.binaries import require\n\n"
        "@pytest.fixture\n"
        "def amtool():\n"
        "    return require('amtool')\n\n"
        "def test_routes(amtool):\n"
        "    raise AssertionError('the test went on without amtool')\n"
    )
    out, returncode = _pytest_without_tools(tmp_path, "test_fixture_needs_amtool.py")
    message = "amtool is not installed: run `make system-deps` (installs Debian's prometheus-alertmanager)"
    assert returncode == 1, out
    assert "1 error" in out and "skipped" not in out, out
    assert f"ERROR test_fixture_needs_amtool.py::test_routes - Failed: {message}" in out.splitlines(), out
    assert "the test went on" not in out, out
