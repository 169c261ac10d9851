""".ci/system-deps, the one installer of the Debian packages the suites run for real.

The script runs for real, as bash, against a directory of stand-ins for ``id``, ``apt-get``,
``sudo`` and the binaries it looks for, so root, sudo and no-sudo machines can all be played
here without installing anything (this machine is root and has every package). Its table's
PostgreSQL paths are pointed into the test's directory in a copy; the logic is the file's own.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.binaries import INSTALLER, PACKAGES, POSTGRES_BIN

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Machine:
    """A fake Debian machine: ``bin`` is the whole PATH, ``apt.log`` what apt-get and sudo were asked."""

    root: Path
    script: Path
    bin: Path
    pg: Path
    log: Path

    def where(self, binary: str) -> Path:
        return self.pg / Path(binary).name if binary.startswith("/") else self.bin / binary

    def give(self, *binaries: str) -> None:
        for binary in binaries:
            _stand_in(self.where(binary), "exit 0")

    def run(self, *args: str, uid: int = 0) -> subprocess.CompletedProcess:
        _stand_in(self.bin / "id", f"echo {uid}")
        env = {"PATH": str(self.bin), "HOME": str(self.root)}
        return subprocess.run(
            ["/bin/bash", str(self.script), *args], env=env, capture_output=True, text=True, timeout=60
        )

    def apt_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def _stand_in(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = Machine(tmp_path, tmp_path / "system-deps", tmp_path / "bin", tmp_path / "pg", tmp_path / "apt.log")
    m.bin.mkdir()
    m.pg.mkdir()
    m.script.write_text(INSTALLER.read_text().replace(str(POSTGRES_BIN), str(m.pg)))
    # apt-get installs a package by creating the stand-ins of its binaries (PATH holds no chmod).
    installs = tmp_path / "packages"
    installs.mkdir()
    for binary, package in PACKAGES.items():
        with open(installs / package, "a") as f:
            f.write(f"{m.where(binary)}\n")
    _stand_in(
        m.bin / "apt-get",
        f'echo "apt-get $*" >> {m.log}\n'
        'if [ "$1" = install ]; then for p in "$@"; do\n'
        f'  [ -f {installs}/"$p" ] && while read -r b; do printf "#!/bin/sh\\n" > "$b"; /bin/chmod 755 "$b"; done < {installs}/"$p"\n'
        "done; fi\nexit 0",
    )
    return m


EVERY = tuple(PACKAGES)


def test_silent_and_apt_free_when_everything_is_there(machine: Machine) -> None:
    machine.give(*EVERY)
    done = machine.run()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert machine.apt_calls() == []


def test_as_root_installs_only_the_missing_packages_then_is_silent(machine: Machine) -> None:
    machine.give(*(b for b in EVERY if PACKAGES[b] != "prometheus"))
    done = machine.run()
    assert done.returncode == 0, done.stderr
    assert done.stderr == "system-deps: missing prometheus promtool; installing Debian's prometheus\n"
    assert machine.apt_calls() == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends prometheus",
    ]
    again = machine.run()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(machine.apt_calls()) == 2


def test_a_bare_machine_gets_each_package_once(machine: Machine) -> None:
    done = machine.run()
    assert done.returncode == 0, done.stderr
    assert machine.apt_calls()[-1] == (
        "apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager systemd postgresql"
    )
    assert "initdb pg_ctl postgres" in done.stderr  # the PostgreSQL binaries are checked, by path


def test_without_root_it_uses_sudo(machine: Machine) -> None:
    _stand_in(machine.bin / "sudo", f'echo "sudo $*" >> {machine.log}\nexec "$@"')
    machine.give(*(b for b in EVERY if b != "systemd-analyze"))
    done = machine.run(uid=1000)
    assert done.returncode == 0, done.stderr
    calls = machine.apt_calls()
    assert calls[0] == "sudo apt-get update -qq" and calls[2].startswith("sudo apt-get install"), calls
    assert calls[3] == "apt-get install -y -qq --no-install-recommends systemd", calls


def test_without_root_or_sudo_it_fails_in_one_line_saying_what_to_run(machine: Machine) -> None:
    machine.give(*(b for b in EVERY if b != "amtool"))
    done = machine.run(uid=1000)
    assert done.returncode == 1
    assert done.stderr == (
        "system-deps: missing amtool; run as root: apt-get update && "
        "apt-get install -y --no-install-recommends prometheus-alertmanager\n"
    )
    assert machine.apt_calls() == []


def test_without_apt_get_it_fails_in_one_line(machine: Machine) -> None:
    (machine.bin / "apt-get").unlink()
    machine.give(*(b for b in EVERY if b != "promtool"))
    done = machine.run()
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "missing promtool" in done.stderr and "prometheus" in done.stderr


def test_an_install_that_leaves_a_binary_missing_fails(machine: Machine) -> None:
    _stand_in(machine.bin / "apt-get", "exit 0")  # "succeeds" and installs nothing
    machine.give(*(b for b in EVERY if b != "prometheus-alertmanager"))
    done = machine.run()
    assert done.returncode == 1
    assert (
        done.stderr.splitlines()[-1]
        == "system-deps: still missing after the install: prometheus-alertmanager"
    )


def _python(machine: Machine) -> Path:
    """A Python 3.11 whose ensurepip exists once ``python3.11-venv`` is installed."""
    marker = machine.root / "ensurepip"
    (machine.root / "packages" / "python3.11-venv").write_text(f"{marker}\n")
    python = machine.bin / "python3.11"
    _stand_in(python, f'case "$2" in\n"import ensurepip") [ -e {marker} ] ;;\n*) echo 3.11 ;;\nesac')
    return python


def test_venv_support_installs_the_pythons_venv_package_when_ensurepip_is_missing(machine: Machine) -> None:
    python = _python(machine)
    done = machine.run("--venv", str(python))
    assert done.returncode == 0, done.stderr
    assert machine.apt_calls()[-1] == "apt-get install -y -qq --no-install-recommends python3.11-venv"
    again = machine.run("--venv", str(python))
    assert (again.returncode, again.stderr, len(machine.apt_calls())) == (0, "", 2)


def test_venv_support_without_root_says_what_to_run(machine: Machine) -> None:
    done = machine.run("--venv", str(_python(machine)), uid=1000)
    assert done.returncode == 1
    assert done.stderr.endswith(
        "run as root: apt-get update && apt-get install -y --no-install-recommends python3.11-venv\n"
    )
    assert done.stderr.count("\n") == 1


def test_the_real_installer_finds_everything_here_postgres_included() -> None:
    """After ``make test``'s own system-deps step, every binary is present: silent, nothing installed."""
    done = subprocess.run([str(INSTALLER)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert all(os.access(POSTGRES_BIN / n, os.X_OK) for n in ("initdb", "pg_ctl", "postgres"))


def _dry_run(*goals: str) -> list[str]:
    # Under `make test` the parent's MAKEFLAGS/MAKELEVEL would add "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    argv = ["make", "--no-print-directory", "-n", *goals]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("goal", ["test", "test-slow", "test-reliability", "system-deps"])
def test_make_runs_the_installer_first(goal: str) -> None:
    assert _dry_run(goal)[0] == ".ci/system-deps"


def test_ci_runs_the_same_installer_through_make_and_has_no_apt_line_of_its_own(tmp_path: Path) -> None:
    log = tmp_path / "make.log"
    (tmp_path / "make").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (tmp_path / "make").chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    done = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["system-deps", "lint", "test", "test-slow", "test-reliability"]
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()
