"""The daemon's configuration: one YAML file read into pydantic models.

``${NAME}`` and ``${NAME:-default}`` are replaced from the environment before parsing.
Every error names the path (``models[0].check.every``), the value and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reoptimize.registry.backends import BACKENDS
from rules.durations import parse_duration

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
# Fields that hold credentials: their values never appear in errors or printed configs.
SECRET_FIELDS = frozenset({"token", "hmac_secret"})
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration that cannot be used. ``problems`` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def read_secret(value: str | None, path: Path | None) -> str | None:
    """A secret given inline, else read from its file (stripped); None when neither is set."""
    if value:
        return value
    if path:
        return path.read_text().strip() or None
    return None


def _duration(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiConfig(_Model):
    listen: str = "127.0.0.1:9108"
    token: str | None = None
    token_file: Path | None = None
    max_body_bytes: int = Field(1_048_576, gt=0)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected host:port such as 127.0.0.1:9108")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def resolved_token(self) -> str | None:
        return read_secret(self.token, self.token_file)


class PrometheusConfig(_Model):
    url: str
    timeout: Duration = 5.0


_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_MATCHER = r'[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"'
_MATCHERS = re.compile(rf"^\s*({_MATCHER})(\s*,\s*{_MATCHER})*\s*,?\s*$")
# The serving measurements a PromQL template exists for (monitor.sources.prometheus_source).
QUERY_NAMES = (
    "request_rate",
    "prediction_rate",
    "error_ratio",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "latency_p99_seconds",
    "cpu_seconds_per_prediction",
    "memory_bytes",
)


class MetricNamesConfig(_Model):
    """Names of the server's metrics. ``preset`` fills the names; any name given here overrides it.

    ``selector`` holds extra label matchers for every serving series (``handler="/predict"``), and
    ``error_selector`` the matchers that pick failed requests out of ``errors_counter`` (the
    generic preset counts errors as ``http_requests_total{status=~"5.."}``). ``model_label: ""``
    turns the per-model label off.
    """

    preset: Literal["reference", "generic"] = "reference"
    duration_histogram: str | None = None
    requests_counter: str | None = None
    predictions_counter: str | None = None
    errors_counter: str | None = None
    model_label: str | None = None
    selector: str | None = None
    error_selector: str | None = None

    @field_validator("duration_histogram", "requests_counter", "predictions_counter", "errors_counter")
    @classmethod
    def _metric_name(cls, value: str | None) -> str | None:
        if value is not None and not _METRIC_NAME.match(value):
            raise ValueError("expected a Prometheus metric name such as http_requests_total")
        return value

    @field_validator("selector", "error_selector")
    @classmethod
    def _matchers(cls, value: str | None) -> str | None:
        if value and not _MATCHERS.match(value):
            raise ValueError('expected label matchers such as handler="/predict",status=~"5.."')
        return value


class ServerConfig(_Model):
    """Where the model is served. Paths default to the reference server's."""

    url: str
    metrics: MetricNamesConfig = MetricNamesConfig()
    prometheus_selector: str | None = None
    queries: dict[str, str] = Field(default_factory=dict)
    metrics_path: str = "/metrics"
    reload_path: str = "/-/reload"
    token: str | None = None
    token_file: Path | None = None
    timeout: Duration = 5.0

    @field_validator("queries")
    @classmethod
    def _query_names(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(QUERY_NAMES))
        if unknown:
            raise ValueError(f"unknown query name(s) {unknown}; expected some of {', '.join(QUERY_NAMES)}")
        return value

    @property
    def metrics_url(self) -> str:
        return self.url.rstrip("/") + self.metrics_path

    @property
    def reload_url(self) -> str:
        return self.url.rstrip("/") + self.reload_path

    def resolved_token(self) -> str | None:
        return read_secret(self.token, self.token_file)


class DataConfig(_Model):
    """Where a model's data lives. ``reference`` seeds a model that has no version yet."""

    predictions: Path
    labels: Path | None = None
    reference: Path | None = None
    label_column: str = "label"


class AugmentConfig(_Model):
    kind: Literal["noise", "mixup", "smote", "shift", "rotate", "blur", "scale"]
    strength: float = Field(0.05, ge=0)
    fraction: float = Field(0.5, ge=0, le=4)


class TrainingConfig(_Model):
    max_epochs: int = Field(60, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    patience: int = Field(6, ge=1)
    clip_grad_norm: float | None = Field(1.0, gt=0)
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    augment: tuple[AugmentConfig, ...] = ()
    seed: int = 0


class RecipeConfig(_Model):
    """How to build and train the model: ``factory`` is ``module:function`` returning a torch module
    of model family ``family`` (see ``reoptimize.families``; ``mlp`` by default)."""

    factory: str
    params: dict[str, Any] = Field(default_factory=dict)
    task: Literal["classification", "regression"] = "classification"
    training: TrainingConfig = TrainingConfig()
    image_shape: tuple[int, int] | None = None
    family: str = "mlp"

    @field_validator("family")
    @classmethod
    def _family(cls, value: str) -> str:
        from reoptimize.families.family import FamilyError, family_named, family_names

        try:
            family_named(value)
        except FamilyError:
            raise ValueError(f"expected one of {', '.join(family_names())}") from None
        return value

    @field_validator("factory")
    @classmethod
    def _factory(cls, value: str) -> str:
        module, sep, func = value.partition(":")
        if not sep or not module or not func.isidentifier():
            raise ValueError("expected 'package.module:function'")
        return value


class ImpactConfig(_Model):
    """Drift impact: permutation importance of each drifted feature, run with ONNX Runtime.

    Bounded per check: at most ``max_rows`` sampled rows and ``max_features`` drifted features
    (the most drifted first), and only when a feature drifted.
    """

    enabled: bool = True
    max_rows: int = Field(1000, ge=10)
    max_features: int = Field(10, ge=1)
    seed: int = 0


class CheckConfig(_Model):
    """How a model is checked. ``effect_size_floor`` and ``fdr`` guard p-value drift tests
    against false alarms on large windows (both off by default, which keeps Evidently's verdicts);
    ``max_feature_series`` caps the per-feature series exported for the model (top-K by drift);
    ``report`` renders Evidently's HTML report when the dataset drifts, or only on request."""

    every: Duration = 60.0
    window: Duration = 600.0
    min_rows: int = Field(100, ge=1)
    drift_share: float = Field(0.5, gt=0, le=1)
    drift_methods: dict[str, str] = Field(default_factory=dict)
    effect_size_floor: float | None = Field(None, ge=0)
    fdr: float | None = Field(None, gt=0, lt=1)
    max_feature_series: int = Field(20, ge=0)
    impact: ImpactConfig = ImpactConfig()
    report: Literal["on_drift", "on_request"] = "on_drift"

    @field_validator("drift_methods")
    @classmethod
    def _methods(cls, value: dict[str, str]) -> dict[str, str]:
        from monitor.drift.methods import get_method

        for column, method in value.items():
            get_method(method, column)
        return value

    @field_validator("every", "window")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("expected a positive duration such as '30s'")
        return value


class CostConfig(_Model):
    cpu_price_per_hour: float = Field(0.0, ge=0)
    memory_price_per_gb_hour: float = Field(0.0, ge=0)


class PolicyConfig(_Model):
    """When a candidate may replace the champion. Constraints compare candidate and champion."""

    constraints: tuple[str, ...] = (
        "holdout_accuracy >= champion.holdout_accuracy - 0.02",
        "latency_p95_seconds <= 2.0 * champion.latency_p95_seconds + 0.001",
    )
    objective: str = "recent_accuracy"
    min_improvement: float = 0.01
    approval: Literal["auto", "manual"] = "auto"


class WatchConfig(_Model):
    """The post-promotion watch: live metrics of the new version against the previous one's.

    For ``period`` after a promotion, once ``min_checks`` checks of the new version exist, a
    regression (see ``reoptimize.gate.live_regression``) rolls the model back automatically.
    """

    period: Duration = Field(600.0, ge=0)
    min_checks: int = Field(2, ge=1)
    max_accuracy_drop: float = Field(0.02, ge=0)
    max_latency_ratio: float = Field(1.5, ge=0)
    latency_slack_seconds: float = Field(0.002, ge=0)
    max_error_ratio_increase: float = Field(0.01, ge=0)


class ModelConfig(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    server: ServerConfig
    data: DataConfig
    features: tuple[str, ...] | None = None
    recipe: RecipeConfig | None = None
    check: CheckConfig = CheckConfig()
    cost: CostConfig = CostConfig()
    policy: PolicyConfig = PolicyConfig()
    watch: WatchConfig = WatchConfig()
    labels: dict[str, str] = Field(default_factory=dict)


class JobsConfig(_Model):
    """Where and how re-optimization jobs run. ``executor`` names a backend of
    ``reoptimize.executors.executor_backends.EXECUTORS`` (``local``: a subprocess on this host)."""

    executor: str = "local"
    concurrency: int = Field(1, ge=1)
    timeout: Duration = 1800.0
    heartbeat_timeout: Duration = 60.0
    # On SIGTERM, running jobs get this long to finish before they are cancelled and recorded.
    drain_grace: Duration = Field(60.0, ge=0)
    python: str | None = None

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        from reoptimize.executors.executor_backends import EXECUTORS

        if value not in EXECUTORS:
            raise ValueError(f"expected one of {', '.join(sorted(EXECUTORS))}")
        return value


class GuardsConfig(_Model):
    """Limits every proposed job passes before it starts (see rules.guards).

    ``concurrency`` (jobs queued or running at once, all models) defaults to ``jobs.concurrency``.
    ``breaker_half_open_after: null`` keeps an open circuit breaker open until a person resets
    it (``modelhealthd breaker reset MODEL``); a duration lets one trial job through that long
    after the last failure. ``default_cooldown`` applies to rules without a ``cooldown``.
    """

    concurrency: int | None = Field(None, ge=1)
    daily_budget: int = Field(5, ge=1)
    budget_window: Duration = 86400.0
    blast_radius: int = Field(10, ge=1)
    blast_radius_window: Duration = 3600.0
    breaker_threshold: int = Field(3, ge=1)
    breaker_half_open_after: Duration | None = None
    default_cooldown: Duration = 3600.0


class GrafanaHookConfig(_Model):
    """Grafana's webhook signature (the contact point's ``hmacConfig``).

    With a secret, every request to ``/hooks/grafana`` must carry a valid hex HMAC-SHA256 in
    ``signature_header``. With ``timestamp_header`` (Grafana's ``timestampHeader``), the
    signature covers ``timestamp:body`` and a timestamp further than ``max_age`` from now is
    refused, so a captured request cannot be replayed later.
    """

    hmac_secret: str | None = None
    hmac_secret_file: Path | None = None
    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str | None = None
    max_age: Duration = 300.0

    def resolved_secret(self) -> str | None:
        return read_secret(self.hmac_secret, self.hmac_secret_file)


class HooksConfig(_Model):
    """Webhook intake: ``/hooks/alertmanager`` and ``/hooks/grafana``. The bearer token defaults to the API token."""

    token: str | None = None
    token_file: Path | None = None
    grafana: GrafanaHookConfig = GrafanaHookConfig()

    def resolved_token(self) -> str | None:
        return read_secret(self.token, self.token_file)


class RegistryConfig(_Model):
    """Where model versions live. ``registry: PATH`` is short for ``{kind: files, path: PATH}``.

    ``kind`` picks the backend from the table in ``reoptimize.registry.backends``; ``files``
    keeps each version in a folder under ``path``.
    """

    kind: str = "files"
    path: Path | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"expected one of {', '.join(sorted(BACKENDS))}")
        return value

    @model_validator(mode="after")
    def _files_need_a_path(self) -> RegistryConfig:
        if self.kind == "files" and self.path is None:
            raise ValueError("a files registry needs a path (its root directory)")
        return self

    def __str__(self) -> str:
        # As messages showed it before kinds existed: a files registry is its folder.
        if self.kind == "files":
            return str(self.path)
        return " ".join(f"{k}={v}" for k, v in self.settings().items())

    def settings(self) -> dict[str, Any]:
        """The settings ``reoptimize.registry.backends.open_registry`` builds the registry from."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.path is not None:
            out["path"] = str(self.path)
        return out


def _registry_setting(value: Any) -> Any:
    # A bare path, the only form before registry kinds existed, still means a files registry.
    if isinstance(value, str | Path):
        return {"kind": "files", "path": value}
    if not isinstance(value, dict | RegistryConfig):
        raise ValueError("expected a path or a mapping such as {kind: files, path: ...}")
    return value


DEFAULT_STATE_DIR = Path("./modelhealthd-state")


class Config(_Model):
    state: str = "sqlite:///./modelhealthd-state/state.db"
    registry: Annotated[
        RegistryConfig, BeforeValidator(_registry_setting, json_schema_input_type=Path | RegistryConfig)
    ] = RegistryConfig(path=DEFAULT_STATE_DIR / "registry")
    state_dir: Path | None = None
    reports: Path | None = None
    api: ApiConfig = ApiConfig()
    prometheus: PrometheusConfig | None = None
    rules: tuple[Path, ...] = ()
    jobs: JobsConfig = JobsConfig()
    guards: GuardsConfig = GuardsConfig()
    hooks: HooksConfig = HooksConfig()
    dry_run: bool = False
    models: tuple[ModelConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_models(self) -> Config:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"model name {model.name!r} appears twice; names must be unique")
            seen.add(model.name)
        return self

    @property
    def state_directory(self) -> Path:
        """``state_dir``, else the files registry's parent folder (where it always was)."""
        if self.state_dir is not None:
            return self.state_dir
        if self.registry.kind == "files" and self.registry.path is not None:
            return self.registry.path.parent
        return DEFAULT_STATE_DIR

    @property
    def reports_dir(self) -> Path:
        return self.reports or self.state_directory / "reports"

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(
            f"no model named {name!r} in the config (known: {', '.join(m.name for m in self.models)})"
        )


def substitute_env(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` and ``${NAME:-default}``; an unset name without default is an error."""
    values: Mapping[str, str] = os.environ if env is None else env
    missing: list[str] = []

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in values:
            return values[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    out = _ENV.sub(repl, text)
    if missing:
        raise ValueError("environment variable(s) not set: " + ", ".join(sorted(set(missing))))
    return out


def format_location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-") or part in ("function-after", "function-before"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _lookup(data: Any, loc: tuple[Any, ...]) -> tuple[bool, Any]:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, data


def describe_errors(exc: ValidationError, raw: Any) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        found, value = _lookup(raw, loc)
        if loc and loc[-1] in SECRET_FIELDS:
            value = "<redacted>"
        message = err["msg"].removeprefix("Value error, ")
        where = format_location(loc)
        if err["type"] == "missing":
            problems.append(f"{where}: required field is missing")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field (value {value!r}); check the spelling")
        elif found:
            message = message[:1].lower() + message[1:]
            problems.append(f"{where}: got {value!r}; {message}")
        else:
            problems.append(f"{where}: {message}")
    return problems


def parse_config(
    text: str, source: str = "<config>", env: Mapping[str, str] | None = None, base: Path | None = None
) -> Config:
    """Parse YAML text into a :class:`Config`; relative paths resolve against ``base``."""
    try:
        text = substitute_env(text, env)
    except ValueError as exc:
        raise ConfigError(source, [str(exc)]) from None
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(source, ["not valid YAML (nested too deeply)"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"(top level): got {type(raw).__name__}; expected a mapping of settings"])
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, describe_errors(exc, raw)) from None
    return _resolve_paths(config, base) if base else config


def _resolve_paths(config: Config, base: Path) -> Config:
    def fix(path: Path | None) -> Path | None:
        if path is None or path.is_absolute():
            return path
        return base / path

    models = tuple(
        m.model_copy(
            update={
                "data": m.data.model_copy(
                    update={
                        "predictions": fix(m.data.predictions),
                        "labels": fix(m.data.labels),
                        "reference": fix(m.data.reference),
                    }
                )
            }
        )
        for m in config.models
    )
    state = config.state
    if state.startswith("sqlite:///") and not state.startswith("sqlite:////"):
        rel = state.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            state = "sqlite:///" + str(base / rel)
    return config.model_copy(
        update={
            "state": state,
            "registry": config.registry.model_copy(update={"path": fix(config.registry.path)}),
            "state_dir": fix(config.state_dir),
            "reports": fix(config.reports),
            "rules": tuple(fix(p) for p in config.rules),
            "models": models,
            "api": config.api.model_copy(update={"token_file": fix(config.api.token_file)}),
            "hooks": config.hooks.model_copy(
                update={
                    "token_file": fix(config.hooks.token_file),
                    "grafana": config.hooks.grafana.model_copy(
                        update={"hmac_secret_file": fix(config.hooks.grafana.hmac_secret_file)}
                    ),
                }
            ),
        }
    )


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises :class:`ConfigError` naming every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {exc.start}: {exc.reason})"]) from None
    return parse_config(text, str(path), env, base=path.resolve().parent)
