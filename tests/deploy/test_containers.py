"""Dockerfile and deploy/compose.yaml, checked without a Docker engine (none runs here).

What can be checked is: the files parse; every path they copy or mount exists; every port a
service is reached on is a port that service listens on (from its command or its config);
the configs mounted into Prometheus, Alertmanager and the daemon pass their own checkers
(promtool, amtool, ``modelhealthd config validate``) in the layout the mounts give them; and
Grafana's provisioning points at the mounted dashboards and at the Prometheus service.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pytest
import yaml

from monitor.config import load_config
from tests.support.binaries import require

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"


# The stack mounts files another part of the project provides: Prometheus rules and Grafana's
# provisioning and dashboards.
MOUNTED_FROM_ELSEWHERE = ("deploy/prometheus/rules", "grafana/provisioning", "grafana/dashboards")


@pytest.fixture(scope="module")
def compose() -> dict:
    missing = [p for p in MOUNTED_FROM_ELSEWHERE if not (ROOT / p).is_dir()]
    if missing:
        pytest.skip(f"this checkout has no {', '.join(missing)} to mount")
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict) -> list[tuple[Path, PurePosixPath]]:
    """Bind mounts as (host path, container path); named volumes are left out."""
    out = []
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        if source.startswith((".", "/")):
            out.append(((COMPOSE.parent / source).resolve(), PurePosixPath(target)))
    return out


def host_path(service: dict, container_path: str) -> Path | None:
    """Where ``container_path`` comes from on the host, through the longest matching mount."""
    path = PurePosixPath(container_path)
    best = None
    for source, target in mounts(service):
        inside = path == target or target in path.parents
        if inside and (best is None or len(target.parts) > len(best[1].parts)):
            best = (source, target)
    if best is None:
        return None
    return best[0] / path.relative_to(best[1])


def listens(name: str, service: dict) -> set[int]:
    """Ports a service listens on, read from what it runs rather than from `ports:`."""
    command = [str(c) for c in service.get("command", [])]
    if "--port" in command:
        return {int(command[command.index("--port") + 1])}
    if command and command[0] == "run":
        config = load_config(
            host_path(service, command[command.index("--config") + 1]), env={"MODELHEALTHD_TOKEN": "t"}
        )
        return {config.api.port}
    defaults = {"prometheus": 9090, "alertmanager": 9093, "grafana": 3000}
    return {defaults[name]} if name in defaults else set()


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_copies_what_exists_pins_torch_first_and_runs_unprivileged() -> None:
    steps = dockerfile_instructions()
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM" and "python:3.11" in steps[0][1]
    for keyword, rest in steps:
        if keyword == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
    runs = [rest for k, rest in steps if k == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "TORCH_SPEC" in r)
    project = next(i for i, r in enumerate(runs) if "pip install ." in r)
    assert torch < project
    assert dict(steps)["ARG"] and "torch==2.13.0" in DOCKERFILE.read_text()
    user = [rest for k, rest in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0")
    exposed = {int(p) for k, rest in steps if k == "EXPOSE" for p in rest.split()}
    assert exposed == {9108, 8080}
    assert ("ENTRYPOINT", '["modelhealthd"]') in steps
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_compose_services_build_and_mount_paths_that_exist(compose: dict) -> None:
    services = compose["services"]
    assert {"prometheus", "alertmanager", "grafana", "modelhealthd", "model-server"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build:
            context = (COMPOSE.parent / build["context"]).resolve()
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for source, _ in mounts(service):
            assert source.exists(), f"{name}: mounts {source}, which does not exist"
        for spec in service.get("volumes", []):
            if not spec.startswith((".", "/")):
                assert spec.split(":")[0] in compose["volumes"], f"{name}: undeclared volume {spec}"
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: undeclared secret {secret}"


def test_published_ports_are_ports_the_services_listen_on(compose: dict) -> None:
    for name, service in compose["services"].items():
        for spec in service.get("ports", []):
            container_port = int(str(spec).split(":")[-1])
            assert container_port in listens(name, service), f"{name} publishes {spec}"


def _endpoint(url: str) -> tuple[str, int]:
    parsed = urlparse(url if "://" in url else f"http://{url}")
    return parsed.hostname, parsed.port


def test_every_service_address_points_at_a_service_that_listens_there(compose: dict) -> None:
    services = compose["services"]
    prom = services["prometheus"]
    prom_config = yaml.safe_load(host_path(prom, "/etc/prometheus/prometheus.yml").read_text())
    addresses = [
        t for job in prom_config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    ]
    addresses += [
        t
        for am in prom_config["alerting"]["alertmanagers"]
        for sc in am["static_configs"]
        for t in sc["targets"]
    ]
    am = services["alertmanager"]
    am_config = yaml.safe_load(host_path(am, "/etc/alertmanager/alertmanager.yml").read_text())
    hooks = [w["url"] for r in am_config["receivers"] for w in r.get("webhook_configs", [])]
    assert [urlparse(h).path for h in hooks] == ["/hooks/alertmanager"]
    daemon_config = load_config(
        host_path(services["modelhealthd"], "/etc/modelhealthd/config.yaml"), env={"MODELHEALTHD_TOKEN": "t"}
    )
    grafana_env = services["grafana"]["environment"]
    addresses += hooks + [m.server.url for m in daemon_config.models]
    addresses += [grafana_env["MODELHEALTHD_PROMETHEUS_URL"], grafana_env["MODELHEALTHD_HOOK_URL"]]
    assert urlparse(grafana_env["MODELHEALTHD_HOOK_URL"]).path == "/hooks/grafana"
    for address in addresses:
        host, port = _endpoint(address)
        assert host in services, f"{address}: no service named {host}"
        assert port in listens(host, services[host]), f"{address}: {host} does not listen on {port}"


def test_grafana_provisioning_is_mounted_where_it_points(compose: dict) -> None:
    grafana = compose["services"]["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    assert provisioning == (ROOT / "grafana" / "provisioning").resolve()
    for kind in ("datasources", "dashboards"):
        assert list((provisioning / kind).glob("*.yaml")), f"no grafana/provisioning/{kind}/*.yaml"
    for provider_file in (provisioning / "dashboards").glob("*.yaml"):
        for provider in yaml.safe_load(provider_file.read_text())["providers"]:
            dashboards = host_path(grafana, provider["options"]["path"])
            assert dashboards is not None and list(dashboards.glob("*.json")), provider["options"]["path"]
    env_names = set(grafana["environment"])
    for path in provisioning.rglob("*.yaml"):
        for name in re.findall(r"\$\{([A-Z_]+)\}", path.read_text()):
            assert name in env_names, f"{path.name} needs ${{{name}}}, which grafana's environment lacks"


def test_prometheus_config_passes_promtool_in_its_container_layout(compose: dict, tmp_path: Path) -> None:
    promtool = require("promtool")
    prom = compose["services"]["prometheus"]
    etc = tmp_path / "etc" / "prometheus"
    for source, target in mounts(prom):
        dest = tmp_path / str(target).lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest)
    result = subprocess.run(
        [promtool, "check", "config", str(etc / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "rule files found" in result.stdout


def test_alertmanager_config_passes_amtool(compose: dict) -> None:
    am = compose["services"]["alertmanager"]
    result = subprocess.run(
        [require("amtool"), "check-config", str(host_path(am, "/etc/alertmanager/alertmanager.yml"))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_daemon_config_in_the_stack_is_valid_and_drains_within_the_stop_grace(compose: dict) -> None:
    from rules.durations import parse_duration

    daemon = compose["services"]["modelhealthd"]
    config = load_config(host_path(daemon, "/etc/modelhealthd/config.yaml"), env={"MODELHEALTHD_TOKEN": "t"})
    assert config.api.host == "0.0.0.0"  # reachable from the other containers
    assert parse_duration(daemon["stop_grace_period"]) >= config.jobs.drain_grace + 45
    assert [m.name for m in config.models] == ["digits"]
    serve = [str(c) for c in compose["services"]["model-server"]["command"]]
    assert serve[serve.index("--model") + 1] == "digits"
    assert serve[serve.index("--predictions") + 1] == str(config.models[0].data.predictions)
