"""``state_dir`` moves the daemon's job logs, profile cache and reports away from the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.onnx_models import linear_classifier


def test_a_check_builds_its_profile_in_the_state_dir_through_a_worker(tmp_path: Path, loopback) -> None:
    loopback.handler = lambda req: (200, b"", "text/plain")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["a", "b"])
    frame["label"] = (frame["a"] > 0).astype(int)
    registry_dir, state_dir = tmp_path / "models" / "registry", tmp_path / "state"
    register_version(
        open_registry(registry_dir),
        "m",
        linear_classifier(np.eye(2)),
        frame,
        ("a", "b"),
        "label",
        "classification",
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": {"kind": "files", "path": str(registry_dir)},
                "state_dir": str(state_dir),
                "models": [
                    {
                        "name": "m",
                        "server": {"url": loopback.url},
                        "data": {"predictions": str(tmp_path / "p")},
                    }
                ],
            }
        )
    )
    daemon = build_daemon(load_config(path), path)
    try:
        assert daemon.registry.location == str(registry_dir)
        assert daemon.executor.log_dir == state_dir / "jobs"
        assert daemon.reports.dir == state_dir / "reports"
        measured = daemon.run_check("m")  # the profile worker reads the registry from its settings
        assert measured.version == "1", measured.notes
        assert list((state_dir / "cache" / "profiles" / "m").glob("v1-*.npz"))
        assert not (registry_dir.parent / "cache").exists()
    finally:
        daemon.store.close()
