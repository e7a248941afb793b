"""`benchmarks/run`: every benchmark, each figure beside its raw floor measured in the same run,
written to benchmarks/results.md (full size) or printed (`--quick`, small sizes, for CI: no
figure is asserted, the point is that the benchmarks keep running)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import api_reads, delivery, event_store, export_pipeline
from infrastructure.database import start_embedded

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    measure: str
    figure: str
    floor: str
    ratio: str
    target: str
    met: bool | None


#: The export files measured (the first at both sizes, the others at the larger), by target.
FILE_FORMATS = {"xledger": "Xledger (GL02)", "dynamics": "Business Central (journal lines)"}


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"events": 1500, "appends": 160, "rounds": 1, "claims_small": 200,
                "claims_big": 2000, "runs": 2, "delivery_claims": 200, "requests": 480,
                "lag_seconds": 2}
    return {"events": 25_000, "appends": 2000, "rounds": 10, "claims_small": 500,
            "claims_big": 100_000, "runs": 7, "delivery_claims": 5000, "requests": 8000,
            "lag_seconds": 15}


def settle(admin: str) -> None:
    """A checkpoint before a latency or rate measure, so that the previous measure's writes are
    not flushed in the middle of it, and a collection of what the previous measures left in
    reference cycles (pools, connections), so that it is not collected in the middle of it
    either: 48 racing requests measured after the appends showed p99 169 ms without it, 55 ms
    with it (figure and floor alike)."""
    gc.collect()
    # A server of your own may not grant the right: then nothing is flushed first.
    with (psycopg.connect(admin, autocommit=True) as conn,
          contextlib.suppress(psycopg.errors.InsufficientPrivilege)):
        conn.execute("CHECKPOINT")


def run_all(admin: str, data_dir: Path, n: dict[str, int]) -> list[Result]:
    out: list[Result] = []
    for name, (rate, floor) in event_store.projection_rebuild(admin, n["events"]).items():
        out.append(Result(f"projection rebuild `{name}` ({n['events']} events)",
                          f"{rate:,.0f} events/s", f"{floor:,.0f} events/s (SELECT, decode, "
                          "COPY, commit)", f"{rate / floor:.2f}×", "≥ 20 000 events/s and ≥ 0.5×",
                          rate >= 20_000 and rate >= 0.5 * floor))
    events_per_second, lags = event_store.projection_lag(admin, n["lag_seconds"])
    worst = max(p99 for p50, p99, most in lags.values())
    out.append(Result(f"projection lag, live, under {events_per_second:,.0f} appended events/s",
                      "; ".join(f"`{name}` p99 {p99 * 1000:.0f} ms (max {most * 1000:.0f})"
                                for name, (p50, p99, most) in lags.items()),
                      "—", "—", "< 1 s", worst < 1.0))
    for writers in (1, 8):
        settle(admin)
        app, raw, same, jobless = event_store.appends(admin, writers, n["appends"] // writers)
        out.append(Result(f"append `request_export`, {writers} writer(s)", f"{app:,.0f}/s",
                          f"{raw:,.0f}/s (single-row INSERT + COMMIT); the append's own SQL "
                          f"sent alone: {same:,.0f}/s ({app / same:.2f}×), and without its "
                          f"queued job: {jobless:,.0f}/s", f"{app / raw:.2f}×",
                          "≥ 0.5×", app >= 0.5 * raw))
    settle(admin)
    app_p99, raw_p99, one = event_store.racing_triggers(admin, n["rounds"])
    out.append(Result(f"48 racing overlapping triggers ({n['rounds']} rounds)",
                      f"p99 {app_p99 * 1000:.0f} ms, exactly one accepted: {'yes' if one else 'NO'}",
                      f"p99 {raw_p99 * 1000:.0f} ms (the period guard statement, 48 connections)",
                      f"{app_p99 / raw_p99:.1f}× slower", "p99 < 150 ms, exactly one",
                      app_p99 < 0.150 and one))
    targets = {n["claims_small"]: 0.15, n["claims_big"]: 8.0}
    rows = export_pipeline.measure(admin, data_dir, [n["claims_small"], n["claims_big"]], n["runs"],
                                   list(FILE_FORMATS))
    for count, file_format, runs, median, floor, rss in rows:
        target = targets[count]
        out.append(Result(f"export of {count:,} claims to {FILE_FORMATS[file_format]}, trigger → "
                          f"completed file ({runs} runs)",
                          f"{median:.3f} s median, worker peak RSS {rss:.0f} MB",
                          f"{floor:.3f} s (COPY of the same claims)", f"{median / floor:.0f}× slower",
                          f"< {target} s, RSS < 200 MB" + (", ≤ 15× COPY" if count >= 100_000 else ""),
                          median < target and rss < 200
                          and (count < 100_000 or median <= 15 * floor)))
    d = delivery.measure(admin, data_dir / "delivery", n["delivery_claims"])
    requests = sum(d.requests.values())
    out.append(Result(f"delivery of {d.lines:,} journal lines to the Business Central stand-in",
                      f"{d.seconds:.2f} s, {requests} requests ({d.requests.get('batch', 0)} "
                      f"$batch), each line once: {'yes' if d.distinct == d.lines else 'NO'}",
                      f"{d.floor_seconds:.3f} s (one INSERT commit per batch)",
                      f"{d.seconds / d.floor_seconds:.0f}× slower", "10 000 lines < 60 s",
                      d.status == "delivered" and d.distinct == d.lines
                      and d.seconds < 60 * d.lines / 10_000))
    floor, *reads = api_reads.measure(admin, data_dir, n["requests"])
    for load in reads:
        is_get = load.name == "GET a run"
        out.append(Result(f"{load.name}, {api_reads.CLIENTS} clients ({load.requests} requests)",
                          f"{load.rate:,.0f} req/s, p50 {load.p50 * 1000:.0f} ms, "
                          f"p99 {load.p99 * 1000:.0f} ms",
                          f"{floor.rate:,.0f} req/s, p99 {floor.p99 * 1000:.0f} ms (FastAPI "
                          "endpoint returning a constant)", f"{load.rate / floor.rate:.2f}×",
                          "≥ 400 req/s, p99 < 50 ms" if is_get else "—",
                          (load.rate >= 400 and load.p99 < 0.050) if is_get else None))
    return out


def machine(admin: str) -> list[str]:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    with psycopg.connect(admin) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return [f"cores: {os.cpu_count()}", f"memory: {mem_kb / 1024 / 1024:.1f} GiB",
            f"PostgreSQL: {row[0] if row else '?'}", f"Python: {platform.python_version()}"]


def table(results: list[Result]) -> str:
    lines = ["| measure | figure | raw floor, same run | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for r in results:
        met = "—" if r.met is None else ("yes" if r.met else "no")
        lines.append(f"| {r.measure} | {r.figure} | {r.floor} | {r.ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; print, write nothing")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        admin = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp))
        info = machine(admin)
        t0 = time.perf_counter()
        results = run_all(admin, Path(tmp), sizes(args.quick))
        took = time.perf_counter() - t0
    load_after = os.getloadavg()
    report = "\n".join([
        "# Benchmark results" + (" (--quick: small sizes, figures mean little)" if args.quick else ""),
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC by `benchmarks/run{' --quick' if args.quick else ''}`, "
        f"{took:.0f} s. Each figure is beside its raw PostgreSQL floor measured in the same run, "
        "on the same server; the ratio is what to compare across machines.",
        "",
        table(results),
        "",
        "Machine: " + "; ".join(info) + f"; load average before {load_before[0]:.1f} "
        f"({load_before[1]:.1f} 5-min), after {load_after[0]:.1f} ({load_after[1]:.1f} 5-min).",
        "",
    ])
    print(report)
    if not args.quick:
        (HERE / "results.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
