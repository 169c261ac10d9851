"""The daemon's HTTP API: health, metrics, read endpoints, manual actions, labels and reports.

Reads are open; writes need the API bearer token. The app reaches the daemon only through
:class:`monitor.http.operations.ApiOperations`; the webhook routes come in as routers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp

from monitor.config import ModelConfig
from monitor.http.http_guard import BodyLimit, JSONBodyRoute, require_token
from monitor.http.operations import ApiOperations
from monitor.promote.promoter import PromotionError
from monitor.sources.prediction_log_reader import parse_ts
from reoptimize.registry.names import check_name, check_version
from reoptimize.registry.registry_errors import RegistryError
from reoptimize.steps.catalog import CATALOG
from rules.pipelines import normalize_pipeline


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelItem(_Body):
    request_id: str = Field(min_length=1, max_length=128)
    label: int | float | str | bool
    ts: str | float | None = None


class LabelsBody(_Body):
    model: str
    labels: list[LabelItem] = Field(max_length=100_000)


class TriggerBody(_Body):
    pipeline: str | list[str]  # any form the pipeline grammar accepts (reoptimize.steps.catalog)
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    reason: str = "manual trigger"


class PromoteBody(_Body):
    version: str
    reason: str = "manual promotion"


class RollbackBody(_Body):
    reason: str = "manual rollback"


class BreakerResetBody(_Body):
    reason: str = Field("reset by hand", max_length=500)
    by: str = Field("api", max_length=100)


def create_api(
    daemon: ApiOperations, routers: Sequence[APIRouter] = (), max_body_bytes: int = 1_048_576
) -> ASGIApp:
    app = FastAPI(title="modelhealthd", version="1", docs_url="/docs", redoc_url=None)
    app.router.route_class = JSONBodyRoute
    auth = Depends(require_token(daemon.api_token))
    store = daemon.store

    def known_model(name: str) -> ModelConfig:
        try:
            check_name(name)
            return daemon.config.model(name)
        except (RegistryError, KeyError):
            raise HTTPException(404, f"no model named {name!r} in the config") from None

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Response:
        problems = daemon.readiness_problems()
        status = 503 if problems else 200
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(daemon.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/v1/models")
    def models() -> list[dict[str, Any]]:
        return [daemon.model_summary(m.name) for m in daemon.config.models]

    @app.get("/api/v1/models/{model}")
    def model(model: str) -> dict[str, Any]:
        known_model(model)
        return daemon.model_summary(model, detail=True)

    @app.get("/api/v1/models/{model}/versions/{version}")
    def version(model: str, version: str) -> dict[str, Any]:
        known_model(model)
        try:
            check_version(version)
            return daemon.registry.manifest(model, version).to_json()
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/v1/models/{model}/versions/{version}/card")
    def card(model: str, version: str, format: str = Query("json", pattern="^(json|md)$")) -> Response:
        """The version's model card: metrics, lineage, gate verdict and a decision-tree surrogate."""
        known_model(model)
        name = "model_card.json" if format == "json" else "model_card.md"
        try:
            check_version(version)
            if name not in daemon.registry.manifest(model, version).files:
                raise HTTPException(404, f"{model} v{version} has no {name}")
            body = daemon.registry.read_bytes(model, version, name)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        media = "application/json" if format == "json" else "text/markdown; charset=utf-8"
        return Response(body, media_type=media)

    @app.get("/api/v1/checks")
    def checks(model: str | None = None, limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [c.to_json() for c in store.checks.list(model, limit)]

    @app.get("/api/v1/rules")
    def rule_states(model: str | None = None) -> list[dict[str, Any]]:
        return [{"rule": r, "model": m, **s} for (r, m), s in sorted(store.rule_states.load(model).items())]

    @app.get("/api/v1/jobs")
    def jobs(
        model: str | None = None, state: str | None = None, limit: int = Query(50, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        return [j.to_json() for j in store.jobs.list(model, (state,) if state else None, limit)]

    @app.get("/api/v1/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        record = store.jobs.get(job_id)
        if record is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return record.to_json()

    @app.post("/api/v1/jobs/{job_id}/cancel", dependencies=[auth])
    def cancel(job_id: str) -> dict[str, Any]:
        if store.jobs.get(job_id) is None:
            raise HTTPException(404, f"no job {job_id!r}")
        if not daemon.cancel_job(job_id):
            raise HTTPException(409, f"job {job_id} has already finished")
        return {"job": job_id, "state": "cancelled"}

    @app.get("/api/v1/promotions")
    def promotions(model: str | None = None, limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [p.to_json() for p in store.promotions.list(model, limit)]

    @app.get("/api/v1/decisions")
    def decisions(
        model: str | None = None,
        kind: str | None = None,
        job: str | None = None,
        limit: int = Query(100, ge=1, le=5000),
    ) -> list[dict[str, Any]]:
        return [d.to_json() for d in store.decisions.list(model, kind, job, limit)]

    @app.post("/api/v1/labels", status_code=202, dependencies=[auth])
    def post_labels(body: LabelsBody) -> dict[str, Any]:
        known_model(body.model)
        now = time.time()
        items = []
        for i, item in enumerate(body.labels):
            try:
                at = parse_ts(item.ts) if item.ts is not None else now
            except ValueError:
                raise HTTPException(
                    422, f"labels[{i}].ts: got {item.ts!r}; expected an RFC 3339 time"
                ) from None
            items.append((item.request_id, item.label, at))
        return {"model": body.model, "stored": store.labels.add(body.model, items)}

    @app.post("/api/v1/models/{model}/check", dependencies=[auth])
    def check_now(model: str) -> dict[str, Any]:
        known_model(model)
        return daemon.run_check(model).to_json()

    @app.post("/api/v1/models/{model}/trigger", status_code=202, dependencies=[auth])
    def trigger(model: str, body: TriggerBody) -> dict[str, Any]:
        known_model(model)
        try:
            pipeline = normalize_pipeline(body.pipeline, CATALOG)
        except ValueError as exc:
            raise HTTPException(422, f"pipeline: got {body.pipeline!r}; {exc}") from None
        return daemon.trigger(model, pipeline, body.params, body.reason)

    @app.post("/api/v1/models/{model}/promote", dependencies=[auth])
    def promote(model: str, body: PromoteBody) -> dict[str, Any]:
        known_model(model)
        try:
            check_version(body.version)
            return daemon.promote(model, body.version, body.reason).to_json()
        except (PromotionError, RegistryError) as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/v1/models/{model}/rollback", dependencies=[auth])
    def rollback(model: str, body: RollbackBody | None = None) -> dict[str, Any]:
        known_model(model)
        try:
            record = daemon.rollback(model, (body or RollbackBody()).reason)
        except PromotionError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"rolled_back": record is not None, "promotion": record.to_json() if record else None}

    @app.get("/api/v1/models/{model}/breaker")
    def breaker(model: str) -> dict[str, Any]:
        known_model(model)
        return daemon.breaker_status(model)

    @app.post("/api/v1/models/{model}/breaker/reset", dependencies=[auth])
    def reset_breaker(model: str, body: BreakerResetBody | None = None) -> dict[str, Any]:
        known_model(model)
        body = body or BreakerResetBody()
        decision, is_open = daemon.reset_breaker(model, body.by, body.reason)
        return {"model": model, "open": is_open, "decision": decision.to_json()}

    @app.post("/api/v1/models/{model}/report", status_code=202, dependencies=[auth])
    def report_now(model: str) -> Response:
        """Render Evidently's drift report of the current window now (in a worker process)."""
        known_model(model)
        answer = daemon.request_report(model)
        return JSONResponse(answer.body, status_code=answer.status)

    @app.get("/reports/{model}")
    def reports(model: str) -> list[str]:
        known_model(model)
        folder = Path(daemon.config.reports_dir) / model
        return sorted((p.name for p in folder.glob("*.html")), reverse=True) if folder.is_dir() else []

    @app.get("/reports/{model}/{name}")
    def report(model: str, name: str) -> FileResponse:
        known_model(model)
        if not name.endswith(".html") or "/" in name or name.startswith("."):
            raise HTTPException(404, f"no report {name!r}")
        path = Path(daemon.config.reports_dir) / model / name
        if not path.is_file():
            raise HTTPException(404, f"no report {name!r} for {model}")
        return FileResponse(path, media_type="text/html")

    for router in routers:
        app.include_router(router)
    return BodyLimit(app, max_body_bytes)
