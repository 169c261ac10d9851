"""The ``modelhealthd`` command line. Each command group lives in its own module with ``register(app)``.

The top of ``monitor``: may import every part of it, ``rules``, ``reoptimize`` and ``serving``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="modelhealthd",
    help="Model-health monitoring daemon: watch deployed models, evaluate rules, re-optimize, promote, roll back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "config_cmd",
    "serve_cmd",
    "run_cmd",
    "models_cmd",
    "replay_cmd",
    "rules_cmd",
    "status_cmd",
    "jobs_cmd",
    "state_cmd",
    "decisions_cmd",
    "breaker_cmd",
    "trigger_cmd",
    "demo_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    app()
