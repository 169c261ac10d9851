"""A model server that is not ours: FastAPI instrumented by prometheus-fastapi-instrumentator.

Its metrics follow the generic naming (``http_requests_total{handler,method,status}``,
``http_request_duration_seconds{handler,method}``) with status codes grouped as ``2xx``/``5xx``.
Each ``POST /predict`` request says how long to sleep and how much CPU to burn, and whether to
fail with a 500, so a test knows the true latency bucket, CPU per prediction and error ratio::

    python -m tests.support.generic_server --port 8123
    POST /predict {"x": [1.0, 2.0], "sleep": 0.01, "burn": 0.005, "fail": false}
"""

from __future__ import annotations

import argparse
import time

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import BaseModel

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class PredictBody(BaseModel):
    x: list[float]
    sleep: float = 0.0
    burn: float = 0.0
    fail: bool = False


def burn_cpu(seconds: float) -> None:
    """Spin until this process has used ``seconds`` more CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    def predict(body: PredictBody) -> JSONResponse:  # sync: runs in the thread pool, like most servers
        burn_cpu(body.burn)
        time.sleep(body.sleep)
        if body.fail:
            return JSONResponse({"error": "asked to fail"}, status_code=500)
        return JSONResponse({"prediction": int(sum(body.x) > 0)})

    Instrumentator().instrument(app, latency_lowr_buckets=LATENCY_BUCKETS).expose(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
