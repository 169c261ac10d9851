"""The rule schema: :class:`Rule`, :class:`Action` and :class:`AlertMatch` as frozen pydantic models.

Load files with :func:`rules.loader.load_rules`; it turns validation errors into readable
problems that name the file, the rule, the field and, for expressions, the column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.durations import parse_duration
from rules.expression import CompiledExpression, compile_expression
from rules.pipelines import PipelineCatalog, normalize_pipeline, starts_job

RULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$"
DEFAULT_COOLDOWN_S = 3600.0
Severity = Literal["info", "warning", "critical"]
Source = Literal["metrics", "alert"]


class FieldProblem(ValueError):
    """A problem found while checking a whole rule that belongs to one of its fields."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Action(_Frozen):
    """One thing to do when a rule fires: run ``pipeline`` with the parameters in ``with``.

    The pipeline is checked and normalized by the validation context's ``catalog`` (a
    :class:`rules.pipelines.PipelineCatalog`); without one, it must already be a stored name.
    """

    pipeline: str
    params: dict[str, Any] = Field(default_factory=dict, alias="with")

    _starts_job: bool = PrivateAttr(False)

    @field_validator("pipeline", mode="before")
    @classmethod
    def _known_pipeline(cls, value: Any, info: ValidationInfo) -> str:
        return normalize_pipeline(value, _catalog(info.context))

    @field_validator("params")
    @classmethod
    def _json_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"expected JSON values (numbers, strings, lists, mappings): {exc}") from None
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._starts_job = starts_job(self.pipeline, _catalog(context))

    @property
    def starts_job(self) -> bool:
        return self._starts_job

    def to_json(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "with": dict(self.params)}


class AlertMatch(_Frozen):
    """Which incoming alerts a ``source: alert`` rule takes: equal alertname and labels."""

    alertname: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_empty(self) -> AlertMatch:
        if self.alertname is None and not self.labels:
            raise ValueError("expected an alertname or labels; an empty match would take every alert")
        return self

    def matches(self, alert_labels: Mapping[str, str]) -> bool:
        if self.alertname is not None and alert_labels.get("alertname") != self.alertname:
            return False
        return all(alert_labels.get(key) == value for key, value in self.labels.items())


class Rule(_Frozen):
    """A named condition on a model's measurements (or an incoming alert) and what to do about it.

    ``for``, ``keep_firing_for`` and ``cooldown`` are durations (``30s``, ``5m``, ``1h``).
    ``cooldown`` defaults to one hour: the least time between two actions of this rule on one model.
    """

    name: str = Field(pattern=RULE_NAME_PATTERN)
    source: Source = "metrics"
    models: tuple[str, ...] = ("*",)
    selector: dict[str, str] = Field(default_factory=dict)
    when: str | None = None
    for_s: Duration = Field(0.0, alias="for")
    keep_firing_for_s: Duration = Field(0.0, alias="keep_firing_for")
    cooldown_s: Duration = Field(DEFAULT_COOLDOWN_S, alias="cooldown")
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    match: AlertMatch | None = None
    model_label: str = "model"

    _expression: CompiledExpression | None = PrivateAttr(None)

    @field_validator("models")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not p.strip() for p in value):
            raise ValueError("expected a list of model-name patterns such as ['*'] or ['digits', 'vision-*']")
        return value

    @field_validator("when")
    @classmethod
    def _expression_compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            compile_expression(value, _extra_names(info.context))
        return value

    @model_validator(mode="after")
    def _source_fields(self) -> Rule:
        given = self.model_fields_set
        if self.source == "metrics":
            if self.when is None:
                raise FieldProblem(
                    "when", "required for a metrics rule: the condition to watch, e.g. 'drift_share > 0.3'"
                )
            for name, alias in (("match", "match"), ("model_label", "model_label")):
                if name in given:
                    raise FieldProblem(alias, "only allowed with 'source: alert'")
        else:
            if self.match is None:
                raise FieldProblem("match", "required for an alert rule, e.g. {alertname: ModelSlow}")
            for name, alias in (("when", "when"), ("for_s", "for"), ("keep_firing_for_s", "keep_firing_for")):
                if name in given:
                    raise FieldProblem(
                        alias, "not allowed with 'source: alert'; the alert's own rule decides when it fires"
                    )
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.when is not None:
            self._expression = compile_expression(self.when, _extra_names(context))

    @property
    def expression(self) -> CompiledExpression:
        """The compiled ``when`` of a metrics rule."""
        if self._expression is None:
            raise AttributeError(f"rule {self.name!r} has source {self.source!r} and no 'when' expression")
        return self._expression

    def applies_to(self, model_name: str, model_labels: Mapping[str, str] | None = None) -> bool:
        """Whether ``model_name`` matches one of ``models`` and its labels match every ``selector`` entry."""
        labels = model_labels or {}
        if not any(fnmatchcase(model_name, pattern) for pattern in self.models):
            return False
        return all(labels.get(key) == value for key, value in self.selector.items())

    def __hash__(self) -> int:
        return hash(self.name)


def _catalog(context: Any) -> PipelineCatalog | None:
    catalog = context.get("catalog") if isinstance(context, Mapping) else None
    if catalog is not None and not isinstance(catalog, PipelineCatalog):
        raise TypeError(f"catalog: got {type(catalog).__name__}; expected a rules.pipelines.PipelineCatalog")
    return catalog


def _extra_names(context: Any) -> frozenset[str]:
    if isinstance(context, Mapping):
        return frozenset(context.get("extra_names", ()))
    return frozenset()
