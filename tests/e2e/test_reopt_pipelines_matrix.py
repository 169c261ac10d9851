"""Every pipeline, triggered through rules on models that are not in the repository.

One daemon watches nine copies of a generated sensor model, each with its own rule. The rules
read ``model_size_bytes``, which the daemon measures from the registry, so they fire without
traffic; each names a different pipeline (one step each, a chain, and ``auto`` for a size
and a cost goal). Every job runs in its own worker process. The test checks that each
pipeline ran the steps it names, that its gate verdict is on record, and that what was
promoted really passed the gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.reopt_e2e import (
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

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# model -> (pipeline, with, steps the job must have run for its kept or best candidate)
MATRIX = {
    "m-retrain": ("retrain", {"max_epochs": 6}, ["retrain"]),
    "m-prune": ("prune", {"prune": {"amount": 0.5}}, ["prune"]),
    "m-quantize": ("quantize", {"quantize": {"mode": "static"}}, ["quantize"]),
    "m-distill": ("distill", {"distill": {"width": 0.25}}, ["distill"]),
    "m-tune": ("tune", {"tune": {"trials": 3}, "max_epochs": 4}, ["tune"]),
    "m-export": ("export", {"export": {"tolerance": 1e-4}}, ["export"]),
    "m-chain": ("retrain+prune+quantize", {"max_epochs": 6}, ["retrain", "prune", "quantize"]),
    "m-auto-size": ("auto", {}, None),
    "m-auto-cost": ("auto", {"goal": "cost"}, None),
}


def rules() -> str:
    lines = ["rules:"]
    for model, (pipeline, params, _) in MATRIX.items():
        lines += [
            f"  - name: size-{model}",
            f"    models: [{model}]",
            "    when: model_size_bytes > 1000",
            "    cooldown: 5s",
            "    actions:",
            f"      - pipeline: {pipeline}",
            f"        with: {params!r}".replace("'", '"'),
        ]
    return "\n".join(lines) + "\n"


def test_every_pipeline_is_triggered_through_rules_and_gated(tmp_path: Path) -> None:
    frame = sensor_table(rows=3000, seed=5)
    api_port = free_port()
    models = [model_entry(tmp_path, name, free_port()) for name in MATRIX]
    config = write_config(
        tmp_path, models, rules(), api_port, concurrency=2,
        guards={"daily_budget": 1, "concurrency": 2, "blast_radius": 20},
    )  # fmt: skip
    for name in MATRIX:
        train_v1(tmp_path, name, frame)
    api = f"http://127.0.0.1:{api_port}"
    log = open(tmp_path / "processes.log", "wb")  # noqa: SIM115 - closed in finally
    daemon = None
    try:
        daemon = cli("run", "-c", str(config), "--log-format", "text", log=log)
        wait_for(lambda: requests.get(api + "/healthz", timeout=2).ok, 60, "the daemon", (daemon,))
        jobs = {}
        for name in MATRIX:
            jobs[name] = wait_for(lambda n=name: finished_job(api, n), 420, f"the job of {name}", (daemon,))

        def promoted() -> set[tuple[str, str]]:
            done = api_get(api, "/api/v1/promotions", limit=100)
            return {(p["model"], p["to_version"]) for p in done if p["state"] == "done"}

        staged = {
            (n, j["result"]["staged_version"]) for n, j in jobs.items() if j["result"]["staged_version"]
        }
        wait_for(lambda: staged <= promoted(), 60, "the promotions of the staged versions", (daemon,))
    finally:
        stop_all([daemon])
        log.close()

    from reoptimize.registry.backends import open_registry

    registry = open_registry(tmp_path / "state" / "registry")
    for name, (pipeline, _, steps) in MATRIX.items():
        job = jobs[name]
        assert job["state"] == "succeeded", (name, job.get("error"))
        assert job["pipeline"] == pipeline and job["trigger"]["rule"] == f"size-{name}"
        result = job["result"]
        assert result["verdict"]["text"] and result["candidates"], name
        if steps is not None:
            assert [s["step"] for s in result["steps"]] == steps, name
        if result["staged_version"]:
            assert result["verdict"]["passed"], (name, result["verdict"]["text"])
            manifest = registry.verify(name, result["staged_version"])
            assert manifest.lineage["job_id"] == job["id"] and "model_card.md" in manifest.files
        else:
            assert not result["verdict"]["passed"]
    size, cost = jobs["m-auto-size"]["result"], jobs["m-auto-cost"]["result"]
    assert size["goal"]["kind"] == "size" and size["policy"]["objective"] == "-model_size_bytes"
    assert size["staged_version"], size["verdict"]["text"]
    assert size["candidate"]["model_size_bytes"] < size["champion"]["model_size_bytes"] / 3
    assert cost["goal"]["kind"] == "cost" and cost["candidates"][0]["plan"].startswith("distill")
    assert jobs["m-quantize"]["result"]["goal"]["kind"] == "size", "a size rule gates quantize on size"
