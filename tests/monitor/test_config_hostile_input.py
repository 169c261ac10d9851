"""Config files that are not configs: undecodable bytes, YAML nested past the stack, NaN durations."""

from __future__ import annotations

import pytest

from monitor.config import ConfigError, load_config, parse_config


def test_a_file_that_is_not_utf8_is_named(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"state: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"config.yaml: not UTF-8 text \(byte 7"):
        load_config(path)


def test_yaml_nested_past_the_stack_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config("[" * 5000)


@pytest.mark.parametrize(
    ("text", "where"),
    [("jobs: {timeout: .nan}", "jobs.timeout"), ("guards: {budget_window: .inf}", "guards.budget_window")],
)
def test_non_finite_durations_are_named(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=rf"{where}: .*finite duration"):
        parse_config(text)
