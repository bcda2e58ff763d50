"""What the peer scripts share: the result row, percentiles and peak RSS.

Standard library only: this module is imported inside each peer's own virtual
environment, with the repository root on PYTHONPATH.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-quantile of durations in seconds, in milliseconds (nearest rank, as bench/run.py)."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far: VmHWM, which starts afresh at exec
    (getrusage's ru_maxrss keeps the parent's peak across fork and exec, so a script started
    by a large harness process would report the harness's size)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def row(
    peer: str,
    nodes: int | None,
    scenario: str,
    latencies: Sequence[float],
    throughput: float,
    *,
    unit: str = "requests",
    rss_mb: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One result row in the format of bench/results-peers.json."""
    return {
        "peer": peer,
        "nodes": nodes,
        "scenario": scenario,
        "p50_ms": round(percentile_ms(latencies, 0.50), 3),
        "p95_ms": round(percentile_ms(latencies, 0.95), 3),
        "p99_ms": round(percentile_ms(latencies, 0.99), 3),
        "throughput_per_s": round(throughput, 2),
        "unit": unit,
        "samples": len(latencies),
        "peak_rss_mb": round(rss_mb if rss_mb is not None else peak_rss_mb(), 1),
        "note": note,
        "skipped": False,
    }


def write_rows(rows: list[dict[str, Any]], output: Path | None) -> None:
    """Writes the rows as JSON to ``output``, or to stdout without one."""
    text = json.dumps(rows, indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n")


def progress(message: str) -> None:
    sys.stderr.write(message)
    sys.stderr.flush()
