"""Reading rule files: YAML in, a :class:`RuleSet` or a :class:`RuleError` listing every problem out.

A problem names the file, the rule (by name and index), the field and, for an expression,
the column::

    rules.yaml: rule 'feature-drift' (rules[0]).when: column 1: unknown measurement 'drift_shar' (did you mean drift_share?)

Actions' pipelines are checked against ``catalog``, a :class:`rules.pipelines.PipelineCatalog`
(the daemon and the command line pass ``reoptimize.steps.catalog.CATALOG``); without one,
only ``notify`` and names already in the stored form (``retrain+quantize``) are accepted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.pipelines import PipelineCatalog
from rules.problems import RuleError, RuleProblem, describe_rule_errors
from rules.rule_schema import Rule
from rules.ruleset import RuleSet

__all__ = [
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "default_rules_path",
    "load_rule_files",
    "load_rules",
    "parse_rules",
    "read_yaml",
]


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key repeated in one mapping (PyYAML would keep the last silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML safely; a syntax error becomes a :class:`RuleError` naming the line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except RecursionError:
        raise RuleError([RuleProblem(source, "(file)", "not valid YAML: nested too deeply")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError([RuleProblem(source, where, f"not valid YAML: {problem}")]) from None


def parse_rules(
    text: str,
    source: str = "<rules>",
    extra_names: Collection[str] = (),
    catalog: PipelineCatalog | None = None,
) -> RuleSet:
    """Parse rule-file text. ``extra_names`` are measurement names allowed besides the vocabulary;
    ``catalog`` checks and normalizes the actions' pipelines."""
    raw = read_yaml(text, source)
    if raw is None:
        return RuleSet((), (source,))
    if not isinstance(raw, dict) or "rules" not in raw:
        got = type(raw).__name__ if not isinstance(raw, dict) else f"keys {sorted(map(str, raw))}"
        where = "(top level)"
        raise RuleError([RuleProblem(source, where, f"expected a mapping with a 'rules' list, got {got}")])
    problems = [
        RuleProblem(source, str(key), "unknown top-level field; only 'rules' is allowed")
        for key in raw
        if key != "rules"
    ]
    items = raw["rules"] or []
    if not isinstance(items, list):
        problems.append(RuleProblem(source, "rules", f"expected a list of rules, got {type(items).__name__}"))
        raise RuleError(problems)
    rules: list[Rule] = []
    first_at: dict[str, str] = {}
    context = {"extra_names": frozenset(extra_names), "catalog": catalog}
    for index, item in enumerate(items):
        where = _rule_where(item, index)
        if not isinstance(item, dict):
            problems.append(
                RuleProblem(source, where, f"expected a mapping of rule fields, got {type(item).__name__}")
            )
            continue
        name = item.get("name")
        if isinstance(name, str) and name in first_at:
            message = f"duplicate rule name {name!r}; it is already defined at {first_at[name]}"
            problems.append(RuleProblem(source, f"{where}.name", message))
        elif isinstance(name, str):
            first_at[name] = f"rules[{index}]"
        try:
            rules.append(Rule.model_validate(item, context=context))
        except ValidationError as exc:
            problems.extend(describe_rule_errors(exc, item, source, where))
    if problems:
        raise RuleError(problems)
    return RuleSet(tuple(rules), (source,))


def load_rules(
    path: str | Path, extra_names: Collection[str] = (), catalog: PipelineCatalog | None = None
) -> RuleSet:
    """Read and check one rule file. Raises :class:`RuleError` naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RuleError([RuleProblem(str(path), "(file)", f"cannot read the file: {reason}")]) from None
    return parse_rules(text, str(path), extra_names, catalog)


def load_rule_files(
    paths: Iterable[str | Path], extra_names: Collection[str] = (), catalog: PipelineCatalog | None = None
) -> RuleSet:
    """Read several rule files into one set; a rule name used in two files is an error."""
    problems: list[RuleProblem] = []
    rules: list[Rule] = []
    sources: list[str] = []
    defined: dict[str, str] = {}
    for path in paths:
        try:
            ruleset = load_rules(path, extra_names, catalog)
        except RuleError as exc:
            problems.extend(exc.problems)
            continue
        sources.append(str(path))
        for index, rule in enumerate(ruleset.rules):
            if rule.name in defined:
                where = f"rule {rule.name!r} (rules[{index}]).name"
                problems.append(
                    RuleProblem(
                        str(path), where, f"duplicate rule name; already defined in {defined[rule.name]}"
                    )
                )
                continue
            defined[rule.name] = str(path)
            rules.append(rule)
    if problems:
        raise RuleError(problems)
    return RuleSet(tuple(rules), tuple(sources))


def _rule_where(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"rule {name!r} (rules[{index}])" if isinstance(name, str) and name else f"rules[{index}]"


def default_rules_path() -> Path:
    """The rule file shipped with the package, used when the config names none."""
    return Path(__file__).with_name("default_rules.yaml")
