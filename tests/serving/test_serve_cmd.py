"""``modelhealthd serve`` as a real process: it serves, reloads with the token file, and never prints the token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import typer
from typer.testing import CliRunner

from monitor.cli import serve_cmd

# Only the serve command is registered: the full CLI pulls in every other command module.
LAUNCH = (
    "import sys, typer; from monitor.cli import serve_cmd; app = typer.Typer(); serve_cmd.register(app);"
    "app.command('noop')(lambda: None); app(sys.argv[1:])"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up within {timeout}s")


def run_server(args: list[str], env_extra: dict[str, str] | None = None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return err.decode()


@pytest.mark.parametrize("via", ["file", "env"])
def test_serve_command_serves_and_reloads(registry_root: Path, tmp_path: Path, via: str):
    token = "cli-secret-token-123"
    port = free_port()
    args = ["--registry", str(registry_root), "--model", "tiny", "--port", str(port)]
    args += ["--predictions", str(tmp_path / "preds")]
    env = {}
    if via == "file":
        (tmp_path / "token").write_text(token + "\n")
        args += ["--token-file", str(tmp_path / "token")]
    else:
        env["MODELHEALTHD_SERVER_TOKEN"] = token
    proc = run_server(args, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        resp = requests.post(url + "/predict", json={"instances": [[1, 0, 0, 0]]}, timeout=10)
        assert resp.status_code == 200 and resp.json()["version"] == "1"
        assert requests.post(url + "/-/reload", timeout=10).status_code == 401
        ok = requests.post(url + "/-/reload", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["version"] == "1"
    finally:
        err = stop(proc)
    assert token not in err
    assert any((tmp_path / "preds").iterdir())


def test_without_a_token_reload_is_disabled(registry_root: Path):
    port = free_port()
    proc = run_server(
        ["--registry", str(registry_root), "--model", "tiny", "--port", str(port)],
        {"MODELHEALTHD_SERVER_TOKEN": ""},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        resp = requests.post(url + "/-/reload", headers={"Authorization": "Bearer anything"}, timeout=10)
        assert resp.status_code == 403 and "without a token" in resp.json()["error"]
    finally:
        err = stop(proc)
    assert "/-/reload is disabled" in err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--model", "bad/name"], "invalid model name"),
        (["--model", "tiny", "--token-file", "/nonexistent/token"], "cannot read token file"),
    ],
)
def test_bad_arguments_fail_before_serving(registry_root: Path, extra: list[str], fragment: str):
    app = typer.Typer()
    serve_cmd.register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["serve", "--registry", str(registry_root), *extra])
    assert result.exit_code == 2
    assert fragment in result.output


def test_empty_token_file_is_refused(tmp_path: Path):
    (tmp_path / "t").write_text("  \n")
    with pytest.raises(typer.BadParameter, match="is empty"):
        serve_cmd.read_token(tmp_path / "t")
