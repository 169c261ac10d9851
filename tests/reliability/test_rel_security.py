"""Security defaults: loopback binding, auth on every write, secrets out of logs, names checked
against path traversal, and no pickle anywhere in the code.

The daemon and the reference model server run as real processes (``modelhealthd run`` and
``modelhealthd serve``) with their tokens in files and in the environment; a promotion makes
the daemon call the server's reload hook with its token. Everything they print, the job logs
and the state store are then searched for every secret.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from monitor.cli import app as cli_app
from monitor.config import parse_config
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from reoptimize.registry.registry_errors import RegistryError
from serving.app import create_app as create_server_app
from tests.reliability.support_http import empty_server
from tests.reliability.support_state import state_digest
from tests.support.alerting import (
    alert,
    auth,
    free_port,
    notification,
    register_model,
    start_daemon,
    write_config,
)
from tests.support.daemon_process import DaemonProcess
from tests.support.waiting import wait_until
from tests.support.waiting import wait_until as poll  # tolerates connection errors

pytestmark = pytest.mark.reliability
REPO = Path(__file__).resolve().parents[2]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PATH_VALUES = {"model": "m", "version": "1", "job_id": "nope", "name": "x.html"}
TRAVERSAL = ["..", ".", "../x", "../../etc/passwd", "a/b", ".hidden", "-rf", "a" * 64, "x\x00y", "m\n"]


# -- binding --------------------------------------------------------------------------------
def test_the_api_and_the_server_bind_loopback_by_default(tmp_path, report) -> None:
    assert parse_config("").api.host == "127.0.0.1"
    example = yaml.safe_load((REPO / "deploy" / "config.example.yaml").read_text())
    assert example["api"]["listen"].startswith("127.0.0.1:")
    serve_help = CliRunner().invoke(cli_app, ["serve", "--help"], terminal_width=200).output
    assert "default: 127.0.0.1" in serve_help
    register_model(tmp_path / "registry")
    with empty_server() as server:
        daemon, _ = start_daemon(write_config(tmp_path, server))
        try:
            bound = {s.getsockname()[0] for srv in daemon.http_server.servers for s in srv.sockets}
        finally:
            daemon.stop(grace=5)
    assert bound == {"127.0.0.1"}
    report.record("security defaults", trials=1, faults=0, passes=1, note="loopback binding")


# -- auth on every write --------------------------------------------------------------------
def write_routes(app) -> set[tuple[str, str]]:  # noqa: ANN001 - a FastAPI app
    """(method, path) of every write route: the app's own routes, those of included routers
    (FastAPI keeps an included router as one entry holding its effective routes), and every
    operation of the OpenAPI spec, so that no way of adding a route hides one."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        nested = getattr(route, "effective_candidates", ())
        nested = nested() if callable(nested) else nested
        candidates = [route] if isinstance(route, APIRoute) else list(nested)
        for r in candidates:
            found |= {(m, r.path) for m in (r.methods or ()) if m in WRITES}
    for path, operations in app.openapi()["paths"].items():
        found |= {(m.upper(), path) for m in operations if m.upper() in WRITES}
    return found


def _fill(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


def test_every_write_endpoint_and_hook_needs_a_token(tmp_path, report) -> None:
    register_model(tmp_path / "registry")
    with empty_server() as server:
        daemon, url = start_daemon(write_config(tmp_path, server))
        try:
            wait_until(lambda: daemon.store.checks.latest("m"), 30, "the first check")
            app = daemon.http_server.config.app.app  # the FastAPI app inside the body-size limit
            writes = sorted((method, _fill(path)) for method, path in write_routes(app))
            before = state_digest(daemon.config.state, daemon.config.registry.path)
            refused = []
            for method, path in writes:
                for headers, expected in (
                    ({}, 401),
                    (auth("wrong"), 403),
                    ({"Authorization": "Bearer "}, 401),
                ):
                    reply = requests.request(method, url + path, json={}, headers=headers, timeout=10)
                    refused.append((method, path, reply.status_code == expected))
            assert state_digest(daemon.config.state, daemon.config.registry.path) == before
        finally:
            daemon.stop(grace=5)
    # The routes the README promises are among them.
    paths = {p for _, p in writes}
    assert {"/hooks/alertmanager", "/hooks/grafana", "/api/v1/labels", "/api/v1/models/m/promote"} <= paths
    assert len(writes) >= 10
    open_writes = [(m, p) for m, p, ok in refused if not ok]
    assert not open_writes, f"writes that answered without a valid token: {open_writes}"

    server_app = create_server_app(tmp_path / "registry", "m", token="server-secret")
    server_writes = {path for _, path in write_routes(server_app)}
    # Predictions are the server's public service; every other write is the token-guarded reload.
    assert server_writes == {"/predict", "/-/reload"}
    report.record(
        "security defaults",
        trials=len(refused),
        faults=len(refused),
        passes=len(refused) - len(open_writes),
        note=f"{len(writes)} daemon write routes refuse no/wrong/empty tokens",
    )


# -- secrets never logged -------------------------------------------------------------------
def _serve(registry: Path, port: int, token_file: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "monitor.cli", "serve", "--registry", str(registry), "--model", "m",
            "--port", str(port), "--token-file", str(token_file)]  # fmt: skip
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def test_tokens_come_from_files_and_the_environment_and_are_never_logged(tmp_path, report) -> None:
    secrets = {
        "api": "api-tok-" + os.urandom(8).hex(),
        "hooks": "hook-tok-" + os.urandom(8).hex(),
        "hmac": "hmac-key-" + os.urandom(8).hex(),
        "server": "srv-tok-" + os.urandom(8).hex(),
    }
    files = {}
    for name in ("api", "hmac", "server"):
        files[name] = tmp_path / f"{name}-secret"
        files[name].write_text(secrets[name] + "\n")
        files[name].chmod(0o600)
    registry = tmp_path / "registry"
    register_model(registry)
    server_port, api_port = free_port(), free_port()
    server_log, daemon_log = tmp_path / "server.log", tmp_path / "daemon.log"
    config = {
        "state": f"sqlite:///{tmp_path}/state.db",
        "registry": str(registry),
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": str(files["api"])},
        "hooks": {"token": "${MODELHEALTHD_TEST_HOOK_TOKEN}", "grafana": {"hmac_secret_file": str(files["hmac"])}},
        "rules": [str(tmp_path / "rules.yaml")],
        "models": [{
            "name": "m",
            "server": {"url": f"http://127.0.0.1:{server_port}", "token_file": str(files["server"])},
            "data": {"predictions": str(tmp_path / "predictions")},
            "check": {"every": "1h"},
        }],
    }  # fmt: skip
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: drift-alert, source: alert, match: {alertname: ModelFeatureDrift}, "
        "actions: [{pipeline: retrain}]}\n"
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    os.environ["MODELHEALTHD_TEST_HOOK_TOKEN"] = secrets["hooks"]
    server = _serve(registry, server_port, files["server"], server_log)
    daemon = DaemonProcess(config_path, daemon_log, notify=None)
    api = f"http://127.0.0.1:{api_port}"
    try:
        poll(lambda: requests.get(api + "/healthz", timeout=2).ok, 60, "the daemon")
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{server_port}/readyz", timeout=2).ok, 60, "the server"
        )
        good, hook = auth(secrets["api"]), auth(secrets["hooks"])
        # Wrong and right credentials everywhere, each logged in its own way by the daemon.
        assert (
            requests.post(
                api + "/api/v1/labels", json={"model": "m", "labels": []}, headers=auth("x")
            ).status_code
            == 403
        )
        assert (
            requests.post(api + "/hooks/alertmanager", json=notification(alert()), headers=good).status_code
            == 403
        )
        assert (
            requests.post(api + "/hooks/alertmanager", json=notification(alert()), headers=hook).status_code
            == 202
        )
        body = notification(alert(), source="grafana")
        assert requests.post(api + "/hooks/grafana", json=body, headers=hook).status_code == 401  # unsigned
        # A second version, promoted by hand: the daemon calls the server's reload with its token.
        register_version(open_registry(registry), "m", *_model_parts(), task="classification")
        reply = requests.post(api + "/api/v1/models/m/promote", json={"version": "2"}, headers=good)
        assert reply.status_code == 200, reply.text
        wait_until(
            lambda: (
                requests.get(f"http://127.0.0.1:{server_port}/readyz", timeout=2).json().get("version") == "2"
            ),
            30,
            "the server to serve v2 after the reload hook",
        )
        bad_reload = requests.post(f"http://127.0.0.1:{server_port}/-/reload", headers=auth("guess"))
        assert bad_reload.status_code == 403
        # The alert queued a job; its worker fails (no recipe) and writes its own log.
        wait_until(
            lambda: (
                (jobs := requests.get(api + "/api/v1/jobs", timeout=5).json())
                and all(j["state"] not in ("queued", "running") for j in jobs)
            ),
            60,
            "the job the alert queued to finish",
        )
    finally:
        daemon.stop(60)
        server.terminate()
        server.wait(20)
        os.environ.pop("MODELHEALTHD_TEST_HOOK_TOKEN", None)
    searched = {"daemon log": daemon_log.read_bytes(), "server log": server_log.read_bytes()}
    for path in (tmp_path / "state").rglob("*") if (tmp_path / "state").exists() else ():
        if path.is_file():
            searched[str(path)] = path.read_bytes()
    searched["state.db"] = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    for path in (tmp_path / "jobs").rglob("*.log") if (tmp_path / "jobs").exists() else ():
        searched[str(path)] = path.read_bytes()
    leaks = [
        (where, name) for where, data in searched.items() for name, s in secrets.items() if s.encode() in data
    ]
    assert b"promot" in searched["daemon log"] and searched["server log"], "nothing was logged to search"
    assert not leaks, f"secrets found in: {leaks}"
    # `config validate --json` prints the config without its secrets.
    printed = CliRunner().invoke(cli_app, ["config", "validate", "--json", str(config_path)],
                                 env={"MODELHEALTHD_TEST_HOOK_TOKEN": secrets["hooks"]}).output  # fmt: skip
    assert '"token": "<redacted>"' in printed and secrets["hooks"] not in printed
    report.record(
        "security defaults",
        trials=len(searched),
        faults=len(secrets),
        passes=len(searched) if not leaks else 0,
        lost=len(leaks),
        note="4 secrets (files and environment) searched in logs, job logs and the state store",
    )


def _model_parts():  # noqa: ANN202
    import numpy as np
    import pandas as pd

    from tests.support.onnx_models import linear_classifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    onnx_bytes = linear_classifier(np.array([[-2.0, 2.0], [0, 0], [0, 0]]))
    return onnx_bytes, frame, ("a", "b", "c"), "label"


# -- path traversal -------------------------------------------------------------------------
def test_model_names_and_versions_cannot_walk_out_of_the_registry(tmp_path, report) -> None:
    registry_dir = tmp_path / "registry"
    register_model(registry_dir)
    registry = open_registry(registry_dir)
    (tmp_path / "secret.json").write_text('{"secret": true}')
    trials = 0
    for name in TRAVERSAL:
        for call in (
            lambda n=name: registry.production(n),
            lambda n=name: registry.versions(n),
            lambda n=name: registry.manifest(n, "1"),
            lambda n=name: registry.manifest("m", n),
            lambda n=name: registry.read_bytes("m", "1", n),
            lambda n=name: registry.read_bytes("m", "1", f"../../../{n}.json"),
        ):
            trials += 1
            with pytest.raises(RegistryError):
                call()
    with empty_server() as server:
        config = write_config(tmp_path, server)
        daemon, url = start_daemon(config)
        try:
            for name in TRAVERSAL:
                quoted = requests.utils.quote(name, safe="").replace(".", "%2E")  # sent as is, not normalized
                for method, path, body in (
                    ("GET", f"/api/v1/models/{quoted}", None),
                    ("GET", f"/api/v1/models/m/versions/{quoted}", None),
                    ("GET", f"/api/v1/models/m/versions/{quoted}/card", None),
                    ("GET", f"/reports/{quoted}/x.html", None),
                    ("GET", f"/reports/m/{quoted}", None),
                    ("POST", "/api/v1/models/m/promote", {"version": name}),
                    ("POST", f"/api/v1/models/{quoted}/rollback", None),
                ):
                    trials += 1
                    reply = requests.request(method, url + path, json=body, headers=auth(), timeout=10)
                    assert reply.status_code in (404, 409, 422), (method, path, reply.status_code)
                    assert "secret" not in reply.text or name in reply.text, (method, path)
        finally:
            daemon.stop(grace=5)
        runner = CliRunner()
        for name in ("../x", "..", "a/b"):
            for args in (
                ["models", "card", name, "1", "-c", str(config)],
                ["models", "card", "m", name, "-c", str(config)],
                ["promote", name, "1", "-c", str(config)],
                ["promote", "m", name, "-c", str(config)],
                ["rollback", name, "-c", str(config)],
                ["breaker", "reset", name, "--reason", "x", "-c", str(config)],
                ["serve", "--registry", str(registry_dir), "--model", name],
            ):
                trials += 1
                result = runner.invoke(cli_app, args)
                assert result.exit_code != 0, (args, result.output)
                text = result.output.lower()
                assert any(w in text for w in ("invalid", "no model named", "not a model")), (
                    args,
                    result.output,
                )
    report.record("security defaults", trials=trials, faults=trials, passes=trials, note="path traversal")


# -- no pickle ------------------------------------------------------------------------------
PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
PICKLING_CALLS = {"read_pickle", "to_pickle"}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            out += [
                f"{path}:{node.lineno} imports {n}"
                for n in names
                if n and n.split(".")[0] in PICKLING_MODULES
            ]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr, owner = node.func.attr, ast.unparse(node.func.value)
        kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
        if owner == "torch" and attr == "load" and kwargs.get("weights_only") != "True":
            out.append(f"{path}:{node.lineno} torch.load without weights_only=True")
        if owner == "torch" and attr == "save":
            out.append(f"{path}:{node.lineno} torch.save pickles")
        if attr == "load" and owner in ("np", "numpy") and kwargs.get("allow_pickle") == "True":
            out.append(f"{path}:{node.lineno} np.load(allow_pickle=True)")
        if attr in PICKLING_CALLS:
            out.append(f"{path}:{node.lineno} {attr}")
    return out


def test_no_pickle_anywhere_in_the_code(tmp_path, report) -> None:
    roots = ["monitor", "rules", "reoptimize", "serving", "bench", "grafana", "deploy", "docs"]
    files = [p for root in roots for p in sorted((REPO / root).rglob("*.py"))]
    assert len(files) > 100
    findings = [f for path in files for f in _findings(path)]
    assert not findings, "\n".join(findings)
    # The scanner finds what it looks for.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pickle\nimport torch\ntorch.load(f)\ntorch.load(f, weights_only=True)\n"
        "np.load(f, allow_pickle=True)\n"
    )
    assert len(_findings(probe)) == 3, _findings(probe)
    report.record(
        "security defaults", trials=len(files), faults=0, passes=len(files), note="no pickle in the code"
    )
