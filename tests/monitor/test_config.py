"""Config parsing: every error names the path, the value and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, parse_config, substitute_env

GOOD = """
state: sqlite:///state/state.db
registry: state/registry
api: {listen: "127.0.0.1:9200", token: "${TOKEN}"}
rules: [rules.yaml]
models:
  - name: digits
    server: {url: "http://127.0.0.1:8080"}
    data: {predictions: logs/digits, labels: labels.jsonl}
    recipe: {factory: "reoptimize.recipes.mlp:mlp", params: {hidden: [64]}}
    check: {every: 30s, window: 5m, min_rows: 50}
    cost: {cpu_price_per_hour: 0.05}
"""


def test_good_config_resolves_paths_and_env(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    config = load_config(path, env={"TOKEN": "s3cret"})
    model = config.model("digits")
    assert config.api.resolved_token() == "s3cret"
    assert config.api.port == 9200
    assert model.check.every == 30 and model.check.window == 300
    assert model.data.predictions == tmp_path / "logs/digits"
    assert config.rules == (tmp_path / "rules.yaml",)
    assert config.state == f"sqlite:///{tmp_path}/state/state.db"
    assert model.recipe is not None and model.recipe.training.clip_grad_norm == 1.0


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("check: {every: 5x}", "models[0].check.every: got '5x'; expected a duration"),
        ("check: {window: 0}", "models[0].check.window: got 0; expected a positive duration"),
        ("check: {min_rows: -1}", "models[0].check.min_rows: got -1;"),
        (
            "recipe: {factory: nomodule}",
            "models[0].recipe.factory: got 'nomodule'; expected 'package.module:function'",
        ),
        ("colour: blue", "models[0].colour: unknown field"),
        ("cost: {cpu_price_per_hour: -1}", "models[0].cost.cpu_price_per_hour: got -1;"),
    ],
)
def test_errors_name_path_value_and_expectation(snippet: str, expected: str) -> None:
    text = f"""
models:
  - name: m
    server: {{url: "http://x"}}
    data: {{predictions: p}}
    {snippet}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_missing_required_and_duplicate_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("models: [{name: a}]")
    assert "models[0].server: required field is missing" in info.value.problems
    dup = "models: [{name: a, server: {url: u}, data: {predictions: p}}, {name: a, server: {url: u}, data: {predictions: p}}]"
    with pytest.raises(ConfigError, match="appears twice"):
        parse_config(dup)


def test_bad_yaml_and_unset_env_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        parse_config("models:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match="NOPE"):
        parse_config("api: {token: '${NOPE}'}", env={})
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.yaml")


def test_env_defaults() -> None:
    assert substitute_env("${A:-x}/${B}", {"B": "y"}) == "x/y"
