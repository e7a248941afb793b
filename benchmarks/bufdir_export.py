"""Benchmark: Bufdir export of 500 and 50 000 activities, trigger → completed, through the real
use case, queue and worker, against a raw `COPY ... TO STDOUT` of the same rows as the floor.

    python benchmarks/bufdir_export.py            # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... python benchmarks/bufdir_export.py

Targets: 500 rows under 1 s (median), 50 000 rows under 30 s, peak RSS under 250 MB.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.activities import ActivityRecord
from bootstrap import Services, bootstrap
from domain.bufdir_export import ReportFormat
from domain.shared import Actor, Period
from infrastructure.database import ensure_database, start_embedded
from infrastructure.migrations import migrate
from infrastructure.settings import Settings

PERIOD = Period(date(2024, 1, 1), date(2024, 12, 31))
TYPES = ["likepersonsamtale", "kurs", "gruppemøte", "besøk", "arrangement"]
#: Today's numbers, plus old ones the report has to follow through SSB's changes
#: (5401 → 5501 renumbered, 1507 split in 2024).
PLACES = ["0301", "4601", "5001", "1103", "1804", "3403", "5501", "4204", "3201", "5401", "1507"]
MODES = [None, "in_person", "in_person", "phone", "video"]
COPY_SQL = (
    "COPY (SELECT id, date, activity_type, participants, municipality, description, "
    "duration_minutes, extra, end_date, contact_mode FROM activities WHERE org_id = {org} "
    "AND date BETWEEN '2024-01-01' AND '2024-12-31' ORDER BY date, id) TO STDOUT"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def seed(services: Services, org_id: UUID, count: int) -> None:
    rng = random.Random(count)
    batch: list[ActivityRecord] = []
    for i in range(count):
        kind = rng.choice(TYPES)
        day = PERIOD.start + timedelta(days=rng.randint(0, 362))
        span = rng.choice([0, 0, 0, 1, 2])
        batch.append(ActivityRecord(
            id=f"bench-{i:06d}", date=day, end_date=day + timedelta(days=span) if span else None,
            activity_type=kind, participants=rng.randint(0, 30), municipality=rng.choice(PLACES),
            description=f"Aktivitet {i}: samtalegruppe med kaffe og erfaringsdeling",
            duration_minutes=rng.choice([None, 30, 45, 60, 90, 120, 270]),
            contact_mode=rng.choice(MODES),
        ))
        if len(batch) == 5000:
            services.activities.upsert(org_id, batch)
            batch = []
    services.activities.upsert(org_id, batch)


def drain(services: Services) -> None:
    from infrastructure.queue import build_queue

    queue = build_queue(services.database_url, services.task_handlers())

    async def run() -> None:
        async with queue.open_async():
            await queue.run_worker_async(wait=False, concurrency=1)

    asyncio.run(run())


def export_once(services: Services, org_id: UUID) -> float:
    started = time.perf_counter()
    export_id = services.bufdir_exports.request(
        org_id, PERIOD, ReportFormat.XLSX, False, Actor("bench", org_id, "bench")
    )
    drain(services)
    elapsed = time.perf_counter() - started
    export = services.bufdir_exports.get(org_id, export_id)
    assert export.status == "completed", export.status
    return elapsed


def copy_once(url: str, org_id: UUID) -> float:
    started = time.perf_counter()
    size = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        query = psycopg.sql.SQL(COPY_SQL).format(org=psycopg.sql.Literal(str(org_id)))
        with cur.copy(query) as copy:
            for block in copy:
                size += len(block)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bufdir-bench-") as tmp:
        admin = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp))
        url = ensure_database(admin, f"bufdir_bench_{uuid.uuid4().hex[:8]}")
        migrate(url)
        settings = Settings(data_dir=Path(tmp), jwt_secret=SecretStr("b" * 48), demo_data=False)
        services = bootstrap(settings, database_url=url)
        try:
            rows = []
            for count, runs in ((500, 5), (50_000, 2)):
                org_id = uuid.uuid4()
                seed(services, org_id, count)
                times = [export_once(services, org_id) for _ in range(runs)]
                floors = [copy_once(url, org_id) for _ in range(runs)]
                rows.append((count, runs, statistics.median(times), statistics.median(floors),
                             peak_rss_mb()))
        finally:
            services.close()
    target = {500: 1.0, 50_000: 30.0}
    print(f"{'rows':>7} {'runs':>4} {'export s':>9} {'COPY s':>8} {'ratio':>7} "
          f"{'target s':>8} {'peak RSS MB':>11}  ok")
    for count, runs, median, floor, rss in rows:
        ok = median < target[count] and rss < 250
        print(f"{count:>7} {runs:>4} {median:>9.3f} {floor:>8.3f} {median / floor:>7.1f} "
              f"{target[count]:>8.1f} {rss:>11.1f}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
