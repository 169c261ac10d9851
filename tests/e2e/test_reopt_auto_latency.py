"""A latency rule on a model that is not in the repository triggers ``pipeline: auto``.

Real processes: the reference model server, the daemon and its job worker. The rule fires as
soon as the model serves traffic; the job builds int8 and pruned candidates, measures them
against the champion, keeps the best that passes, and the daemon promotes it and reloads the
server. The job's record lists every candidate with the reason it was kept or dropped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.reopt_e2e import (
    FEATURES,
    LABEL,
    api_get,
    cli,
    finished_job,
    free_port,
    model_entry,
    sensor_table,
    stop_all,
    train_v1,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e

RULES = """
rules:
  - name: slow-sensors
    when: latency_p95_seconds >= 0 && rows >= 40
    for: 2s
    cooldown: 1h
    severity: warning
    actions:
      - pipeline: auto
        with: {time_budget: 120}
"""


def test_a_latency_rule_runs_auto_and_the_faster_model_is_promoted_and_served(tmp_path: Path) -> None:
    frame = sensor_table()
    api_port, server_port = free_port(), free_port()
    config = write_config(tmp_path, [model_entry(tmp_path, "sensors", server_port)], RULES, api_port)
    train_v1(tmp_path, "sensors", frame.iloc[:3000])
    frame.iloc[3000:].to_parquet(tmp_path / "traffic.parquet")
    api, srv = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{server_port}"
    log = open(tmp_path / "processes.log", "wb")  # noqa: SIM115 - closed in finally
    server = daemon = replay = None
    try:
        server = cli("serve", "--registry", str(tmp_path / "state/registry"), "--model", "sensors",
                     "--port", str(server_port), "--predictions", str(tmp_path / "logs/sensors"),
                     "--token-file", str(tmp_path / "server-token"), log=log)  # fmt: skip
        daemon = cli("run", "-c", str(config), "--log-format", "text", log=log)
        wait_for(lambda: requests.get(srv + "/readyz", timeout=2).ok, 60, "the server", (server,))
        wait_for(lambda: requests.get(api + "/healthz", timeout=2).ok, 60, "the daemon", (daemon,))
        replay = cli("replay", "--url", srv, "--data", str(tmp_path / "traffic.parquet"), "--label-column", LABEL,
                     "--rate", "30", "--duration", "150s", "--labels-url", api,
                     "--labels-token-file", str(tmp_path / "api-token"), "--label-delay", "1s", log=log)  # fmt: skip
        job = wait_for(lambda: finished_job(api, "sensors"), 150, "the auto job", (server, daemon))
        assert job["state"] == "succeeded", job.get("error")
        assert job["pipeline"] == "auto" and job["trigger"]["rule"] == "slow-sensors"
        result = job["result"]
        assert result["goal"]["kind"] == "latency", result["goal"]
        assert "latency_p95_seconds" in result["goal"]["reason"]
        plans = [c["plan"] for c in result["candidates"]]
        assert plans[:2] == ["quantize-dynamic", "quantize-static"]
        assert all(c["reason"] for c in result["candidates"])
        assert result["verdict"]["passed"], result["verdict"]["text"]
        kept = next(c for c in result["candidates"] if c["status"] == "kept")
        assert kept["metrics"]["batch_latency_seconds"] < result["champion"]["batch_latency_seconds"] * 0.95
        assert kept["metrics"]["holdout_accuracy"] >= result["champion"]["holdout_accuracy"] - 0.005

        def promoted() -> bool:
            return any(
                p["state"] == "done" and p["to_version"] == "2" for p in api_get(api, "/api/v1/promotions")
            )

        wait_for(promoted, 60, "the promotion of v2", (server, daemon))
        row = {"rows": [dict.fromkeys(FEATURES, 0.0)]}
        wait_for(lambda: requests.post(srv + "/predict", json=row, timeout=5).json()["version"] == "2", 30,
                 "the server to serve v2")  # fmt: skip
        card = api_get(api, "/api/v1/models/sensors/versions/2/card", format="md")
        assert "## Candidates considered" in card and kept["plan"] in card and "Goal | latency" in card
        manifest = api_get(api, "/api/v1/models/sensors/versions/2")
        assert manifest["lineage"]["plan"]["name"] == kept["plan"]
        assert manifest["lineage"]["inputs"]["parent_model_sha256"]
    finally:
        stop_all([replay, daemon, server])
        log.close()
