"""``modelhealthd config validate|schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from monitor.cli.common import config_or_exit, print_json
from monitor.config import SECRET_FIELDS, Config


def redact(value: Any) -> Any:
    """The config as JSON with every token and secret shown as ``<redacted>``: output gets pasted."""
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if k in SECRET_FIELDS and v is not None else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Check and describe the daemon's configuration.", no_args_is_help=True)
    app.add_typer(group, name="config")

    @group.command("validate")
    def validate(
        files: list[Path] = typer.Argument(..., help="Config files to check."),
        as_json: bool = typer.Option(False, "--json", help="Print the parsed config as JSON."),
    ) -> None:
        """Check config files; every error names the path, the value and what was expected."""
        for path in files:
            config = config_or_exit(path)
            if as_json:
                print_json(redact(config.model_dump(mode="json")))
            else:
                print(f"{path}: ok ({len(config.models)} model(s), {len(config.rules)} rule file(s))")

    @group.command("schema")
    def schema() -> None:
        """Print the config's JSON Schema (for editors and docs)."""
        print(json.dumps(Config.model_json_schema(), indent=2))
