"""MLflow's tracking server (SQLite backend) for ingestion and run search. Runs inside the
MLflow virtual environment with the repository root on PYTHONPATH:

    PYTHONPATH=. .bench/venvs/mlflow/bin/python -m bench.peers.mlflow_ingest --output out.json

The server is `mlflow server --backend-store-uri sqlite:///<tmp>/mlflow.db`, 4 workers (its
default), started fresh in a temporary directory for each server kind:
- gunicorn (`--gunicorn-opts`): sync workers, one request per connection. This is the
  fast one on this kind of machine.
- uvicorn, MLflow's default: keeps connections alive; each request costs ~45 ms more here
  than under gunicorn (a stall on the reused keep-alive connection), so the same clients
  get a fraction of the throughput.
Both run with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: the job runner (huey consumers for
trace rollups and online scoring) is not part of tracking; it adds seven processes and ~40 s
of start-up, and changed one client's latency per request by under 10% once settled.

Measured:
- ingestion: each run is create_run + log_batch (params depth and eta, metric rmse, as
  Metagate's bench/ingest.py logs) + log_inputs (one dataset input with a training context
  tag): 3 HTTP requests through MlflowClient (the client API, synchronous logging, default
  retries). The dataset is logged once before the clients start (concurrent first log_inputs
  of one dataset into one experiment fail in MLflow 3.17: a UNIQUE constraint error answered
  as 400). From 1, 8 and 16 concurrent clients, each its own process (a pipeline step),
  started and warmed up (one run) before a barrier, then logging for --seconds. Latency is
  per run (all 3 requests); throughput is runs per second of wall time, all clients together.
- search at 20,000 runs, on the gunicorn server: one experiment of 20,000 runs from the same
  generator as Metagate's graph (bench/generate.py: run name, params max_depth and model, metric
  rmse, its dataset as input). Run 0 is logged through the server's API; the other 19,999 are
  written straight into the server's SQLite file in one transaction, row for row what the API
  writes (runs, tags, params, metrics, latest_metrics, datasets, inputs, input_tags), because
  logging them through the API would take ~10 minutes here. The script then checks through the
  server that a bulk-written run reads back with the same shape as the API-logged one. Timed:
  search_runs with a metric filter returning 1,000 runs (max_results=1000), the first 1,000
  ordered by the metric, and both together.
Peak RSS is the server's: the sum of each server process's peak (VmHWM) at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.peers.common import progress, row, write_rows

SERVER_WORKERS = 4
SEARCH_RUNS = 20_000


def _peer() -> str:
    from importlib.metadata import version

    return f"MLflow {version('mlflow')}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    kind: str  # "gunicorn" or "uvicorn"
    url: str
    db: Path
    artifacts: Path
    process: subprocess.Popen[bytes]
    log: Path

    def peak_rss_mb(self) -> float:
        """Sum of the peak RSS (VmHWM) of every process in the server's process group."""
        total_kb = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.process.pid:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
            except (OSError, ProcessLookupError, ValueError):
                continue
        return total_kb / 1024

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)


@contextmanager
def mlflow_server(kind: str, workdir: Path) -> Iterator[Server]:
    """Starts `mlflow server` on a fresh SQLite file; stops its whole process group on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    db, artifacts, log = workdir / "mlflow.db", workdir / "artifacts", workdir / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--default-artifact-root",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(SERVER_WORKERS),
    ]
    if kind == "gunicorn":
        command += ["--gunicorn-opts", "--timeout 600 --log-level warning"]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server(kind, f"http://127.0.0.1:{port}", db, artifacts, process, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server ({kind}) exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server ({kind}) did not answer /health in 180 s")
            time.sleep(0.5)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Workers may outlive the arbiter for a moment; make sure none is left behind.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.3)
        else:
            os.killpg(process.pid, signal.SIGKILL)


# ---------------------------------------------------------------- ingestion


def _log_run(client: Any, experiment_id: str, name: str, rmse: float) -> None:
    """One run as a pipeline step logs it: create_run + log_batch + log_inputs."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

    run = client.create_run(experiment_id, run_name=name)
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("rmse", rmse, now, 0)],
        params=[Param("depth", "3"), Param("eta", "0.1")],
        synchronous=True,
    )
    client.log_inputs(
        run.info.run_id,
        datasets=[
            DatasetInput(
                Dataset("ingest-dataset", "8c1e4b2a", "local", "file:///data/ingest-dataset"),
                [InputTag("mlflow.data.context", "training")],
            )
        ],
    )


def _client_process(url: str, experiment_id: str, label: str, seconds: float, barrier: Any, results: Any) -> None:
    """One client: warm up with one run, wait for the others, then log runs for ``seconds``.
    Puts (latencies, started, ended, failed runs, first failure, fatal error) on ``results``
    whatever happens. A run that fails (after the client's own retries) is counted, not timed."""
    import random
    import traceback

    failed = 0
    first_failure = ""
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=url)
        rng = random.Random(label)
        try:
            _log_run(client, experiment_id, f"{label}-warmup", rng.uniform(0.1, 1.0))
        except Exception as error:  # noqa: BLE001 - a failed run, counted like the others
            failed, first_failure = 1, f"warm-up: {type(error).__name__}: {str(error)[:300]}"
        barrier.wait(timeout=900)
    except Exception:  # noqa: BLE001 - reported to the parent, which stops the scenario
        barrier.abort()
        results.put(([], 0.0, 0.0, failed, first_failure, f"client {label} could not start: {traceback.format_exc()}"))
        return
    started = time.perf_counter()
    deadline = started + seconds
    latencies: list[float] = []
    while time.perf_counter() < deadline:
        begun = time.perf_counter()
        try:
            _log_run(client, experiment_id, f"{label}-{len(latencies) + failed}", rng.uniform(0.1, 1.0))
        except Exception as error:  # noqa: BLE001 - counted and reported; the run is not counted as logged
            failed += 1
            first_failure = first_failure or f"{type(error).__name__}: {str(error)[:300]}"
            continue
        latencies.append(time.perf_counter() - begun)
    results.put((latencies, started, time.perf_counter(), failed, first_failure, None))


def ingest(server: Server, clients: int, seconds: float) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(f"ingest-{server.kind}-{clients}-{uuid.uuid4().hex[:8]}")
    # The dataset is logged once before the clients start: MLflow 3.17 inserts a dataset on its
    # first log_inputs in an experiment after a check, and concurrent first inserts of the same
    # dataset fail (UNIQUE constraint on datasets, answered 400 BAD_REQUEST).
    _log_run(client, experiment_id, "setup", 0.5)
    context = mp.get_context("spawn")
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(target=_client_process, daemon=True, args=(server.url, experiment_id, f"c{k}", seconds, barrier, results))
        for k in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=seconds + 900) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    fatal = [o[5] for o in outcomes if o[5]]
    if fatal:  # the first client that failed broke the barrier for the others: report it first
        fatal.sort(key=lambda text: "BrokenBarrierError" in text)
        raise RuntimeError(f"{len(fatal)} of {clients} clients failed; first: {fatal[0]}")
    latencies = [value for outcome in outcomes for value in outcome[0]]
    wall = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
    errors = sum(o[3] for o in outcomes)
    first_failure = next((o[4] for o in outcomes if o[4]), "")
    server_name = "gunicorn, sync workers" if server.kind == "gunicorn" else "uvicorn, MLflow's default"
    note = (
        f"{server_name}, {SERVER_WORKERS} workers; MlflowClient in {clients} process(es); 3 HTTP requests per run;"
        f" {len(latencies):,} runs in {wall:.1f} s"
    )
    if errors:
        note += f"; {errors} runs failed after the client's retries (warm-ups included), first: {first_failure}"
    return row(
        _peer(),
        None,
        f"ingest: create_run + log_batch + log_inputs, {clients} client(s), {server.kind}",
        latencies,
        len(latencies) / wall,
        unit="runs",
        rss_mb=server.peak_rss_mb(),
        note=note,
    )


# ---------------------------------------------------------------- search at 20,000 runs


@dataclass
class GeneratedRun:
    name: str
    max_depth: int
    rmse: float
    model: str
    dataset: str


def generated_runs(count: int) -> list[GeneratedRun]:
    """The runs of Metagate's generated graph (bench/generate.py, seed 7), flattened for MLflow."""
    names: dict[str, str] = {}
    fields: dict[str, dict[str, Any]] = {}
    runs: list[GeneratedRun] = []
    for batch, _ in generate(count):
        for node in batch.nodes:
            if node.name:
                names[node.id] = node.name
            if node.fields:
                fields[node.id] = node.fields
        links: dict[str, dict[str, str]] = {}
        for edge in batch.edges:
            if edge.kind.startswith("run_"):
                links.setdefault(edge.from_id, {})[edge.kind] = edge.to_id
        for run_id, link in links.items():
            runs.append(
                GeneratedRun(
                    names[run_id],
                    fields[link["run_modelparams"]]["params"]["max_depth"],
                    fields[link["run_devperf"]]["metrics"]["rmse"],
                    names[link["run_model"]],
                    names[link["run_dataset"]],
                )
            )
    return runs


def _dataset_input(name: str) -> tuple[str, str, str, str]:
    """(name, digest, source type, source) of a generated dataset, as logged through log_inputs."""
    return name, hashlib.sha256(name.encode()).hexdigest()[:8], "local", f"file:///data/{name}"


def _log_generated(client: Any, experiment_id: str, run: GeneratedRun) -> str:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

    created = client.create_run(experiment_id, run_name=run.name)
    run_id = created.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("rmse", run.rmse, int(time.time() * 1000), 0)],
        params=[Param("max_depth", str(run.max_depth)), Param("model", run.model)],
        synchronous=True,
    )
    client.log_inputs(
        run_id, datasets=[DatasetInput(Dataset(*_dataset_input(run.dataset)), [InputTag("mlflow.data.context", "training")])]
    )
    return str(run_id)


def bulk_write(db: Path, experiment_id: str, artifact_root: Path, runs: list[GeneratedRun]) -> None:
    """Writes runs into the server's SQLite file in one transaction, the rows the API writes for
    create_run + log_batch + log_inputs (checked afterwards through the server)."""
    now = int(time.time() * 1000)
    with sqlite3.connect(db, timeout=60) as conn:
        conn.execute("BEGIN IMMEDIATE")
        datasets: dict[str, str] = {}
        for name in sorted({r.dataset for r in runs}):
            name, digest, source_type, source = _dataset_input(name)
            conn.execute(
                "INSERT OR IGNORE INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type,"
                " dataset_source) VALUES (?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, int(experiment_id), name, digest, source_type, source),
            )
            datasets[name] = conn.execute(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
                (int(experiment_id), name, digest),
            ).fetchone()[0]
        for i, run in enumerate(runs):
            run_uuid, input_uuid, started = uuid.uuid4().hex, uuid.uuid4().hex, now - len(runs) + i
            conn.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
                " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
                " VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', 'RUNNING', ?, NULL, '', 'active', ?, ?)",
                (run_uuid, run.name, started, f"{artifact_root}/{experiment_id}/{run_uuid}/artifacts", int(experiment_id)),
            )
            conn.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", (run.name, run_uuid))
            conn.executemany(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                [("max_depth", str(run.max_depth), run_uuid), ("model", run.model, run_uuid)],
            )
            conn.execute(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('rmse', ?, ?, ?, 0, 0)",
                (run.rmse, started, run_uuid),
            )
            conn.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('rmse', ?, ?, 0, 0, ?)",
                (run.rmse, started, run_uuid),
            )
            conn.execute(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step)"
                " VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
                (input_uuid, datasets[run.dataset], run_uuid),
            )
            conn.execute(
                "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, 'mlflow.data.context', 'training')", (input_uuid,)
            )


def _shape(run: Any) -> tuple[Any, ...]:
    """What must agree between an API-logged run and a bulk-written one (not the values)."""
    dataset_inputs = run.inputs.dataset_inputs
    return (
        sorted(run.data.params),
        sorted(run.data.metrics),
        sorted(run.data.tags),
        run.info.status,
        run.info.lifecycle_stage,
        run.info.user_id,
        len(dataset_inputs),
        [(d.dataset.source_type, [(t.key, t.value) for t in d.tags]) for d in dataset_inputs],
    )


def search(server: Server, seconds: float, count: int) -> list[dict[str, Any]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(f"search-{count}")
    runs = generated_runs(count)
    started = time.perf_counter()
    api_run = _log_generated(client, experiment_id, runs[0])
    bulk_write(server.db, experiment_id, server.artifacts, runs[1:])
    progress(f"MLflow: {count:,} runs in the search experiment ({time.perf_counter() - started:.1f} s)\n")
    with sqlite3.connect(server.db) as conn:
        stored = conn.execute("SELECT count(*) FROM runs WHERE experiment_id = ?", (int(experiment_id),)).fetchone()[0]
        threshold = conn.execute(
            "SELECT lm.value FROM latest_metrics lm JOIN runs r ON r.run_uuid = lm.run_uuid WHERE r.experiment_id = ?"
            " AND lm.key = 'rmse' ORDER BY lm.value LIMIT 1 OFFSET 999",
            (int(experiment_id),),
        ).fetchone()[0]
        matching = conn.execute(
            "SELECT count(*) FROM latest_metrics lm JOIN runs r ON r.run_uuid = lm.run_uuid WHERE r.experiment_id = ?"
            " AND lm.key = 'rmse' AND lm.value <= ?",
            (int(experiment_id), threshold),
        ).fetchone()[0]
        bulk_id = conn.execute(
            "SELECT run_uuid FROM runs WHERE experiment_id = ? AND name = ?", (int(experiment_id), runs[1].name)
        ).fetchone()[0]
    assert stored == count, f"{stored} runs stored, {count} expected"
    api_shape, bulk_shape = _shape(client.get_run(api_run)), _shape(client.get_run(bulk_id))
    assert api_shape == bulk_shape, f"a bulk-written run differs from an API-logged one: {bulk_shape} != {api_shape}"

    minimum_rmse = min(r.rmse for r in runs)
    scenarios: list[tuple[str, Callable[[], Any], str]] = [
        (
            "metric filter",
            lambda: client.search_runs([experiment_id], filter_string=f"metrics.rmse <= {threshold}", max_results=1000),
            f"filter metrics.rmse <= {threshold} ({matching:,} runs match), max_results=1000",
        ),
        (
            "ordered by the metric",
            lambda: client.search_runs([experiment_id], order_by=["metrics.rmse ASC"], max_results=1000),
            "order_by metrics.rmse ASC, max_results=1000, no filter",
        ),
        (
            "metric filter, ordered by the metric",
            lambda: client.search_runs(
                [experiment_id], filter_string=f"metrics.rmse <= {threshold}", order_by=["metrics.rmse ASC"], max_results=1000
            ),
            f"filter metrics.rmse <= {threshold} and order_by metrics.rmse ASC, max_results=1000",
        ),
    ]
    rows = []
    for label, call, detail in scenarios:
        progress(f"MLflow: search_runs, {label}\n")
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(latencies) < 3:
            begun = time.perf_counter()
            found = call()
            latencies.append(time.perf_counter() - begun)
            assert len(found) == 1000, f"{label}: {len(found)} runs returned"
            if "ordered" in label:
                assert found[0].data.metrics["rmse"] == minimum_rmse, f"{label}: not ordered by rmse"
        rows.append(
            row(
                _peer(),
                None,
                f"search_runs at {count:,} runs: {label}, 1,000 returned",
                latencies,
                len(latencies) / sum(latencies),
                rss_mb=server.peak_rss_mb(),
                note=f"{detail}; MlflowClient over HTTP, gunicorn; one experiment of {count:,} generated runs,"
                f" run 0 logged through the API, {count - 1:,} written into the server's SQLite file",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="time per ingestion scenario and search scenario")
    parser.add_argument("--clients", default="1,8,16", help="concurrent client processes, comma-separated")
    parser.add_argument("--servers", default="gunicorn,uvicorn", help="server kinds to measure ingestion on")
    parser.add_argument("--search-runs", type=int, default=SEARCH_RUNS, help="runs in the search experiment (0: skip)")
    parser.add_argument("--output", type=Path, help="JSON file for the rows (default: stdout)")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-") as tmp:
        for kind in args.servers.split(","):
            with mlflow_server(kind, Path(tmp) / kind) as server:
                first = len(rows)
                for count in clients:
                    progress(f"MLflow ({kind}): ingesting from {count} client(s) for {args.seconds:g} s\n")
                    rows.append(ingest(server, count, args.seconds))
                    progress(f"  {rows[-1]['throughput_per_s']:.1f} runs/s, p50 {rows[-1]['p50_ms']:.1f} ms\n")
                if kind == "gunicorn" and args.search_runs:
                    rows += search(server, args.seconds, args.search_runs)
                locked = server.log_count("database is locked")
                for r in rows[first:] if locked else []:
                    r["note"] += f"; the server logged 'database is locked' {locked} times"
    write_rows(rows, args.output)


if __name__ == "__main__":
    main()
