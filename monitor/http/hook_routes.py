"""Webhook intake over HTTP: ``POST /hooks/alertmanager`` and ``POST /hooks/grafana``.

Both need ``Authorization: Bearer <token>`` (``hooks.token``, else the API token), compared in
constant time; ``/hooks/grafana`` also checks Grafana's HMAC signature when
``hooks.grafana.hmac_secret`` is set. The body cap is the API's (``api.max_body_bytes``, 413).

Replies: 202 once every alert is durably stored (the body says what was done with each),
400/422 for a body that is not the sender's payload, 401/403 for bad credentials, 503 when
the state store cannot take the alerts now (Alertmanager retries 5xx, and drops other codes).
``GET /api/v1/alerts`` lists the stored alert episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from monitor.alerts.intake import AlertIntake, TransientError
from monitor.alerts.payloads import PayloadError, Source, parse_payload
from monitor.alerts.signature import SignatureCheck, SignatureError
from monitor.config import Config
from monitor.exporter import DaemonMetrics
from monitor.http.http_guard import require_token
from monitor.running_config import RunningConfig


def hook_router(
    running: RunningConfig, intake: AlertIntake, metrics: DaemonMetrics, clock: Callable[[], float]
) -> APIRouter:
    """The hooks' routes around ``intake``; the running config is read at every request."""
    router = APIRouter(tags=["hooks"])

    def token() -> str | None:
        config = running.config
        return config.hooks.resolved_token() or config.api.resolved_token()

    def counted(source: Source) -> Callable[[Request], None]:
        check = require_token(token)

        def dependency(request: Request) -> None:
            try:
                check(request)
            except HTTPException:
                metrics.alerts.labels(source, "rejected").inc()
                raise

        return dependency

    async def take(request: Request, source: Source) -> JSONResponse:
        try:
            body = await request.body()
        except ClientDisconnect:  # a truncated body, or one the body limit has already answered 413
            metrics.alerts.labels(source, "rejected").inc()
            return JSONResponse({"detail": "the body did not arrive in full"}, status_code=400)
        try:
            check = signature(running.config) if source == "grafana" else None
        except (OSError, UnicodeDecodeError) as exc:  # the secret file is gone: refuse now, retry later
            metrics.alerts.labels(source, "rejected").inc()
            return JSONResponse({"detail": f"cannot read the HMAC secret file: {exc}"}, status_code=503)
        try:
            if check is not None:
                check.verify(body, request.headers, clock())
            payload = parse_payload(body, source)
        except SignatureError as exc:
            metrics.alerts.labels(source, "rejected").inc()
            raise HTTPException(401, str(exc)) from None
        except PayloadError as exc:
            metrics.alerts.labels(source, "rejected").inc()
            raise HTTPException(exc.status, exc.problems) from None
        try:
            results = await run_in_threadpool(intake.receive, source, payload)
        except TransientError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})
        return JSONResponse(
            {"source": source, "received": len(results), "alerts": [r.to_json() for r in results]},
            status_code=202,
        )

    @router.post("/hooks/alertmanager", status_code=202, dependencies=[Depends(counted("alertmanager"))])
    async def alertmanager(request: Request) -> JSONResponse:
        """Alertmanager's webhook (payload version 4)."""
        return await take(request, "alertmanager")

    @router.post("/hooks/grafana", status_code=202, dependencies=[Depends(counted("grafana"))])
    async def grafana(request: Request) -> JSONResponse:
        """Grafana's webhook contact point (payload version 1), HMAC-signed when configured."""
        return await take(request, "grafana")

    @router.get("/api/v1/alerts")
    def alerts(source: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Alert episodes received on the hooks, newest first."""
        return [a.to_json() for a in intake.log.list(source, limit)]

    return router


def signature(config: Config) -> SignatureCheck | None:
    """The Grafana signature check of ``config``, or None when no secret is set."""
    cfg = config.hooks.grafana
    secret = cfg.resolved_secret()
    if not secret:
        return None
    return SignatureCheck(secret, cfg.signature_header, cfg.timestamp_header, cfg.max_age)
