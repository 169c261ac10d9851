"""The real tools the tests run (Prometheus, Alertmanager, systemd-analyze, PostgreSQL), found or failed.

A test that needs one asks for it and gets its path; when it is missing the test FAILS, in one
line naming the binary and ``make system-deps``, instead of skipping:

    promtool = require("promtool")
    subprocess.run([promtool, "check", "metrics"], input=exposition)

    @needs("systemd-analyze")
    def test_unit_verifies(tmp_path): ...

The table of binaries and packages is the installer's (``.ci/system-deps``), read from it, so
what the tests ask for and what ``make system-deps`` installs cannot drift apart.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

INSTALLER = Path(__file__).resolve().parents[2] / ".ci" / "system-deps"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")

F = TypeVar("F", bound=Callable[..., object])


def installer_table(installer: Path = INSTALLER) -> dict[str, str]:
    """Binary (name on PATH or absolute path) -> Debian package, from the installer's REQUIRED table."""
    text = installer.read_text()
    start = text.index("REQUIRED='") + len("REQUIRED='")
    body = text[start : text.index("'", start)]
    return dict(line.split() for line in body.splitlines() if line.strip())


PACKAGES = installer_table()


def find(binary: str) -> str | None:
    """The executable's path, or None: a name is looked up on PATH, an absolute path checked as is."""
    if os.path.isabs(binary):
        return binary if os.access(binary, os.X_OK) else None
    return shutil.which(binary)


def missing_message(binary: str, package: str) -> str:
    return f"{binary} is not installed: run `make system-deps` (installs Debian's {package})"


def require(binary: str, package: str | None = None) -> str:
    """The path of ``binary``; fail the calling test, naming it and ``make system-deps``, when missing.

    ``package`` defaults to the installer's package for ``binary``; a binary the installer does
    not know is a mistake in the test, so it raises instead of failing quietly.
    """
    if package is None:
        if binary not in PACKAGES:
            raise KeyError(f"{binary!r} is not in {INSTALLER.name}'s REQUIRED table; add it there")
        package = PACKAGES[binary]
    path = find(binary)
    if path is None:
        pytest.fail(missing_message(binary, package), pytrace=False)
    return path


def postgres_binary(name: str) -> str:
    """PostgreSQL 15's ``initdb``, ``pg_ctl`` or ``postgres`` (Debian keeps them off PATH)."""
    return require(str(POSTGRES_BIN / name))


def needs(*binaries: str) -> Callable[[F], F]:
    """Decorate a test so that it first requires each of ``binaries`` (fixtures and marks kept)."""

    def decorate(test: F) -> F:
        @functools.wraps(test)
        def run(*args: object, **kwargs: object) -> object:
            for binary in binaries:
                require(binary)
            return test(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
