"""How many models one daemon process checks per CPU core, and its memory at 100 models.

N models, each with 20 numeric features, a reference of 2000 rows and a prediction log that
receives ``--rows-per-minute`` rows a minute; each is checked once a minute over a
``--window`` (default 5 minutes, so 5000-row windows). The daemon is the real one
(``monitor.daemon.service.Daemon``: checker, reference profiles, exporter, state store, rules, HTTP API)
in a process of its own, checking on four threads as its scheduler does; its clock is driven
minute by minute while this process appends each minute's rows to the logs (float32 values, as
a server logs what its float32 model received) and serves every model's ``/metrics`` on
loopback (the scrape source). CPU per check is the checking thread's CPU time.
A fifth of the models drift, so drift impact runs too. The first round (profiles built, the
whole backlog parsed) is reported apart; the figures are the steady rounds after it.

Baseline, measured in the same run: Evidently's ``DataDriftPreset`` on one model's window, in
a subprocess so that its import does not count toward the daemon's memory.

    .venv/bin/python bench/scale.py [--models 100] [--rounds 4] [--rows-per-minute 1000] [--window 300]

The last line printed is JSON: {"models_per_core": N, "daemon_rss_bytes": B, ...}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "1")

FEATURES = tuple(f"f{i:02d}" for i in range(20))
CLASSES = 3
T0 = 1_800_001_800.0  # the first check time (2027-01-15T08:30Z); the logs are written around it
GOAL_MODELS_PER_CORE = 200
GOAL_RSS_BYTES = 250 * 10**6  # 250 MB, decimal: the stricter reading
HEAVY = ("torch", "evidently", "pandas", "pyarrow", "sklearn", "scipy.stats", "onnxruntime")


# -- the world: registry, logs, model servers -------------------------------------------------
def _linear_onnx(weights: np.ndarray) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["z"]), helper.make_node("Softmax", ["z"], ["p"], axis=1)],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", weights.shape[0]])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", weights.shape[1]])],
        [numpy_helper.from_array(weights.astype(np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


class Fleet:
    """N registered models, their prediction logs and the state of their traffic."""

    def __init__(self, root: Path, models: int, rows_per_minute: int, window: float, seed: int = 0):
        import pandas as pd

        from reoptimize.job.first_versions import register_version
        from reoptimize.registry.backends import open_registry

        self.root, self.rows_per_minute, self.window = root, rows_per_minute, window
        self.rng = np.random.default_rng(seed)
        self.names = [f"model{i:03d}" for i in range(models)]
        self.weights: dict[str, np.ndarray] = {}
        self.drifting = set(self.names[::5])
        registry = open_registry(root / "registry")
        for name in self.names:
            weights = self.rng.normal(size=(len(FEATURES), CLASSES))
            onnx_bytes = _linear_onnx(weights)
            x = self.rng.normal(size=(2500, len(FEATURES)))
            frame = pd.DataFrame(x, columns=list(FEATURES))
            frame["label"] = (x @ weights).argmax(axis=1)
            register_version(
                registry, name, onnx_bytes, frame, FEATURES, "label", "classification", range(CLASSES)
            )
            self.weights[name] = weights
            (root / "logs" / name).mkdir(parents=True, exist_ok=True)
        self.served = dict.fromkeys(self.names, 0)

    def append_minute(self, end: float) -> None:
        """Write every model's rows for the minute that ends at ``end``."""
        from serving.prediction_log_writer import log_file_name

        n = self.rows_per_minute
        stamps = end - 60 + (np.arange(n) + 1) * (60.0 / n)
        for name in self.names:
            x = self.rng.normal(size=(n, len(FEATURES)))
            if name in self.drifting and end > T0 - self.window / 2:
                x[:, :8] += 0.8  # the last half of the backlog and every later minute drift
            # A model takes float32, and a server logs the float32 values it fed the model.
            x = x.astype(np.float32).astype(np.float64)
            z = x @ self.weights[name]
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            lines = []
            start = self.served[name]
            for i in range(n):
                features = ",".join(f'"{f}":{v!r}' for f, v in zip(FEATURES, x[i].tolist(), strict=True))
                proba = ",".join(f"{v:.5f}" for v in p[i].tolist())
                lines.append(
                    f'{{"ts":{stamps[i]:.3f},"request_id":"{name}-{start + i}","model":"{name}","version":"1",'
                    f'"features":{{{features}}},"prediction":{int(p[i].argmax())},"proba":[{proba}]}}\n'
                )
            self.served[name] += n
            with open(self.root / "logs" / name / log_file_name(end - 1), "a") as fh:
                fh.write("".join(lines))

    def exposition(self, name: str) -> bytes:
        """The reference server's metrics for one model after the traffic so far."""
        n = self.served.get(name, 0)
        buckets = [(0.001, 0.2), (0.0025, 0.7), (0.005, 0.95), (0.01, 0.99), ("+Inf", 1.0)]
        lines = [
            "# TYPE modelserver_request_duration_seconds histogram",
            *(
                f'modelserver_request_duration_seconds_bucket{{model="{name}",le="{b}"}} {int(n * s)}'
                for b, s in buckets
            ),
            f'modelserver_request_duration_seconds_count{{model="{name}"}} {n}',
            f'modelserver_request_duration_seconds_sum{{model="{name}"}} {n * 0.002}',
            "# TYPE modelserver_requests_total counter",
            f'modelserver_requests_total{{model="{name}"}} {n}',
            "# TYPE modelserver_predictions_total counter",
            f'modelserver_predictions_total{{model="{name}"}} {n}',
            "# TYPE modelserver_errors_total counter",
            f'modelserver_errors_total{{model="{name}",kind="bad_request"}} {n // 200}',
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {n * 0.0004}",
            "# TYPE process_resident_memory_bytes gauge",
            "process_resident_memory_bytes 1.5e8",
        ]
        return ("\n".join(lines) + "\n").encode()


def serve_metrics(fleet: Fleet) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = fleet.exposition(self.path.strip("/").split("/")[0])
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_config(fleet: Fleet, metrics_port: int, api_port: int, window: float) -> Path:
    import yaml

    config = {
        "state": f"sqlite:///{fleet.root}/state/state.db",
        "registry": str(fleet.root / "registry"),
        "api": {"listen": f"127.0.0.1:{api_port}"},
        "dry_run": True,
        "models": [
            {"name": name, "server": {"url": f"http://127.0.0.1:{metrics_port}/{name}"},
             "data": {"predictions": str(fleet.root / "logs" / name)},
             "check": {"every": "1m", "window": f"{int(window)}s", "min_rows": 500, "report": "on_request"}}
            for name in fleet.names
        ],
    }  # fmt: skip
    path = fleet.root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# -- the daemon process ------------------------------------------------------------------------
def daemon_main(config_path: str) -> None:
    """Run in the daemon process: wait for a check time on stdin, check every model, report CPU."""
    from monitor.config import load_config
    from monitor.daemon.wiring import build_daemon

    clock = {"now": T0}
    config = load_config(config_path)
    daemon = build_daemon(config, Path(config_path), clock=lambda: clock["now"])
    daemon._start_http()  # the API thread, as in production; checks are driven here, not by the scheduler
    # Checks run on four threads, as the daemon's scheduler runs them (one allocator arena each).
    pool = ThreadPoolExecutor(max_workers=4)
    print(json.dumps({"ready": True, "rss": _rss()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "round":
            clock["now"] = command["at"]
            timed = list(pool.map(lambda name: _timed_check(daemon, name), [m.name for m in config.models]))
            cpu, wall = [c for c, _ in timed], [w for _, w in timed]
            print(json.dumps({"cpu": cpu, "wall": wall, "rss": _rss(), "hwm": _rss("VmHWM")}), flush=True)
        elif command["cmd"] == "sizes":
            print(json.dumps(_held_bytes(daemon)), flush=True)
        elif command["cmd"] == "metrics":
            body = daemon.metrics.render()
            print(
                json.dumps({"bytes": len(body), "modules": sorted(m for m in sys.modules if "." not in m)}),
                flush=True,
            )
        else:
            break
    daemon.http_server.should_exit = True
    daemon.store.close()


def _timed_check(daemon, name: str) -> tuple[float, float]:  # noqa: ANN001
    """(CPU seconds of this thread, wall seconds) of one real check."""
    c0, w0 = time.thread_time(), time.perf_counter()
    daemon.run_check(name)
    return time.thread_time() - c0, time.perf_counter() - w0


def _held_bytes(daemon) -> dict:  # noqa: ANN001
    """Bytes of NumPy data the daemon holds between checks: window chunks, and the reference
    profiles as one check reads them (the daemon reads each again from its cache per check)."""
    windows = profiles = 0
    for view in daemon.checker.views.values():
        for chunk in view.reader.chunks:
            arrays = [chunk.at, chunk.request_ids, chunk.versions, chunk.predictions, chunk.confidence]
            arrays += [*chunk.columns.values(), *([chunk.null_mask] if chunk.null_mask is not None else [])]
            windows += sum(a.nbytes for a in arrays)
        for stats in view.stats.columns.values():
            arrays = {
                id(a): a for a in (stats.sorted_values, stats.counts, stats.categories) if a is not None
            }
            profiles += sum(
                a.nbytes for a in arrays.values() if a.strides[0]
            )  # broadcast counts hold nothing
    return {"windows": windows, "profiles_per_check": profiles // max(1, len(daemon.checker.views))}


def _rss(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


# -- the baseline ------------------------------------------------------------------------------
EVIDENTLY = """
import json, sys, time, warnings, resource
import pandas as pd
t0 = time.process_time(); w0 = time.perf_counter()
from evidently import Report
from evidently.presets import DataDriftPreset
t1 = time.process_time(); w1 = time.perf_counter()
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    Report([DataDriftPreset()]).run(cur, ref)
print(json.dumps({"import_cpu": t1 - t0, "run_cpu": time.process_time() - t1, "run_wall": time.perf_counter() - w1,
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def evidently_baseline(fleet: Fleet, name: str, now: float) -> dict:
    import pandas as pd

    from monitor.sources.prediction_log_reader import PredictionLogReader
    from reoptimize.registry.backends import open_registry

    reader = PredictionLogReader(fleet.root / "logs" / name, name, FEATURES)
    window = reader.window(now - fleet.window, now)
    current = pd.DataFrame(window.columns)
    current["_prediction"] = window.predictions
    registry = open_registry(fleet.root / "registry")
    reference = pd.read_parquet(io.BytesIO(registry.read_bytes(name, "1", "reference.parquet")))
    ref_path, cur_path = fleet.root / "ref.parquet", fleet.root / "cur.parquet"
    reference[[*FEATURES, "_prediction"]].to_parquet(ref_path)
    current.to_parquet(cur_path)
    out = subprocess.run([sys.executable, "-c", EVIDENTLY, str(ref_path), str(cur_path)], capture_output=True, text=True,
                         env=dict(os.environ, DO_NOT_TRACK="1"))  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"the Evidently baseline failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows"] = window.rows
    return result


# -- the run -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument(
        "--rounds", type=int, default=6, help="rounds after the first (the backlog leaves at 5)"
    )
    parser.add_argument("--rows-per-minute", type=int, default=1000)
    parser.add_argument("--window", type=float, default=300.0, help="check window in seconds")
    parser.add_argument("--daemon", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.daemon:
        daemon_main(args.daemon)
        return
    from tests.support.prometheus import free_port

    with tempfile.TemporaryDirectory(prefix="modelhealthd-scale-") as tmp:
        started = time.perf_counter()
        fleet = Fleet(Path(tmp), args.models, args.rows_per_minute, args.window)
        for minute in range(int(args.window // 60) - 1, -1, -1):
            fleet.append_minute(T0 - 60 * minute)  # the backlog: one full window
        server = serve_metrics(fleet)
        config = write_config(fleet, server.server_address[1], free_port(), args.window)
        print(f"setup: {args.models} models, {fleet.rows_per_minute} rows/min, window {args.window:g}s "
              f"({int(args.window / 60 * args.rows_per_minute)} rows) in {time.perf_counter() - started:.1f}s")  # fmt: skip
        proc = subprocess.Popen([sys.executable, __file__, "--daemon", str(config)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip

        def ask(command: dict) -> dict:
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        ready = json.loads(proc.stdout.readline())
        print(f"daemon started (API up, no check yet): RSS {ready['rss'] / 2**20:.0f} MiB")
        rounds = []
        for r in range(args.rounds + 1):
            at = T0 + 60 * r
            if r:
                fleet.append_minute(at)
            rounds.append(ask({"cmd": "round", "at": at}))
            cpu = rounds[-1]["cpu"]
            print(f"round {r}: CPU per check mean {statistics.mean(cpu) * 1000:.1f} ms, "
                  f"max {max(cpu) * 1000:.1f} ms; daemon RSS {rounds[-1]['rss'] / 2**20:.0f} MiB")  # fmt: skip
        info = ask({"cmd": "metrics"})
        held = ask({"cmd": "sizes"})
        proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        proc.stdin.close()
        proc.wait(30)
        baseline = evidently_baseline(fleet, fleet.names[0], T0 + 60 * args.rounds)
        server.shutdown()
    steady = [c for rnd in rounds[1:] for c in rnd["cpu"]]
    drifting = [
        c
        for rnd in rounds[1:]
        for name, c in zip(fleet.names, rnd["cpu"], strict=True)
        if name in fleet.drifting
    ]
    per_check = statistics.mean(steady)
    models_per_core = int(60.0 / per_check)
    rss = rounds[-1]["rss"]
    print(
        f"first round (profiles built, backlog parsed): {statistics.mean(rounds[0]['cpu']) * 1000:.1f} ms per check"
    )
    print(f"steady: {per_check * 1000:.1f} ms CPU per check (p95 {np.percentile(steady, 95) * 1000:.1f} ms; "
          f"drifting models {statistics.mean(drifting) * 1000:.1f} ms) -> {models_per_core} models per core "
          f"(goal {GOAL_MODELS_PER_CORE})")  # fmt: skip
    print(f"daemon RSS with {args.models} models: {rss / 2**20:.0f} MiB (peak {rounds[-1]['hwm'] / 2**20:.0f} MiB; goal 250 MB); "
          f"heavy modules loaded: {[m for m in info['modules'] if m in HEAVY]}")  # fmt: skip
    print(f"  of which NumPy data: windows {held['windows'] / 2**20:.0f} MiB held; a reference profile "
          f"{held['profiles_per_check'] / 2**10:.0f} kB, read from the cache by each check")  # fmt: skip
    print(f"Evidently DataDriftPreset on one {baseline['rows']}-row window: {baseline['run_cpu']:.2f} s CPU "
          f"(+{baseline['import_cpu']:.1f} s import, {baseline['maxrss'] / 2**20:.0f} MiB) = "
          f"{baseline['run_cpu'] / per_check:.0f}x one whole modelhealthd check")  # fmt: skip
    print(json.dumps({
        "models_per_core": models_per_core,
        "daemon_rss_bytes": rss,
        "daemon_peak_rss_bytes": rounds[-1]["hwm"],
        "cpu_seconds_per_check": round(per_check, 5),
        "cpu_seconds_per_check_p95": round(float(np.percentile(steady, 95)), 5),
        "first_round_cpu_seconds_per_check": round(statistics.mean(rounds[0]["cpu"]), 5),
        "models": args.models,
        "rows_per_window": int(args.window / 60 * args.rows_per_minute),
        "features": len(FEATURES),
        "evidently_preset_cpu_seconds": round(baseline["run_cpu"], 3),
        "speedup_vs_evidently": round(baseline["run_cpu"] / per_check, 1),
        "goal_models_per_core": GOAL_MODELS_PER_CORE,
        "goal_rss_bytes": GOAL_RSS_BYTES,
        "goals_met": models_per_core >= GOAL_MODELS_PER_CORE and max(rss, rounds[-1]["hwm"]) <= GOAL_RSS_BYTES,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
