"""The ``registry`` and ``state_dir`` settings: the old path form, the mapping, and where state goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, parse_config
from monitor.daemon.reload import plan_reload
from reoptimize.registry.backends import open_registry


@pytest.mark.parametrize(
    "text",
    ["registry: reg\n", "registry: {kind: files, path: reg}\n", "registry: {path: reg}\n"],
    ids=["path", "mapping", "mapping-without-kind"],
)
def test_a_path_and_a_files_mapping_mean_the_same_registry(text: str, tmp_path: Path) -> None:
    config = parse_config(text, base=tmp_path)
    assert config.registry.settings() == {"kind": "files", "path": str(tmp_path / "reg")}
    assert open_registry(config.registry.settings()).location == str(tmp_path / "reg")
    assert str(config.registry) == str(tmp_path / "reg")  # as reload messages showed it before


def test_state_lives_beside_the_registry_unless_state_dir_says_otherwise(tmp_path: Path) -> None:
    default = parse_config("", base=tmp_path)
    assert default.registry.path == tmp_path / "modelhealthd-state" / "registry"
    assert default.state_directory == tmp_path / "modelhealthd-state"
    assert default.reports_dir == tmp_path / "modelhealthd-state" / "reports"
    moved = parse_config("registry: /srv/registry\nstate_dir: state\n", base=tmp_path)
    assert moved.state_directory == tmp_path / "state" and moved.reports_dir == tmp_path / "state" / "reports"
    reports = parse_config("state_dir: /s\nreports: /r\n", base=tmp_path)
    assert reports.state_directory == Path("/s") and reports.reports_dir == Path("/r")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("registry: {kind: mlfow, path: r}\n", "registry.kind: got 'mlfow'; expected one of files"),
        ("registry: {kind: files}\n", "registry: got {'kind': 'files'}; a files registry needs a path"),
        ("registry: {kind: files, path: r, alias: x}\n", "registry.alias: unknown field"),
        ("registry: [r]\n", "registry: got ['r']; expected a path or a mapping"),
        ("state_dir: [s]\n", "state_dir: got ['s']"),
    ],
)
def test_bad_registry_settings_name_the_field_and_value(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert message in str(refused.value)


def test_moving_the_state_dir_or_the_registry_needs_a_restart(tmp_path: Path) -> None:
    old = parse_config("registry: /a/registry\n")
    assert plan_reload(old, parse_config("registry: /a/registry\n")).restart_only == ()
    moved = plan_reload(old, parse_config("registry: /a/registry\nstate_dir: /b\n")).restart_only
    assert moved == ("state_dir (None -> /b)",)
    other = plan_reload(old, parse_config("registry: {kind: files, path: /c/registry}\n")).restart_only
    assert other == ("registry (/a/registry -> /c/registry)",)
