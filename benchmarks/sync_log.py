"""Benchmark: `latest` of the sync run log for one organisation over 1 000 000 rows
(50 organisations x 10 integration types), through the service's query function against the
same SQL run directly with psycopg, in the same run.

    python benchmarks/sync_log.py            # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... python benchmarks/sync_log.py

Target: under 5 ms median (seed 003 allows 200 ms).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infrastructure.database import ensure_database, start_embedded
from infrastructure.migrations import migrate
from infrastructure.projections.sync_run_log import LATEST_SQL, latest_runs

ROWS = 1_000_000
ORGS = 50
TYPES = 10
REPEATS = 1000

SEED_SQL = """
INSERT INTO sync_run_log (id, org_id, integration_type, status, triggered_by, started_at,
    ended_at, records_processed, records_failed, error_message, duration_seconds, version)
SELECT gen_random_uuid(),
       ('00000000-0000-4000-8000-' || lpad(to_hex(i %% %(orgs)s), 12, '0'))::uuid,
       'integration_' || ((i / %(orgs)s) %% %(types)s),
       CASE WHEN i %% 17 = 0 THEN 'failed' ELSE 'completed' END,
       CASE WHEN i %% 3 = 0 THEN 'manual' ELSE 'scheduler' END,
       now() - make_interval(secs => i * 7.0),
       now() - make_interval(secs => i * 7.0 - 30),
       i %% 500, i %% 7, NULL, 30, 2
FROM generate_series(1, %(rows)s) AS i
"""


def org_of(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012x}")


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    for _ in range(20):  # warm-up: plans and buffers
        fn()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1]


def main() -> None:
    tmp = None
    url = os.environ.get("DATABASE_URL")
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-sync-log-")
        url = start_embedded(Path(tmp.name))
    url = ensure_database(url, f"bench_sync_log_{uuid.uuid4().hex[:8]}")
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(SEED_SQL, {"orgs": ORGS, "types": TYPES, "rows": ROWS})
        conn.execute("VACUUM ANALYZE sync_run_log")
        seeded = time.perf_counter() - started
        org = org_of(7)
        result = latest_runs(conn, org)
        assert len(result) == TYPES, result
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + LATEST_SQL, {"org": org}))
        assert "Seq Scan" not in plan, plan
        service = timed(lambda: latest_runs(conn, org), REPEATS)
        direct = timed(lambda: conn.execute(LATEST_SQL, {"org": org}).fetchall(), REPEATS)
    print(
        f"sync_run_log: {ROWS:,} rows, {ORGS} orgs x {TYPES} integration types "
        f"(seeded in {seeded:.1f} s); latest for one organisation, {REPEATS} runs each"
    )
    print(f"{'':24}{'median ms':>12}{'p99 ms':>10}")
    for name, samples in (("service latest_runs()", service), ("direct psycopg SQL", direct)):
        print(f"{name:24}{statistics.median(samples):>12.3f}{p99(samples):>10.3f}")
    ratio = statistics.median(service) / statistics.median(direct)
    print(f"ratio service/direct (median): {ratio:.2f}")
    verdict = "met" if statistics.median(service) < 5 else "MISSED"
    print(f"target < 5 ms median: {verdict}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
