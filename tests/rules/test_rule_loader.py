"""Rule files: the schema, and problems that name the file, rule, field and column."""

from __future__ import annotations

import textwrap

import pytest

from reoptimize.steps.catalog import CATALOG
from rules.loader import RuleError, default_rules_path, load_rule_files, load_rules, parse_rules
from rules.pipelines import NOTIFY

PIPELINES = (*CATALOG.job_kinds(), NOTIFY)

EXAMPLE = """
rules:
  - name: feature-drift
    models: ["*"]
    selector: {team: vision}
    when: drift_share > 0.3 && rows >= 500
    for: 2m
    keep_firing_for: 5m
    cooldown: 1h
    severity: warning
    labels: {team: ml}
    annotations: {summary: "features drifted"}
    actions:
      - pipeline: retrain
        with: {augment: [noise, shift], max_epochs: 30}
  - name: grafana-latency
    source: alert
    match: {alertname: ModelSlow, labels: {severity: critical}}
    model_label: model
    actions: [{pipeline: quantize}]
"""


def problems_of(text: str, source: str = "rules.yaml") -> list[str]:
    with pytest.raises(RuleError) as caught:
        parse_rules(textwrap.dedent(text), source, catalog=CATALOG)
    return [str(p) for p in caught.value.problems]


def test_example_from_the_design_loads():
    ruleset = parse_rules(EXAMPLE, "rules.yaml")
    drift, alert = ruleset.rules
    assert (drift.for_s, drift.keep_firing_for_s, drift.cooldown_s) == (120.0, 300.0, 3600.0)
    assert drift.actions[0].pipeline == "retrain"
    assert drift.actions[0].params == {"augment": ["noise", "shift"], "max_epochs": 30}
    assert drift.actions[0].starts_job
    assert drift.expression.evaluate({"drift_share": 0.5, "rows": 600}) is True
    assert alert.source == "alert" and alert.match.alertname == "ModelSlow"
    assert ruleset.metric_rules == (drift,) and ruleset.alert_rules == (alert,)
    assert ruleset.get("grafana-latency") is alert and ruleset.get("nope") is None
    with pytest.raises(AttributeError, match="grafana-latency"):
        _ = alert.expression


def test_defaults():
    (rule,) = parse_rules("rules: [{name: r, when: rows > 1}]").rules
    assert rule.models == ("*",) and rule.selector == {}
    assert (rule.for_s, rule.keep_firing_for_s, rule.cooldown_s) == (0.0, 0.0, 3600.0)
    assert rule.severity == "warning" and rule.actions == ()


@pytest.mark.parametrize(
    ("models", "selector", "name", "labels", "applies"),
    [
        (["*"], {}, "digits", {}, True),
        (["digits"], {}, "digits", {}, True),
        (["digits"], {}, "wine", {}, False),
        (["vision-*"], {}, "vision-mnist", {}, True),
        (["vision-*", "wine"], {}, "wine", {}, True),
        (["Digits"], {}, "digits", {}, False),  # names are case-sensitive
        (["*"], {"team": "vision"}, "digits", {"team": "vision", "tier": "1"}, True),
        (["*"], {"team": "vision"}, "digits", {"team": "nlp"}, False),
        (["*"], {"team": "vision"}, "digits", {}, False),
    ],
)
def test_applies_to(models, selector, name, labels, applies):
    rule = parse_rules(f"rules: [{{name: r, when: rows > 1, models: {models}, selector: {selector}}}]").rules[
        0
    ]
    assert rule.applies_to(name, labels) is applies


# (rule file, the problem lines expected, in order)
PROBLEMS = [
    (
        """
        rules:
          - name: feature-drift
            when: drift_shar > 0.3 && rows >= 500
        """,
        [
            "rules.yaml: rule 'feature-drift' (rules[0]).when: column 1: unknown measurement 'drift_shar' (did you mean drift_share"
        ],
    ),
    (
        """
        rules:
          - name: a
            when: rows > 1 && drift_share >
        """,
        ["rules.yaml: rule 'a' (rules[0]).when: column 26: syntax error: the expression ends too early"],
    ),
    (
        """
        rules:
          - name: a
            when: rows > 1
            for: 2x
            severity: warn
            whn: rows
        """,
        [
            "rules.yaml: rule 'a' (rules[0]).for: got '2x'; expected a duration",
            "rules.yaml: rule 'a' (rules[0]).severity: got 'warn'; expected 'info', 'warning' or 'critical'",
            "rules.yaml: rule 'a' (rules[0]).whn: unknown field (did you mean 'when'?)",
        ],
    ),
    (
        """
        rules:
          - name: a
            when: rows > 1
            actions:
              - pipeline: retrian
              - pipeline: notify
                wth: {}
              - pipeline: retrain
                with: {day: 2024-01-01}
        """,
        [
            "rules.yaml: rule 'a' (rules[0]).actions[0].pipeline: got 'retrian'; expected one of retrain",
            "rules.yaml: rule 'a' (rules[0]).actions[1].wth: unknown field (did you mean 'with'?)",
            "rules.yaml: rule 'a' (rules[0]).actions[2].with: got {'day': datetime.date(2024, 1, 1)}; expected JSON values",
        ],
    ),
    (
        """
        rules:
          - when: rows > 1
          - 42
          - name: "bad name!"
            when: rows > 1
          - name: m
            when: rows > 1
            models: []
        """,
        [
            "rules.yaml: rules[0].name: required field is missing",
            "rules.yaml: rules[1]: expected a mapping of rule fields, got int",
            "rules.yaml: rule 'bad name!' (rules[2]).name: got 'bad name!'; expected letters, digits",
            "rules.yaml: rule 'm' (rules[3]).models: got []; expected a list of model-name patterns",
        ],
    ),
    (
        """
        rules:
          - name: metrics-without-when
          - name: alert-without-match
            source: alert
          - name: alert-with-when
            source: alert
            match: {alertname: X}
            when: rows > 1
          - name: metrics-with-match
            when: rows > 1
            match: {alertname: X}
          - name: empty-match
            source: alert
            match: {}
        """,
        [
            "rules.yaml: rule 'metrics-without-when' (rules[0]).when: required for a metrics rule",
            "rules.yaml: rule 'alert-without-match' (rules[1]).match: required for an alert rule",
            "rules.yaml: rule 'alert-with-when' (rules[2]).when: not allowed with 'source: alert'",
            "rules.yaml: rule 'metrics-with-match' (rules[3]).match: only allowed with 'source: alert'",
            "rules.yaml: rule 'empty-match' (rules[4]).match: got {}; expected an alertname or labels",
        ],
    ),
    (
        """
        rules:
          - {name: twice, when: rows > 1}
          - {name: other, when: rows > 1}
          - {name: twice, when: rows > 2}
        """,
        [
            "rules.yaml: rule 'twice' (rules[2]).name: duplicate rule name 'twice'; it is already defined at rules[0]"
        ],
    ),
    (
        """
        rules:
          - {name: twice, when: nope > 1}
          - {name: twice, when: rows > 2}
        """,
        [
            "rules.yaml: rule 'twice' (rules[0]).when: column 1: unknown measurement 'nope'",
            "rules.yaml: rule 'twice' (rules[1]).name: duplicate rule name 'twice'",
        ],
    ),
    ("rules: 3", ["rules.yaml: rules: expected a list of rules, got int"]),
    ("- name: a", ["rules.yaml: (top level): expected a mapping with a 'rules' list, got list"]),
    ("groups: []", ["rules.yaml: (top level): expected a mapping with a 'rules' list, got keys ['groups']"]),
    ("rules: []\nextra: 1", ["rules.yaml: extra: unknown top-level field"]),
    ("rules: [", ["rules.yaml: line 1, column 9: not valid YAML"]),
    (
        """
        rules:
          - name: a
            when: rows > 1
            when: rows > 2
        """,
        ["rules.yaml: line 5, column 5: not valid YAML: key 'when' appears twice"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_every_problem_names_file_rule_field_and_position(text, expected):
    found = problems_of(text)
    assert len(found) == len(expected), found
    for line, prefix in zip(found, expected, strict=True):
        assert line.startswith(prefix), f"{line!r} does not start with {prefix!r}"


def test_expression_problems_carry_expression_and_column():
    with pytest.raises(RuleError) as caught:
        parse_rules("rules: [{name: a, when: rows > 1 && zzz > 2}]")
    (problem,) = caught.value.problems
    assert (problem.expression, problem.column) == ("rows > 1 && zzz > 2", 13)


def test_every_pipeline_is_accepted():
    actions = ", ".join(f"{{pipeline: {p}}}" for p in PIPELINES)
    (rule,) = parse_rules(
        f"rules: [{{name: a, when: rows > 1, actions: [{actions}]}}]", catalog=CATALOG
    ).rules
    assert [a.pipeline for a in rule.actions] == list(PIPELINES)
    assert [a.starts_job for a in rule.actions] == [p != "notify" for p in PIPELINES]


def test_extra_names_extend_the_vocabulary():
    text = "rules: [{name: a, when: my_metric > 1}]"
    with pytest.raises(RuleError):
        parse_rules(text)
    (rule,) = parse_rules(text, extra_names={"my_metric"}).rules
    assert rule.expression.evaluate({"my_metric": 2}) is True


def test_empty_file_is_an_empty_ruleset():
    assert len(parse_rules("")) == 0
    assert len(parse_rules("rules: []")) == 0


def test_load_rules_names_the_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("rules: [{name: a, when: nope > 1}]")
    with pytest.raises(RuleError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: rule 'a' (rules[0]).when: column 1:")
    with pytest.raises(RuleError, match="cannot read the file"):
        load_rules(tmp_path / "missing.yaml")


def test_load_rule_files_merges_and_rejects_names_used_twice(tmp_path):
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("rules: [{name: a, when: rows > 1}]")
    two.write_text("rules: [{name: b, when: rows > 1}]")
    merged = load_rule_files([one, two])
    assert [r.name for r in merged] == ["a", "b"] and merged.sources == (str(one), str(two))
    two.write_text("rules: [{name: a, when: rows > 2}]")
    with pytest.raises(RuleError) as caught:
        load_rule_files([one, two])
    assert (
        str(caught.value) == f"{two}: rule 'a' (rules[0]).name: duplicate rule name; already defined in {one}"
    )


def test_default_rules_load():
    ruleset = load_rules(default_rules_path())
    names = {r.name for r in ruleset}
    assert {"feature-drift", "slow-predictions", "accuracy-drop", "overfitting", "data-quality"} <= names
    pipelines = {r.name: [a.pipeline for a in r.actions] for r in ruleset}
    assert pipelines["feature-drift"] == ["retrain"]
    assert pipelines["slow-predictions"] == ["quantize"]
    assert pipelines["accuracy-drop"] == ["retrain"]
    assert pipelines["overfitting"] == ["notify"]
    assert pipelines["data-quality"] == ["notify"]


def test_rules_are_frozen():
    (rule,) = parse_rules("rules: [{name: a, when: rows > 1}]").rules
    with pytest.raises(ValueError):
        rule.name = "b"
