"""The reference model server: the registry's production version on ONNX Runtime, behind FastAPI.

Endpoints:

* ``POST /predict``: body and errors as documented in :mod:`serving.predict_request`. Answers
  ``{"model", "version", "predictions", "probabilities" (null for a regressor), "request_ids"}``.
  A row's request id is its entry in ``ids`` when given, else ``<X-Request-ID or uuid4>-<row index>``.
* ``GET /metrics``, ``GET /healthz`` (always 200), ``GET /readyz`` (503 with a reason until a
  model is loaded).
* ``POST /-/reload`` with ``Authorization: Bearer <token>``: loads the current production
  version and swaps it in, answering ``{"model", "version", "previous"}``. 401 without a token,
  403 with a wrong one (or when the server has no token), 409 when the new version cannot be
  loaded, in which case the old version keeps serving.

When the registry has no loadable production version at start, the server still starts, answers
503 with the reason on ``/readyz`` and ``/predict``, and serves the model after a reload. This lets
a server come up before the first model is promoted.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from reoptimize.registry.backends import RegistrySettings, open_registry
from reoptimize.registry.names import check_name
from serving.instrument import RequestTimer, ServerInstrumentation
from serving.model_slot import LoadedModel, ModelLoadError, ModelSlot
from serving.predict_request import BadRequest, header_request_id, parse_predict_body

log = logging.getLogger("modelhealthd.serving")


class _Refused(Exception):
    def __init__(self, status: int, kind: str, reason: str):
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"request body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"request body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody will read this answer; it only keeps a truncated body out of the error log.
        raise BadRequest(400, f"the client closed the connection after {size} bytes of the body") from None
    return b"".join(chunks)


def _request_ids(given: tuple[str, ...] | None, header: str | None, n: int) -> list[str]:
    if given is not None:
        return list(given)
    prefix = header or uuid.uuid4().hex
    return [f"{prefix}-{i}" for i in range(n)]


class _Predictor:
    """The blocking part of ``/predict``, run in a worker thread."""

    def __init__(self, slot: ModelSlot, instr: ServerInstrumentation, max_rows: int):
        self.slot, self.instr, self.max_rows = slot, instr, max_rows

    def __call__(self, body: bytes, header_id: str | None, timer: RequestTimer) -> dict[str, Any]:
        loaded: LoadedModel | None = self.slot.current  # read once: a reload cannot change it under us
        if loaded is None:
            raise _Refused(503, "not_ready", self.slot.not_ready_reason)
        parsed = parse_predict_body(body, loaded.features, self.max_rows)
        prefix = header_request_id(header_id)
        try:
            result = loaded.onnx.run(parsed.matrix)
        except Exception as exc:
            log.error("%s v%s failed on %d rows: %s", loaded.model, loaded.version, len(parsed.matrix), exc)
            raise _Refused(
                500, "model_error", f"{loaded.model} v{loaded.version} failed to predict: {exc}"
            ) from None
        if result.proba is not None and not np.isfinite(result.proba).all():
            raise _Refused(
                500, "model_error", f"{loaded.model} v{loaded.version} produced non-finite probabilities"
            )
        ids = _request_ids(parsed.ids, prefix, len(parsed.matrix))
        proba = None if result.proba is None else result.proba.tolist()
        self._log(loaded, ids, parsed.matrix.tolist(), result.labels, proba)
        timer.rows = len(ids)
        return {
            "model": loaded.model,
            "version": loaded.version,
            "predictions": result.labels,
            "probabilities": proba,
            "request_ids": ids,
        }

    def _log(
        self,
        loaded: LoadedModel,
        ids: list[str],
        values: list[list[float]],
        labels: list[Any],
        proba: list[list[float]] | None,
    ) -> None:
        if self.instr.log is None:
            return
        rows = [dict(zip(loaded.features, row, strict=True)) for row in values]
        try:
            self.instr.log_predictions(ids, rows, labels, proba, loaded.version)
        except (OSError, ValueError) as exc:
            # The answer is still right; the operator sees the gap through errors_total{kind="log_error"}.
            log.error("prediction log write failed for %s: %s", loaded.model, exc)
            self.instr.count_error("log_error")


def _bearer_check(header: str | None, token: str | None) -> tuple[int, str] | None:
    """None when authorized, else (status, reason). The token itself never appears in a reason."""
    if token is None:
        return 403, "reload is disabled: the server was started without a token"
    if not header:
        return 401, "reload needs an 'Authorization: Bearer <token>' header"
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 403, "the bearer token is not valid for reload"
    return None


def create_app(
    registry: RegistrySettings,
    model: str,
    *,
    predictions_dir: str | Path | None = None,
    token: str | None = None,
    max_rows: int = 10000,
    max_body_bytes: int = 64 << 20,
    metrics_registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
    threads: int = 1,
) -> FastAPI:
    """Build the server app for ``model`` in ``registry`` (a files registry's folder, or settings).

    ``predictions_dir`` enables the prediction log; ``token`` enables ``/-/reload``; ``clock``
    (epoch seconds) stamps the prediction log. The production version is loaded now if it can be.
    """
    check_name(model)
    if max_rows < 1:
        raise ValueError(f"max_rows = {max_rows}: expected at least 1")
    instr = ServerInstrumentation(model, predictions_dir, metrics_registry, clock=clock)
    slot = ModelSlot(
        open_registry(registry), model, threads=threads, on_swap=lambda m: instr.set_version(m.version)
    )
    try:
        loaded, _ = slot.reload()
        log.info("serving %s v%s", model, loaded.version)
    except ModelLoadError as exc:
        log.warning("not ready: %s", exc)
    predictor = _Predictor(slot, instr, max_rows)
    app = FastAPI(title=f"modelhealthd model server ({model})")
    app.state.slot, app.state.instrumentation = slot, instr

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        with instr.request() as timer:
            try:
                body = await _read_body(request, max_body_bytes)
                answer = await run_in_threadpool(predictor, body, request.headers.get("x-request-id"), timer)
            except BadRequest as exc:
                timer.error("bad_request")
                return JSONResponse({"error": exc.reason, "model": model}, status_code=exc.status)
            except _Refused as exc:
                timer.error(exc.kind)
                return JSONResponse({"error": exc.reason, "model": model}, status_code=exc.status)
            except Exception:
                log.exception("unexpected error in /predict")
                timer.error("internal")
                return JSONResponse({"error": "internal error", "model": model}, status_code=500)
            return JSONResponse(answer)

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = instr.render_metrics()
        return Response(body, media_type=content_type)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Response:
        current = slot.current
        if current is None:
            return JSONResponse({"status": "not ready", "reason": slot.not_ready_reason}, status_code=503)
        return JSONResponse({"status": "ready", "model": model, "version": current.version})

    @app.post("/-/reload")
    def reload(request: Request) -> Response:
        refused = _bearer_check(request.headers.get("authorization"), token)
        if refused is not None:
            instr.count_reload("unauthorized")
            headers = {"WWW-Authenticate": "Bearer"} if refused[0] == 401 else None
            return JSONResponse(
                {"error": refused[1], "model": model}, status_code=refused[0], headers=headers
            )
        try:
            loaded, previous = slot.reload()
        except ModelLoadError as exc:
            instr.count_reload("failure")
            current = slot.current
            log.error("reload refused, still serving %s: %s", current.version if current else "nothing", exc)
            return JSONResponse(
                {"error": str(exc), "model": model, "version": current.version if current else None},
                status_code=409,
            )
        instr.count_reload("success")
        log.info("reloaded %s: v%s -> v%s", model, previous.version if previous else None, loaded.version)
        return JSONResponse(
            {"model": model, "version": loaded.version, "previous": previous.version if previous else None}
        )

    return app
