"""SIGHUP: re-read the config and rules, and plan what applying them changes, all or nothing.

:func:`prepare_reload` loads and checks everything first; only then does the daemon swap its
:class:`~monitor.running_config.RunningConfig` (one assignment: every collaborator reads the
new config and rules from there on) and reschedule the checks of models that were added,
removed or whose ``check.every`` changed. Rule states live in the state store and running jobs
in the executor, so neither is touched. A config that fails to load, rules that fail to load,
or a change to a setting that needs a restart refuse the whole reload, and the running config
stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import Config, ConfigError, load_config
from monitor.decide.rule_runner import RulesLoadError, load_ruleset
from rules.ruleset import RuleSet

log = logging.getLogger("modelhealthd.lifecycle")

# Settings the running process cannot change: the store and registry it has open, the state
# directory its job logs and caches are in, the socket it listens on, the body limit wired into
# the HTTP app, and the executor it runs jobs on.
RESTART_ONLY = (
    "state", "registry", "state_dir", "reports", "api.listen", "api.max_body_bytes", "jobs.executor"
)  # fmt: skip


class ReloadRefused(Exception):
    """The new config or rules cannot be applied; the message says why."""


@dataclass(frozen=True)
class ReloadPlan:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    rescheduled: tuple[str, ...]
    changed: tuple[str, ...]
    restart_only: tuple[str, ...]

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("rescheduled", self.rescheduled),
                ("changed", self.changed),
            )
            if names
        ]
        return "; ".join(parts) or "no model changes"


def _get(config: Config, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    """What applying ``new`` over ``old`` changes (pure; no side effects)."""
    before = {m.name: m for m in old.models}
    after = {m.name: m for m in new.models}
    both = [name for name in after if name in before]
    return ReloadPlan(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        rescheduled=tuple(n for n in both if before[n].check.every != after[n].check.every),
        changed=tuple(n for n in both if before[n] != after[n]),
        restart_only=tuple(
            f"{key} ({_shown(key, _get(old, key))} -> {_shown(key, _get(new, key))})"
            for key in RESTART_ONLY
            if _get(old, key) != _get(new, key)
        ),
    )


def _shown(key: str, value: Any) -> str:
    from monitor.state.store import display_url

    return display_url(value) if key == "state" else str(value)  # a database password stays out of logs


def prepare_reload(path: Path, running: Config) -> tuple[Config, RuleSet, ReloadPlan]:
    """Load ``path`` and its rules and plan their application over ``running``.

    Nothing changes yet: raises :class:`ReloadRefused` saying why when the file or the rules do
    not load, or when a setting that needs a restart changed.
    """
    try:
        new = load_config(path)
    except ConfigError as exc:
        raise ReloadRefused(f"{exc.source} is not a valid config: " + "; ".join(exc.problems)) from None
    plan = plan_reload(running, new)
    if plan.restart_only:
        raise ReloadRefused(
            "these settings change only with a restart: "
            + ", ".join(plan.restart_only)
            + "; restart the service to apply them"
        )
    try:
        ruleset = load_ruleset(new)
    except RulesLoadError as exc:
        raise ReloadRefused(f"the rules do not load: {exc}") from None
    return new, ruleset, plan
