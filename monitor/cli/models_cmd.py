"""``modelhealthd models``, ``train``, ``promote`` and ``rollback``: the registry from the command line."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from monitor.cli.common import ConfigOption, config_or_exit, fail, print_json
from monitor.config import Config, ModelConfig
from monitor.running_config import RunningConfig
from reoptimize.registry.backends import open_registry
from reoptimize.registry.registry_errors import RegistryError

if TYPE_CHECKING:
    import pandas as pd


def _model(config: Config, name: str) -> ModelConfig:
    try:
        return config.model(name)
    except KeyError as exc:
        raise fail(str(exc.args[0])) from None


def _features(model: ModelConfig, frame: pd.DataFrame, label: str) -> tuple[str, ...]:
    if model.features:
        missing = [f for f in model.features if f not in frame.columns]
        if missing:
            raise fail(f"the data lacks the configured feature column(s) {missing}")
        return tuple(model.features)
    return tuple(c for c in frame.columns if c not in (label, "request_id", "ts"))


def _move_production(config_path: Path, name: str, act: Callable[[Any], Any]) -> Any:
    """Run ``act(promoter)`` for a model of the config; a refusal exits 1 with its reason."""
    from monitor.promote.promoter import Promoter, PromotionError
    from monitor.state.store import StateStore

    cfg = config_or_exit(config_path)
    _model(cfg, name)
    store = StateStore.open(cfg.state)
    try:
        return act(
            Promoter(RunningConfig(cfg), open_registry(cfg.registry.settings()), store, None, time.time)
        )
    except (PromotionError, RegistryError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    models = typer.Typer(
        help="List models and versions; import an existing model.", invoke_without_command=True
    )
    app.add_typer(models, name="models")

    @models.callback()
    def list_models(
        ctx: typer.Context, config: Path = ConfigOption, as_json: bool = typer.Option(False, "--json")
    ) -> None:
        """List every model in the registry with its versions and the production pointer."""
        if ctx.invoked_subcommand:
            return
        cfg = config_or_exit(config)
        registry = open_registry(cfg.registry.settings())
        rows: list[dict[str, Any]] = []
        for name in sorted(set(registry.models()) | {m.name for m in cfg.models}):
            rows.append(
                {"model": name, "production": registry.production(name), "versions": registry.versions(name)}
            )
        if as_json:
            print_json(rows)
            return
        for row in rows:
            print(
                f"{row['model']:24} production v{row['production'] or '-':<4} versions {', '.join(row['versions']) or '-'}"
            )

    @models.command("register")
    def register_model(
        name: str = typer.Argument(..., help="Model name, as in the config."),
        onnx: Path = typer.Option(..., "--onnx", exists=True, dir_okay=False, help="The ONNX model file."),
        reference: Path = typer.Option(
            ..., "--reference", exists=True, dir_okay=False, help="Parquet or CSV."
        ),
        weights: Path | None = typer.Option(
            None, "--weights", exists=True, dir_okay=False, help="safetensors"
        ),
        task: str = typer.Option("classification", "--task", help="classification or regression"),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Import an existing ONNX model as a new version, with its reference data."""
        from reoptimize.job.first_versions import register_version
        from reoptimize.onnx.onnx_model import OnnxModelError
        from reoptimize.train.tables import DataError, load_table

        cfg = config_or_exit(config)
        model = _model(cfg, name)
        label = model.data.label_column
        try:
            frame = load_table(reference)
            manifest = register_version(
                open_registry(cfg.registry.settings()),
                name,
                onnx.read_bytes(),
                frame,
                _features(model, frame, label),
                label,
                task=task,
                weights=weights.read_bytes() if weights else None,
            )
        except (DataError, OnnxModelError, RegistryError, ValueError) as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(manifest.to_json())
        else:
            print(f"registered {name} v{manifest.version}")

    @models.command("card")
    def card(
        name: str = typer.Argument(..., help="Model name."),
        version: str = typer.Argument(..., help="Version number."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json", help="Print the card as JSON instead of Markdown."),
    ) -> None:
        """Print a version's model card (verified against its manifest)."""
        cfg = config_or_exit(config)
        filename = "model_card.json" if as_json else "model_card.md"
        try:
            print(open_registry(cfg.registry.settings()).read_bytes(name, version, filename).decode())
        except RegistryError as exc:
            raise fail(str(exc)) from None

    @app.command("train")
    def train(
        name: str = typer.Argument(..., help="Model name, as in the config."),
        data: Path | None = typer.Option(None, "--data", help="Training data; defaults to data.reference."),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Train a first version from the model's recipe and make it production if none is."""
        from reoptimize.job.first_versions import train_first_version
        from reoptimize.train.export import ExportError
        from reoptimize.train.tables import DataError, load_table

        cfg = config_or_exit(config)
        model = _model(cfg, name)
        source = data or model.data.reference
        if model.recipe is None:
            raise fail(f"model {name!r} has no recipe in {config}")
        if source is None:
            raise fail(f"give --data or set models[{name}].data.reference in {config}")
        try:
            frame = load_table(source)
            features = _features(model, frame, model.data.label_column)
            manifest = train_first_version(
                open_registry(cfg.registry.settings()),
                name,
                model.recipe.model_dump(mode="json"),
                frame,
                features,
                model.data.label_column,
                progress=None if as_json else _print_progress,
            )
        except (DataError, ExportError, RegistryError, ValueError) as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(manifest.to_json())
        else:
            acc = manifest.metrics.get("holdout_accuracy")
            print(
                f"trained {name} v{manifest.version}"
                + (f": holdout accuracy {acc:.3f}" if acc is not None else "")
            )

    @app.command("promote")
    def promote(
        name: str,
        version: str,
        reason: str = typer.Option("manual promotion", "--reason"),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Make VERSION production (verified, atomic) and call the server's reload hook."""
        record = _move_production(config, name, lambda p: p.promote(name, version, reason=reason))
        if as_json:
            print_json(record.to_json())
        else:
            reload = record.reload or {}
            print(
                f"{name}: v{record.to_version} is production (was v{record.from_version}); reload ok={reload.get('ok')}"
            )

    @app.command("rollback")
    def rollback(
        name: str,
        reason: str = typer.Option("manual rollback", "--reason"),
        config: Path = ConfigOption,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Go back to the version before the last promotion (a no-op when there is none)."""
        record = _move_production(config, name, lambda p: p.rollback(name, reason=reason))
        if as_json:
            print_json(record.to_json() if record else None)
        elif record is None:
            print(f"{name}: nothing to roll back")
        else:
            print(f"{name}: rolled back to v{record.to_version} (was v{record.from_version})")


def _print_progress(update: dict[str, Any]) -> None:
    if "epoch" in update:
        print(
            f"  epoch {update['epoch']}: "
            + ", ".join(f"{k}={v:.4g}" for k, v in update.items() if isinstance(v, float))
        )
