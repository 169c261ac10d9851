"""Fuzzing the config and rule loaders with hypothesis: only their own errors, never a crash.

Each loader gets arbitrary text, arbitrary YAML values, and valid documents with one part
replaced by anything (a wrong type, a NaN, a deep structure, an unknown key, ``${...}``).
Pass criterion: ``parse_config`` returns a Config or raises ``ConfigError``, and
``parse_rules`` returns a RuleSet or raises ``RuleError``, whose messages name where the
problem is; no other exception ever escapes. ``FUZZ_LOADER_EXAMPLES`` sets the examples per
property (default 1000).
"""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from monitor.config import ConfigError, parse_config
from rules.loader import RuleError, parse_rules
from tests.reliability.support_state import env_int, seed

pytestmark = pytest.mark.reliability

EXAMPLES = env_int("FUZZ_LOADER_EXAMPLES", 1000)
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
VALID_CONFIG = {
    "state": "sqlite:///:memory:",
    "registry": "/tmp/registry",
    "api": {"listen": "127.0.0.1:9108", "token": "t", "max_body_bytes": 1000},
    "prometheus": {"url": "http://127.0.0.1:9090", "timeout": "5s"},
    "jobs": {"executor": "local", "concurrency": 1, "timeout": "30m", "drain_grace": "1m"},
    "guards": {"daily_budget": 5, "blast_radius": 10, "breaker_threshold": 3, "default_cooldown": "1h"},
    "hooks": {"token": "h", "grafana": {"hmac_secret": "s", "timestamp_header": "X-T", "max_age": "5m"}},
    "dry_run": False,
    "models": [
        {
            "name": "churn",
            "server": {"url": "http://127.0.0.1:8080", "metrics": {"preset": "generic", "selector": 'a="b"'}},
            "data": {"predictions": "/tmp/p", "labels": "/tmp/l.jsonl", "label_column": "y"},
            "features": ["a", "b"],
            "recipe": {
                "factory": "reoptimize.recipes.mlp:mlp",
                "params": {"hidden": [8]},
                "training": {"max_epochs": 3, "augment": [{"kind": "noise", "strength": 0.1}]},
            },
            "check": {"every": "1m", "window": "10m", "min_rows": 100, "drift_methods": {"a": "ks"}},
            "cost": {"cpu_price_per_hour": 0.04},
            "policy": {"constraints": ["holdout_accuracy >= champion.holdout_accuracy - 0.02"]},
            "watch": {"period": "10m", "min_checks": 2},
            "labels": {"team": "x"},
        }
    ],
}
VALID_RULES = yaml.safe_load(resources.files("rules").joinpath("default_rules.yaml").read_text())
EXPRESSION_CHARS = "abcdefgilmnoprstuwx_ 0123456789.<>=!&|()+-*/%[]{}'\"\\,:@$"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["${X}", "${X:-1}", "1h30m", "-5s", ".nan", "../../etc/passwd", "\x00", "a" * 300])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def paths(doc, prefix=()):  # noqa: ANN001, ANN201
    """Every (path to a value) in a nested document of dicts and lists."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from paths(value, (*prefix, i))


@st.composite
def mutated(draw, valid):  # noqa: ANN001, ANN201
    """``valid`` with one part replaced, removed, or joined by an unknown key."""
    doc = copy.deepcopy(valid)
    path = draw(st.sampled_from([p for p in paths(doc) if p]))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        parent[path[-1]] = draw(values)
    elif how == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    else:
        parent.append(draw(values))
    return doc


def _dump(doc) -> str:  # noqa: ANN001
    return yaml.safe_dump(doc, allow_unicode=True)


def load_config_or_named_error(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml", env={"X": "1"})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


def load_rules_or_named_error(text: str) -> None:
    try:
        parse_rules(text, "fuzz-rules.yaml")
    except RuleError as exc:
        assert str(exc)


def test_the_config_loader_raises_only_config_errors(report) -> None:
    count = 0

    @hypothesis_seed(seed())
    @SETTINGS
    @given(st.one_of(st.text(max_size=300), values.map(_dump), mutated(VALID_CONFIG).map(_dump)))
    def check(text: str) -> None:
        nonlocal count
        count += 1
        load_config_or_named_error(text)

    parse_config(_dump(VALID_CONFIG))  # the document mutated above is itself valid
    check()
    report.record("bad input: config loader (hypothesis)", trials=count, faults=count, passes=count)


def test_the_rule_loader_raises_only_rule_errors(report) -> None:
    count = 0
    expressions = st.text(alphabet=EXPRESSION_CHARS, max_size=60) | st.sampled_from(
        ["drift_share > 0.3 &&", "rows >= 1e400", "not not not rows", "(" * 200 + "rows" + ")" * 200 + " > 1"]
    )

    def with_when(when: str) -> str:
        return _dump({"rules": [{"name": "fuzz", "when": when, "actions": [{"pipeline": "notify"}]}]})

    @hypothesis_seed(seed())
    @SETTINGS
    @given(
        st.one_of(
            st.text(max_size=300),
            values.map(_dump),
            mutated(VALID_RULES).map(_dump),
            expressions.map(with_when),
        )
    )
    def check(text: str) -> None:
        nonlocal count
        count += 1
        load_rules_or_named_error(text)

    parse_rules(_dump(VALID_RULES))
    check()
    report.record("bad input: rule loader (hypothesis)", trials=count, faults=count, passes=count)
