"""bench/results.md and bench/results.png from what the harness measured: every row,
the issue's targets each marked met or missed by how much, the levers and the profile."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.stats import HEADER, Row

if TYPE_CHECKING:
    from bench.run import SizeResult

MLMD_LOAD_RATE = 7600  # nodes/s, the figure, used when the peer was not measured here

NOTES = Path(__file__).with_name("notes.md")


def _find(rows: Sequence[Row], prefix: str) -> Row | None:
    return next((r for r in rows if r.scenario.startswith(prefix)), None)


def _verdict(measured: float, target: float, higher_is_better: bool) -> str:
    if math.isnan(measured):
        return "not measured"
    met = measured >= target if higher_is_better else measured <= target
    if met:
        return "met"
    factor = target / measured if higher_is_better else measured / target
    return f"missed by {factor:.2f}x" if factor < 1.1 else f"missed by {factor:.1f}x"


def targets(results: Sequence[SizeResult], peers: Sequence[Row]) -> list[str]:
    """The compiled read path's targets (one store query per request), then the earlier
    ones (ingestion, bulk load, growth with the graph's size)."""
    lines = ["| target | measured | verdict |", "|---|---|---|"]

    def add(target: str, measured: float, text: str, goal: float, higher: bool) -> None:
        lines.append(f"| {target} | {text} | {_verdict(measured, goal, higher)} |")

    small, large = results[0], results[-1]
    for r in results:
        queries = [
            row
            for row in r.rows
            if not math.isnan(row.round_trips)
            and row.unit == "requests"
            and not row.scenario.startswith(("the same answer", "cost-limit", "/healthz"))
        ]
        if queries:
            worst = max(queries, key=lambda row: row.round_trips)
            add(
                f"one store round trip per GraphQL request, token check included, every query scenario ({r.nodes:,} nodes)",
                worst.round_trips,
                f"at most {worst.round_trips:.2f} ({len(queries)} scenarios)",
                1.0,
                False,
            )
    for r in results:
        graphql = _find(r.rows, "nested deployment lineage, GraphQL over HTTP")
        bare = _find(r.rows, "the same answer, bare route")
        if graphql and bare:
            ratio = graphql.throughput / bare.throughput
            add(
                f"nested lineage over HTTP >= 0.8x the bare route of one hand-written SQL query ({r.nodes:,} nodes)",
                ratio,
                f"{ratio:.2f}x ({graphql.p50:.2f} ms / {bare.p50:.2f} ms p50)",
                0.8,
                True,
            )
    for r in (small, large) if small is not large else (small,):
        nested = _find(r.rows, "nested deployment lineage, over HTTP")
        if nested:
            add(f"nested lineage over HTTP p50 <= 0.6 ms ({r.nodes:,} nodes)", nested.p50, f"{nested.p50:.2f} ms", 0.6, False)
    near = min(results, key=lambda r: abs(r.runs - 20_000))
    best_runs = _find(near.rows, "the ~")
    if best_runs:
        add(
            f"1,000 runs filtered and ordered by a metric (10 pages of 100) <= 50 ms over HTTP ({near.runs:,} runs)",
            best_runs.p50,
            f"{best_runs.p50:.1f} ms p50",
            50,
            False,
        )
    add(
        f"gateway RSS <= 150 MB under load ({large.nodes:,} nodes)",
        large.server_rss_mb,
        f"{large.server_rss_mb:.0f} MB peak",
        150,
        False,
    )
    for r in results:
        refusal = _find(r.rows, "cost-limit refusal of the 100 x 100 x 100 runs query over HTTP, 1 client")
        health = _find(r.rows, "/healthz meanwhile (1 client")
        if refusal and health:
            add(
                f"the cost-limit refusal in under 10 ms while /healthz keeps answering ({r.nodes:,} nodes)",
                refusal.p50,
                f"{refusal.p50:.2f} ms p50 ({refusal.p99:.2f} ms p99); /healthz {health.p50:.2f} ms p50,"
                f" {health.p99:.2f} ms p99, every one answered",
                10,
                False,
            )
    lines += [
        "| dense sweeps (5,000 and 50,000 runs): deployment lineage `limit: 100` <= 5 ms, a dataset's impact <= 10 ms,"
        " 50k / 5k <= 1.5x | `make bench-dense`: bench/results-dense.md | see there |",
        "| complete upstream lineage of a sweep's deployment over HTTP <= 0.5x ML Metadata's get_lineage_subgraph in"
        " process | `make bench-dense`: bench/results-dense.md | see there |",
        "",
        "Earlier targets:",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for r in results:
        graphql = _find(r.rows, "nested deployment lineage, GraphQL over HTTP")
        plain = _find(r.rows, "the same answer, plain Starlette")
        if graphql and plain:
            ratio = graphql.throughput / plain.throughput
            add(
                f"GraphQL nested lineage over HTTP >= 0.5x the plain route ({r.nodes:,} nodes)", ratio, f"{ratio:.2f}x", 0.5, True
            )
    first, last = (
        _find(small.rows, "nested deployment lineage, over HTTP"),
        _find(large.rows, "nested deployment lineage, over HTTP"),
    )
    if first and last and large.nodes >= 900_000 and small.nodes <= 20_000:
        growth = last.p50 / first.p50
        add(
            "deployment lineage p50 at 1M nodes <= 1.5x the p50 at 10k",
            growth,
            f"{last.p50:.2f} / {first.p50:.2f} ms = {growth:.2f}x",
            1.5,
            False,
        )
    else:
        lines.append(
            "| deployment lineage p50 at 1M nodes <= 1.5x the p50 at 10k | sizes 10k and 1M not both run | not measured |"
        )
    eight = _find(large.rows, "ingestion over HTTP, one run per request (logRun), 8 clients")
    if eight:
        add(
            "logRun >= 1,000 runs/s, one run per request, 8 clients",
            eight.throughput,
            f"{eight.throughput:,.0f} runs/s",
            1000,
            True,
        )
    batched = [row for row in large.rows if row.scenario.startswith("ingestion") and "logRuns" in row.scenario]
    if batched:
        best = max(batched, key=lambda row: row.throughput)
        add(
            "logRun batched >= 5,000 runs/s", best.throughput, f"{best.throughput:,.0f} runs/s ({best.scenario[21:]})", 5000, True
        )
    loads = [p for p in peers if p.system.startswith("ML Metadata") and p.unit == "nodes" and "bulk load" in p.scenario]
    mlmd_load = max(loads, key=lambda p: p.size) if loads else None
    mlmd_rate = mlmd_load.throughput if mlmd_load else MLMD_LOAD_RATE
    source = f"measured here at {mlmd_load.size:,} nodes" if mlmd_load else "the issue's figure"
    add(
        f"bulk load >= 5x ML Metadata's rate ({mlmd_rate:,.0f} nodes/s, {source}), {large.nodes:,} nodes",
        large.load_rate,
        f"{large.load_rate:,.0f} nodes/s",
        5 * mlmd_rate,
        True,
    )
    return lines


def peer_rows(peers: Sequence[dict[str, Any]]) -> tuple[list[Row], list[str]]:
    """The peers' rows (bench/peers/run.py's format) as report rows, and their notes."""
    rows: list[Row] = []
    notes: list[str] = []
    for peer in peers:
        if peer.get("skipped"):
            notes.append(f"- {peer['peer']}: not measured: {peer.get('note', '')}")
            continue
        rows.append(
            Row(
                peer.get("nodes") or 0,
                peer["scenario"],
                peer["p50_ms"],
                peer["p95_ms"],
                peer["p99_ms"],
                peer["throughput_per_s"],
                math.nan,
                unit=peer.get("unit") or "requests",
                rss_mb=peer.get("peak_rss_mb") or math.nan,
                system=peer["peer"],
            )
        )
        if peer.get("note"):
            notes.append(f"- {peer['peer']}, {peer['scenario']}: {peer['note']}")
    return rows, notes


def write_report(output: Path, results: Sequence[SizeResult], peers: Sequence[Row], peer_notes: Sequence[str]) -> None:
    chart = output.with_suffix(".png")
    drew = draw(chart, results, peers)
    lines = [
        "# Metagate benchmarks",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; SQLite store (WAL).",
        "In-process rows run in the harness process (peak RSS is the harness's); HTTP rows run against a",
        "gateway process on the same machine, and their peak RSS is that process's. Store round trips over",
        "HTTP come from the gateway's /metrics and include the token check. `make bench` writes this file.",
        "",
        *HEADER,
        *[row.markdown() for r in results for row in r.rows],
        *[row.markdown() for row in peers],
        "",
        "| graph nodes | runs | bulk load (nodes/s) | database size (MB) | gateway peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {r.nodes:,} | {r.runs:,} | {r.load_rate:,.0f} | {r.db_mb:.0f} | {r.server_rss_mb:.0f} |" for r in results],
        "",
    ]
    if drew:
        lines += [f"![latency against graph size, and ingestion]({chart.name})", ""]
    if peer_notes:
        lines += ["Peers:", "", *peer_notes, ""]
    lines += ["## Targets", "", *targets(results, peers), ""]
    profiled = next((r for r in results if r.profile), None)
    if profiled:
        lines += [
            f"## Where a nested lineage request spends its time ({profiled.nodes:,} nodes, in process)",
            "",
            profiled.profile,
            "",
        ]
    lines.append(NOTES.read_text())
    output.write_text("\n".join(lines))
    print("\n".join(lines))


def draw(path: Path, results: Sequence[SizeResult], peers: Sequence[Row]) -> bool:
    """Latency against graph size (Metagate beside ML Metadata), and ingestion rates
    (Metagate beside MLflow). False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(16, 7.5), gridspec_kw={"width_ratios": [1, 1.3]})
    series: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        for prefix, label in (
            ("nested deployment lineage, over HTTP", "Metagate: nested deployment lineage, HTTP"),
            ("nested deployment lineage, in process", "Metagate: nested deployment lineage, in process"),
            ("lineage upstream depth 10", "Metagate: lineage upstream depth 10, in process"),
        ):
            row = _find(r.rows, prefix)
            if row:
                series.setdefault(label, []).append((r.nodes, row.p50))
    for row in peers:
        if row.size and row.unit == "requests":
            series.setdefault(f"{row.system}: {row.scenario}", []).append((row.size, row.p50))
    for label, points in series.items():
        points.sort()
        left.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            linestyle="--" if not label.startswith("Metagate") else "-",
            label=label,
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("graph nodes")
    left.set_ylabel("p50 latency (ms)")
    left.set_title("Lineage latency against graph size")
    left.legend(fontsize=6.5, loc="upper left")
    left.grid(True, which="both", alpha=0.3)
    bars = [
        (f"Metagate: {row.scenario.removeprefix('ingestion over HTTP, ')}", row.throughput)
        for row in results[-1].rows
        if row.scenario.startswith("ingestion")
    ]
    bars += [
        (
            f"{row.system}: {row.scenario.removeprefix('ingest: ')}" + (f" ({row.size:,} nodes)" if row.size else ""),
            row.throughput,
        )
        for row in peers
        if row.unit == "runs" and (not row.size or row.size == max(p.size for p in peers))
    ]
    if bars:
        labels, values = zip(*bars)
        colors = ["tab:blue" if label.startswith("Metagate") else "tab:orange" for label in labels]
        right.barh(range(len(values)), values, color=colors)
        right.set_yticks(range(len(values)), labels, fontsize=7)
        right.set_xscale("log")
        right.set_xlabel("runs logged per second")
        right.set_title(f"Ingestion (Metagate into the {results[-1].nodes:,}-node store)", fontsize=10)
        right.grid(True, axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main() -> None:
    """Writes the report again from the rows a run kept (bench/results-metagate.json and
    bench/results-peers.json), without measuring anything."""
    import argparse
    import json

    from bench.run import SizeResult

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("metagate", type=Path)
    parser.add_argument("peers", type=Path, nargs="?")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    results = []
    for kept in json.loads(args.metagate.read_text()):
        kept["rows"] = [Row(**row) for row in kept["rows"]]
        results.append(SizeResult(**kept))
    peers, notes = peer_rows(json.loads(args.peers.read_text()) if args.peers else [])
    if args.peers:
        notes.insert(0, f"- The peers' rows come from {args.peers}, measured on this machine by an earlier run.")
    write_report(args.output, results, peers, notes)


if __name__ == "__main__":
    main()
