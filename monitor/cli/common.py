"""Helpers shared by the command modules: loading the config, printing errors and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from monitor.config import Config, ConfigError, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

ConfigOption = typer.Option(
    Path("/etc/modelhealthd/config.yaml"),
    "--config",
    "-c",
    envvar="MODELHEALTHD_CONFIG",
    help="The daemon's YAML config file.",
)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def config_or_exit(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"error: {exc.source} is not a valid config:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))
