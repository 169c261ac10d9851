"""The demo's working folder: tokens, rule file and config, all written from scratch each run."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.demo.demo_data import FEATURES, LABEL

MODEL = "digits"

RULES = """\
# The demo's rules: checks run every 3 s over a 30 s window, so the durations are short.
rules:
  - name: feature-drift
    when: drift_share > 0.3 && rows >= 60
    for: 6s
    keep_firing_for: 30s
    cooldown: 10m
    severity: warning
    annotations: {summary: "More than 30% of the pixels drifted away from the reference data."}
    actions:
      - pipeline: retrain
        with: {window_seconds: 120, augment: [{kind: shift, fraction: 1.0}]}
  - name: accuracy-drop
    when: accuracy < 0.85 && labelled_rows >= 40
    for: 6s
    keep_firing_for: 30s
    cooldown: 10m
    severity: critical
    actions: [{pipeline: notify}]
"""


@dataclass(frozen=True)
class DemoSetup:
    out: Path
    config_path: Path
    registry: Path
    predictions: Path
    api_url: str
    server_url: str
    api_token: str
    server_token: str
    server_token_file: Path


def prepare_state(url: str, reset: bool = False) -> int:
    """Make sure a state store given by URL is one the demo can start from: nothing holds it, and
    it is empty, or ``reset`` empties it. Returns the rows removed. Raises StateError naming the
    store and what to do; the demo's own SQLite store is always new and never needs this."""
    from monitor.state.daemon_lock import StoreLockedError, holder
    from monitor.state.store import StateError, StateStore, display_url

    who = holder(url)
    if who is not None:
        raise StoreLockedError(
            f"the state store {display_url(url)} is in use by {who}; stop that daemon first"
        )
    store = StateStore.open(url)
    try:
        rows = sum(store.meta.row_counts().values())
        if rows and not reset:
            raise StateError(
                f"the state store {display_url(url)} already holds {rows} row(s); the demo starts from an "
                "empty store: pass --reset-state to empty modelhealthd's tables in it, or use another database"
            )
        return store.meta.clear_rows() if rows else 0
    finally:
        store.close()


def write_setup(out: Path, api_port: int, server_port: int, state_url: str | None = None) -> DemoSetup:
    """Write the demo's folder; its state store is a new SQLite file unless ``state_url`` names one."""
    state = out / "state"
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    api_token, server_token = secrets.token_hex(16), secrets.token_hex(16)
    (state / "api-token").write_text(api_token + "\n")
    (state / "server-token").write_text(server_token + "\n")
    for token in ("api-token", "server-token"):
        (state / token).chmod(0o600)
    (out / "rules.yaml").write_text(RULES)
    server_url = f"http://127.0.0.1:{server_port}"
    config = {
        "state": state_url or f"sqlite:///{state / 'state.db'}",
        "registry": str(state / "registry"),
        "reports": str(state / "reports"),
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": str(state / "api-token")},
        "rules": [str(out / "rules.yaml")],
        "jobs": {"executor": "local", "concurrency": 1, "timeout": "10m"},
        "models": [
            {
                "name": MODEL,
                "server": {"url": server_url, "token_file": str(state / "server-token")},
                "data": {"predictions": str(state / "predictions" / MODEL), "label_column": LABEL},
                "features": list(FEATURES),
                "recipe": {
                    "factory": "reoptimize.recipes.mlp:mlp",
                    "params": {"hidden": [128]},
                    "image_shape": [8, 8],
                    "training": {"max_epochs": 80, "patience": 8, "learning_rate": 0.003},
                },
                "check": {"every": "3s", "window": "30s", "min_rows": 60},
                "cost": {"cpu_price_per_hour": 0.05, "memory_price_per_gb_hour": 0.005},
            }
        ],
    }
    config_path = out / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return DemoSetup(
        out=out,
        config_path=config_path,
        registry=state / "registry",
        predictions=state / "predictions" / MODEL,
        api_url=f"http://127.0.0.1:{api_port}",
        server_url=server_url,
        api_token=api_token,
        server_token=server_token,
        server_token_file=state / "server-token",
    )
