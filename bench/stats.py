"""What every benchmark scenario reports: one row of latency percentiles, throughput,
store round trips per request and peak RSS."""

from __future__ import annotations

import math
import re
import resource
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Row:
    size: int
    scenario: str
    p50: float
    p95: float
    p99: float
    throughput: float
    round_trips: float
    unit: str = "requests"
    rss_mb: float = float("nan")
    system: str = "Metagate"
    count: int = 0  # requests measured, or for ingestion the runs logged

    def markdown(self) -> str:
        trips = "–" if math.isnan(self.round_trips) else f"{self.round_trips:.1f}"
        rss = "–" if math.isnan(self.rss_mb) else f"{self.rss_mb:.0f}"
        return (
            f"| {self.size:,} | {self.system} | {self.scenario} | {self.p50:.2f} | {self.p95:.2f} | {self.p99:.2f} |"
            f" {self.throughput:,.0f} {self.unit}/s | {trips} | {rss} |"
        )


HEADER = [
    "| graph nodes | system | scenario | p50 (ms) | p95 (ms) | p99 (ms) | throughput | store round trips / request"
    " | peak RSS (MB) |",
    "|---:|---|---|---:|---:|---:|---:|---:|---:|",
]


def percentile(seconds: list[float], q: float) -> float:
    """The q-quantile of latencies given in seconds, in milliseconds."""
    if not seconds:
        return float("nan")
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size of a live process (Linux: VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else float("nan")


async def store_round_trips(http: httpx.AsyncClient) -> float:
    """The gateway's count of queries sent to its store, from /metrics."""
    text = (await http.get("/metrics")).text
    found = re.search(r"^metagate_store_round_trips_total ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")
