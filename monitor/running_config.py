"""The configuration the daemon runs with now, and the one way a SIGHUP reload changes it.

The daemon's collaborators are handed one :class:`RunningConfig` and read
:attr:`RunningConfig.config` (and :attr:`RunningConfig.rules`) when they act; none keeps a copy.
A reload validates the new config and rules first, then :meth:`RunningConfig.swap` replaces
both in one assignment, so a reader sees either the old pair or the new one, never a mix.
A collaborator that derives something costly from the config (the rule engine, a serving
source) keys it on :attr:`RunningConfig.generation` and rebuilds it when that changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from monitor.config import Config
from rules.ruleset import RuleSet


@dataclass(frozen=True)
class _Snapshot:
    config: Config
    rules: RuleSet
    generation: int


class RunningConfig:
    def __init__(self, config: Config, rules: RuleSet | None = None):
        self._snapshot = _Snapshot(config, rules if rules is not None else RuleSet(), 0)
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        return self._snapshot.config

    @property
    def rules(self) -> RuleSet:
        return self._snapshot.rules

    @property
    def generation(self) -> int:
        """Counts the swaps: 0 for the config the daemon started with."""
        return self._snapshot.generation

    def snapshot(self) -> tuple[Config, RuleSet, int]:
        """Config, rules and generation read together (one swap cannot fall between them)."""
        snap = self._snapshot
        return snap.config, snap.rules, snap.generation

    def swap(self, config: Config, rules: RuleSet) -> Config:
        """Run with ``config`` and ``rules`` from now on; returns the config they replace."""
        with self._lock:
            old = self._snapshot
            self._snapshot = _Snapshot(config, rules, old.generation + 1)
        return old.config
