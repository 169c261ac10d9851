"""The systemd units: ``systemd-analyze verify`` passes, ``security --offline`` scores 2.0 or lower,
the REFERENCE.md hardening is there, and the units agree with the CLI and the example config.

systemd itself does not run here; both analyze commands work on unit files without it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from monitor.config import JobsConfig, load_config
from tests.support.systemd import exposure, needs_analyze, settings, verify

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
DAEMON, SERVER = UNITS / "modelhealthd.service", UNITS / "modelhealthd-serve@.service"
MAX_EXPOSURE = 2.0


@needs_analyze
@pytest.mark.parametrize("unit", [DAEMON, SERVER], ids=lambda p: p.name)
def test_units_verify_and_score_at_most_2(unit: Path, tmp_path: Path) -> None:
    verify(unit, tmp_path)
    assert exposure(unit) <= MAX_EXPOSURE


def test_daemon_unit_has_the_lifecycle_and_the_reference_hardening() -> None:
    s = settings(DAEMON)
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["ExecStart"].endswith(" run --config /etc/modelhealthd/config.yaml")
    assert 0 < _seconds(one["WatchdogSec"]) <= 120
    # The drain needs SIGTERM on the daemon alone and time for the grace, the API and the workers.
    assert one["KillMode"] == "mixed"
    assert _seconds(one["TimeoutStopSec"]) >= JobsConfig().drain_grace + 45
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "modelhealthd",
        "ConfigurationDirectory": "modelhealthd",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "UMask": "0077",
        "NoNewPrivileges": "yes",
    }.items():
        assert one.get(key) == value, key
    assert "@system-service" in s["SystemCallFilter"]
    # Workers run PyTorch, whose oneDNN kernels are JIT-compiled: W^X would break training.
    assert "MemoryDenyWriteExecute" not in s


def test_server_unit_shares_the_user_and_serves_what_the_cli_accepts() -> None:
    daemon, server = settings(DAEMON), settings(SERVER)
    assert server["User"] == daemon["User"] and server["StateDirectory"] == daemon["StateDirectory"]
    assert server["MemoryDenyWriteExecute"] == ["yes"]
    argv = shlex.split(server["ExecStart"][0])
    assert argv[0] == "/opt/modelhealthd/venv/bin/modelhealthd" and argv[1] == "serve"
    from typer.main import get_command

    from monitor.cli import app

    serve = get_command(app).commands["serve"]
    known = {opt for p in serve.params for opt in p.opts}
    given = [a for a in argv[2:] if a.startswith("--")]
    assert given and set(given) <= known, set(given) - known
    assert "%i" in server["ExecStart"][0] and "%d/server-token" in server["ExecStart"][0]


def test_example_config_matches_the_unit_directories_and_credentials(monkeypatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/modelhealthd.service")
    config = load_config(ROOT / "deploy" / "config.example.yaml")
    state_dir = Path("/var/lib") / settings(DAEMON)["StateDirectory"][0]
    assert config.state == f"sqlite:///{state_dir}/state.db"
    assert config.registry.path.parent == state_dir
    credentials = {c.split(":", 1)[0] for c in settings(DAEMON)["LoadCredential"]}
    assert config.api.token_file == Path("/run/credentials/modelhealthd.service/api-token")
    assert {"api-token", "server-token"} <= credentials
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert load_config(ROOT / "deploy" / "config.example.yaml").api.token_file == Path(
        "/etc/modelhealthd/api-token"
    )


def _seconds(value: str) -> float:
    from rules.durations import parse_duration

    return parse_duration(value)
