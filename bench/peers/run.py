"""Runs the peer benchmarks, each in its own virtual environment, and writes
bench/results-peers.json:

    .venv/bin/python -m bench.peers.run --nodes 10000[,100000,1000000] [--required]

- ML Metadata (bench/peers/mlmd_lineage.py, requirements-mlmd.txt): once per graph size;
- MLflow's tracking server (bench/peers/mlflow_ingest.py, requirements-mlflow.txt): once,
  its scenarios do not depend on the graph size (its rows have "nodes": null).

Each environment is .bench/venvs/<peer>, made with Python 3.11 (`python3.11 -m venv`) and
`pip install -r` its requirements file; a stamp file holding the requirements' hash and
the Python version skips the install while neither changed. A peer whose environment
cannot be built, or whose script fails, is recorded as a row with "skipped": true and the
reason in "note", and the others still run; with --required (or required=True) that is an
error (exit status 1, or PeerError raised after the results are written).

Row format (a JSON list): {"peer", "nodes", "scenario", "p50_ms", "p95_ms", "p99_ms",
"throughput_per_s", "unit" (what throughput counts: requests, runs or nodes), "samples",
"peak_rss_mb", "note", "skipped", "load_avg_1m" (the machine's 1-minute load average when
the peer's script started and ended: other work competing for the 2 cores shows there)}.

bench/run.py calls run_peers(sizes, required) itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENVS = REPO / ".bench" / "venvs"
RESULTS = REPO / "bench" / "results-peers.json"
INSTALL_TIMEOUT = 1800  # seconds for one pip install
RUN_TIMEOUT = 3600  # seconds for one peer script run


class PeerError(RuntimeError):
    """A peer could not be measured: its environment could not be built, or its script failed."""


@dataclass(frozen=True)
class Peer:
    key: str  # the folder under .bench/venvs and the name used in messages
    package: str  # the pinned package whose version names the peer
    title: str
    requirements: Path
    module: str

    @property
    def label(self) -> str:
        """The title and the version pinned in the requirements file, e.g. ML Metadata 1.17.1."""
        found = re.search(rf"^{re.escape(self.package)}==(\S+)", self.requirements.read_text(), re.MULTILINE)
        return f"{self.title} {found.group(1)}" if found else self.title


MLMD = Peer("mlmd", "ml-metadata", "ML Metadata", HERE / "requirements-mlmd.txt", "bench.peers.mlmd_lineage")
MLFLOW = Peer("mlflow", "mlflow", "MLflow", HERE / "requirements-mlflow.txt", "bench.peers.mlflow_ingest")
PEERS = {peer.key: peer for peer in (MLMD, MLFLOW)}


def _say(message: str) -> None:
    sys.stderr.write(f"[peers] {message}\n")
    sys.stderr.flush()


def find_python() -> str:
    """A Python 3.11 interpreter: python3.11 on PATH, else this one or python3 if they are 3.11
    (ml-metadata 1.17.1 has no wheels for newer Pythons)."""
    candidates = [shutil.which("python3.11"), sys.executable, shutil.which("python3")]
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.returncode == 0 and version.stdout.strip() == "True":
            return candidate
    raise PeerError("no Python 3.11 found (python3.11, this interpreter and python3 were tried)")


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(line for line in text[-lines:] if not line.startswith("WARNING: Location"))


def ensure_venv(peer: Peer) -> Path:
    """The peer's environment's python, building .bench/venvs/<peer> first unless its stamp
    shows the same requirements file and Python version."""
    python = find_python()
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True).stdout
    stamp_text = hashlib.sha256(peer.requirements.read_bytes()).hexdigest() + "\n" + version
    venv = VENVS / peer.key
    stamp = venv / ".requirements.stamp"
    executable = venv / "bin" / "python"
    if executable.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return executable
    log = VENVS / f"{peer.key}-install.log"
    _say(f"{peer.key}: building {venv.relative_to(REPO)} with {python} (pip log: {log.relative_to(REPO)})")
    started = time.monotonic()
    if venv.exists():
        shutil.rmtree(venv)
    VENVS.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        for step, command in (
            ("venv", [python, "-m", "venv", str(venv)]),
            (
                "pip install",
                [str(executable), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r", str(peer.requirements)],
            ),
        ):
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as error:
                raise PeerError(f"{step} for {peer.key} failed: {error}") from error
            if done.returncode != 0:
                out.flush()
                raise PeerError(f"{step} for {peer.key} failed (exit {done.returncode}); end of {log}:\n{_tail(log)}")
    stamp.write_text(stamp_text)
    _say(f"{peer.key}: environment built in {time.monotonic() - started:.0f} s")
    return executable


def package_tree(root: Path) -> Path:
    """The ``metagate`` package as it installs, made of links under ``root``: the folders
    pyproject's package-dir maps (gateway, schema, resolvers, store) inside ``metagate/``.
    A peer's environment holds no Metagate, and its scripts import the data dictionary."""
    mapped = re.findall(r'^"?metagate\.(\w+)"? = "(\w+)"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    package = root / "metagate"
    package.mkdir(parents=True)
    for path in (REPO / "metagate").iterdir():
        (package / path.name).symlink_to(path)
    for name, folder in mapped:
        (package / name).symlink_to(REPO / folder)
    return root


def peer_environment(tmp: Path) -> dict[str, str]:
    """The environment a peer's script runs in, from the folder ``tmp`` (its working
    directory: ``python -m`` puts that first on sys.path, so it must not be the repository,
    whose own metagate/ holds no store): the package tree, then the repository (bench)."""
    paths = [str(package_tree(tmp / "src")), str(REPO), os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def run_script(peer: Peer, python: Path, arguments: list[str]) -> list[dict[str, Any]]:
    """Runs the peer's script in ``peer_environment``; returns its rows."""
    with tempfile.TemporaryDirectory(prefix=f"peer-{peer.key}-") as tmp:
        output = Path(tmp) / "rows.json"
        env = peer_environment(Path(tmp))
        command = [str(python), "-m", peer.module, *arguments, "--output", str(output)]
        _say(f"{peer.key}: {' '.join(command[2:-2])}")
        started, load_before = time.monotonic(), os.getloadavg()[0]
        try:
            done = subprocess.run(command, cwd=tmp, env=env, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise PeerError(f"{peer.module} did not finish in {RUN_TIMEOUT} s") from error
        if done.returncode != 0:
            raise PeerError(f"{' '.join([peer.module, *arguments])} exited with {done.returncode} (its error is above)")
        if not output.exists():
            raise PeerError(f"{peer.module} wrote no results")
        rows: list[dict[str, Any]] = json.loads(output.read_text())
        for r in rows:  # other work on the machine shows here: 2 cores, so anything above ~2 competes
            r["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        _say(f"{peer.key}: {len(rows)} rows in {time.monotonic() - started:.0f} s")
        return rows


def skipped(peer: Peer, nodes: int | None, reason: str) -> dict[str, Any]:
    """The row that stands for a peer (at one size) that could not be measured."""
    return {
        "peer": peer.label,
        "nodes": nodes,
        "scenario": "all scenarios",
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "throughput_per_s": None,
        "unit": None,
        "samples": 0,
        "peak_rss_mb": None,
        "note": reason,
        "skipped": True,
    }


def run_peers(
    sizes: list[int],
    required: bool,
    *,
    seconds: float | None = None,
    peers: list[str] | None = None,
    output: Path | None = RESULTS,
) -> list[dict[str, Any]]:
    """Measures every peer (ML Metadata at each graph size, MLflow once) and writes the rows to
    ``output`` (bench/results-peers.json; None: not written). A peer that cannot be measured gets a
    row with "skipped": true; with ``required`` that raises PeerError once the rows are written."""
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    timing = ["--seconds", str(seconds)] if seconds is not None else []
    for key in peers or list(PEERS):
        peer = PEERS[key]
        runs: list[tuple[int | None, list[str]]] = (
            [(size, ["--nodes", str(size), *timing]) for size in sizes] if peer is MLMD else [(None, timing)]
        )
        try:
            python = ensure_venv(peer)
        except PeerError as error:
            reason = f"environment could not be built: {error}"
            _say(f"{peer.key}: skipped: {reason}")
            failures.append(f"{peer.label}: {reason}")
            rows += [skipped(peer, nodes, reason) for nodes, _ in runs]
            continue
        for nodes, arguments in runs:
            try:
                rows += run_script(peer, python, arguments)
            except PeerError as error:
                _say(f"{peer.key}: skipped: {error}")
                failures.append(f"{peer.label}{f' at {nodes:,} nodes' if nodes else ''}: {error}")
                rows.append(skipped(peer, nodes, str(error)))
    if output is not None:
        output.write_text(json.dumps(rows, indent=2) + "\n")
        _say(f"wrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    if required and failures:
        raise PeerError("peers not measured: " + "; ".join(failures))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="ML Metadata and MLflow benchmarks, each in its own venv")
    parser.add_argument("--nodes", default="10000", help="graph sizes for ML Metadata, comma-separated")
    parser.add_argument("--required", action="store_true", help="exit 1 when a peer cannot be measured")
    parser.add_argument("--seconds", type=float, help="time per scenario (default: each script's own)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"which peers, comma-separated ({', '.join(PEERS)})")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the rows go")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(unknown)}")
    try:
        rows = run_peers(
            [int(n) for n in args.nodes.split(",")],
            args.required,
            seconds=args.seconds,
            peers=chosen,
            output=args.output.resolve(),
        )
    except PeerError as error:
        _say(str(error))
        sys.exit(1)
    for r in rows:
        if r["skipped"]:
            _say(f"{r['peer']}: skipped: {r['note']}")
        else:
            nodes = f"{r['nodes']:,} nodes" if r["nodes"] else "-"
            _say(
                f"{r['peer']} | {nodes} | {r['scenario']} | p50 {r['p50_ms']:.2f} ms | p99 {r['p99_ms']:.2f} ms"
                f" | {r['throughput_per_s']:,.1f} {r['unit']}/s"
            )


if __name__ == "__main__":
    main()
