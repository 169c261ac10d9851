"""``modelhealthd serve``: run the reference model server for one model of a registry."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

TOKEN_ENV = "MODELHEALTHD_SERVER_TOKEN"


def read_token(token_file: Path | None) -> str | None:
    """The reload token from ``token_file``, else from ``$MODELHEALTHD_SERVER_TOKEN``, else None."""
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read token file {token_file}: {exc.strerror}") from None
        if not token:
            raise typer.BadParameter(f"token file {token_file} is empty; expected the reload token")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        registry: str = typer.Option(
            ..., "--registry", help="Registry root directory, or the registry's settings as JSON."
        ),
        model: str = typer.Option(..., "--model", help="Model name in the registry."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
        port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to bind."),
        predictions: Path | None = typer.Option(
            None, "--predictions", help="Directory for the hourly prediction log (JSON Lines)."
        ),
        token_file: Path | None = typer.Option(
            None, "--token-file", help=f"File holding the /-/reload bearer token (else ${TOKEN_ENV})."
        ),
    ) -> None:
        """Serve the registry's production version of MODEL with ONNX Runtime."""
        from reoptimize.registry.names import check_name
        from reoptimize.registry.registry_errors import RegistryError
        from serving.server import serve

        try:
            check_name(model)
        except RegistryError as exc:
            raise typer.BadParameter(str(exc), param_hint="--model") from None
        token = read_token(token_file)
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if token is None:
            typer.echo(
                f"warning: no reload token (--token-file or ${TOKEN_ENV}); /-/reload is disabled", err=True
            )
        typer.echo(f"serving {model} from {registry} on http://{host}:{port}", err=True)
        serve(registry, model, host=host, port=port, predictions_dir=predictions, token=token)
