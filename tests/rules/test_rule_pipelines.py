"""Rules check pipelines against the catalog they are given: reoptimize's, or stored names only."""

from __future__ import annotations

import textwrap

import pytest

from reoptimize.steps.catalog import CATALOG
from rules.loader import RuleError, load_rule_files, parse_rules
from rules.pipelines import NOTIFY, STORED_NAMES, PipelineCatalog, normalize_pipeline, starts_job
from rules.rule_schema import Action
from rules.testing import run_rule_tests

FORMS = ["retrain, quantize", "retrain+quantize", ["retrain", "quantize"], "retrain -> quantize"]


def _rules(*pipelines: object) -> str:
    actions = [{"pipeline": p} for p in pipelines]
    return f"rules: [{{name: a, when: rows > 1, actions: {actions!r}}}]".replace("'", '"')


def test_every_form_in_a_rule_file_stores_one_name():
    (rule,) = parse_rules(_rules(*FORMS), catalog=CATALOG).rules
    assert [a.pipeline for a in rule.actions] == ["retrain+quantize"] * len(FORMS)
    assert all(a.starts_job for a in rule.actions)
    assert [normalize_pipeline(f, CATALOG) for f in FORMS] == ["retrain+quantize"] * len(FORMS)


@pytest.mark.parametrize("pipeline", ["retrain+distil", "retrain, distil", "retrian", "auto -> retrain"])
def test_an_unknown_step_is_refused_with_the_catalogs_message(pipeline):
    with pytest.raises(ValueError) as direct:
        normalize_pipeline(pipeline, CATALOG)
    with pytest.raises(RuleError) as caught:
        parse_rules(_rules(pipeline), "r.yaml", catalog=CATALOG)
    (problem,) = caught.value.problems
    assert (
        str(problem) == f"r.yaml: rule 'a' (rules[0]).actions[0].pipeline: got {pipeline!r}; {direct.value}"
    )


def test_notify_is_rules_own_and_starts_no_job():
    (rule,) = parse_rules(_rules(NOTIFY, [NOTIFY], "auto"), catalog=CATALOG).rules
    assert [(a.pipeline, a.starts_job) for a in rule.actions] == [
        ("notify", False),
        ("notify", False),
        ("auto", True),
    ]
    assert not starts_job(NOTIFY, CATALOG) and starts_job("prune+quantize", CATALOG)


class _OnlyRetrain:
    """A catalog of one step, to show that rules use whatever catalog they are given."""

    def normalize(self, value: object, *, extra=()) -> str:  # noqa: ANN001
        if value in ("retrain", *extra):
            return str(value)
        raise ValueError(f"only retrain here, not {value!r}")

    def starts_job(self, name: str) -> bool:
        return name == "retrain"


def test_the_catalog_is_injected_not_imported():
    only = _OnlyRetrain()
    assert isinstance(only, PipelineCatalog)
    (rule,) = parse_rules(_rules("retrain", "notify"), catalog=only).rules
    assert [(a.pipeline, a.starts_job) for a in rule.actions] == [("retrain", True), ("notify", False)]
    with pytest.raises(RuleError, match=r"got 'quantize'; only retrain here, not 'quantize'"):
        parse_rules(_rules("quantize"), catalog=only)


def test_without_a_catalog_only_stored_names_pass():
    (rule,) = parse_rules(_rules("retrain+quantize", "notify")).rules
    assert [(a.pipeline, a.starts_job) for a in rule.actions] == [
        ("retrain+quantize", True),
        ("notify", False),
    ]
    with pytest.raises(
        RuleError, match="expected a stored pipeline name such as retrain or retrain\\+quantize"
    ):
        parse_rules(_rules("retrain, quantize"))
    assert Action(pipeline="prune").starts_job and not Action(pipeline="notify").starts_job
    assert STORED_NAMES.normalize("notify", extra=(NOTIFY,)) == "notify"


def test_validate_and_test_files_take_the_catalog(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules("retrain -> quantize"))
    assert load_rule_files([rules], catalog=CATALOG).rules[0].actions[0].pipeline == "retrain+quantize"
    spec = tmp_path / "rules_test.yaml"
    spec.write_text(
        textwrap.dedent(
            """
            rule_files: [rules.yaml]
            evaluation_interval: 1m
            tests:
              - input_series: [{model: m, measurement: rows, values: "5x2"}]
                alert_rule_test: [{eval_time: 1m, exp_firing: [{rule: a, model: m}]}]
            """
        )
    )
    assert run_rule_tests(spec, catalog=CATALOG).passed
    with pytest.raises(RuleError, match="expected a stored pipeline name"):
        run_rule_tests(spec)


def test_rules_validate_on_the_command_line_uses_reoptimizes_steps(tmp_path):
    from typer.testing import CliRunner

    from monitor.cli import app

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(_rules("retrain, quantize", ["distill", "quantize"]))
    bad.write_text(_rules("retrain+distil"))
    result = CliRunner().invoke(app, ["rules", "validate", str(good)])
    assert result.exit_code == 0 and f"{good}: ok (1 rule(s))" in result.output, result.output
    result = CliRunner().invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert "actions[0].pipeline: got 'retrain+distil'; unknown step 'distil' (known steps:" in result.output
