"""Benchmark: deliver 10 000 journal lines (5 000 claims) of one run to the Business Central
stand-in on 127.0.0.1, batched ($batch of `EXPORT_SERVICE_DELIVERY_BATCH_SIZE`, default 100),
with the stand-in's request count printed beside the time; and, in the same run, raw PostgreSQL
(one INSERT commit per batch event) for comparison.

    python benchmarks/delivery.py            # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... python benchmarks/delivery.py

Target: under 60 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.ports import ClaimRecord
from bootstrap import bootstrap
from domain.export_run import ExportTarget
from domain.shared import Actor, Period
from infrastructure.database import ensure_database, start_embedded
from infrastructure.migrations import migrate
from infrastructure.settings import Settings
from tests.standins.base import serve
from tests.standins.business_central import BusinessCentral

CLAIMS = 5_000
TENANT = "bench.onmicrosoft.com"
SETTINGS = {
    "company_code": "HLF", "voucher_type": "UTLEGG", "counter_account": "2930",
    "categories": {"reise": {"account": "7140", "tax_code": "0", "dimension": "100"}},
}


def raw_postgres(url: str, commits: int) -> float:
    """The floor: one small INSERT commit per posted batch, as LinesPosted events are."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE bench (id int, keys text)")
        conn.commit()
        started = time.perf_counter()
        for i in range(commits):
            conn.execute("INSERT INTO bench VALUES (%s, %s)", (i, "k" * 6000))
            conn.commit()
        return time.perf_counter() - started


@dataclass
class Figures:
    lines: int
    distinct: int
    seconds: float
    requests: dict[str, int]
    floor_seconds: float
    status: str


def measure(admin: str, data_dir: Path, claims: int = CLAIMS) -> Figures:
    """Deliver one run of `claims` claims (two lines each) to the stand-in; the raw floor is
    one INSERT commit per batch on the same server."""
    url = ensure_database(admin, f"bench_delivery_{uuid4().hex[:8]}")
    migrate(url)
    batch = int(os.environ.get("EXPORT_SERVICE_DELIVERY_BATCH_SIZE", "100"))
    settings = Settings(
        data_dir=data_dir, jwt_secret=SecretStr("b" * 40), demo_data=False,
        delivery_hosts="127.0.0.1", delivery_batch_size=batch,
    )
    services = bootstrap(settings, database_url=url)
    standin = BusinessCentral()
    org_id = uuid4()
    actor = Actor("bench", org_id, "bench")
    services.app.accounting_settings.configure(org_id, SETTINGS, actor)
    approved = datetime(2025, 1, 15, 10, tzinfo=UTC)
    services.claims.upsert(org_id, [
        ClaimRecord(uuid4(), f"v-{i % 300}", date(2025, 1, 14),
                    approved + timedelta(seconds=i), "reise", f"{100 + i % 900}.50", "NOK",
                    f"Reise {i}")
        for i in range(claims)
    ])
    try:
        with serve(standin.app()) as base:
            services.app.delivery.configure(org_id, "dynamics", {
                "endpoint": base, "token_url": f"{base}/{TENANT}/oauth2/v2.0/token",
                "tenant_id": TENANT, "environment": "production",
                "company_id": standin.company_id, "journal": "UTLEGG",
                "credentials": {"client_id": standin.client_id,
                                "client_secret": standin.client_secret},
            }, actor)
            run_id = services.export_runs.request_export(
                org_id, Period(date(2025, 1, 1), date(2025, 1, 31)), ExportTarget.DYNAMICS, actor)
            services.export_runs.execute(run_id)
            before = dict(standin.requests)
            started = time.perf_counter()
            services.app.delivery.deliver(run_id)
            elapsed = time.perf_counter() - started
        run = services.store.get(run_id)
        status = str(run.delivery["status"]) if run.delivery else "none"
    finally:
        services.close()
    requests = {k: v - before.get(k, 0) for k, v in standin.requests.items()}
    keys = {(r["documentNumber"], r["externalDocumentNumber"], r["accountNumber"],
             r["amount"]) for r in standin.lines}
    floor = raw_postgres(url, (len(standin.lines) + batch - 1) // batch)
    return Figures(len(standin.lines), len(keys), elapsed, requests, floor, status)


def main() -> None:
    # Not a TemporaryDirectory: the embedded server is stopped when this process exits, and
    # it needs its data directory for that.
    tmp = tempfile.mkdtemp(prefix="bench-delivery-")
    admin = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp) / "pg")
    f = measure(admin, Path(tmp) / "data")
    print(f"delivery: {f.status}, {f.lines} lines ({f.distinct} distinct) in "
          f"{f.seconds:.2f} s = {f.lines / f.seconds:,.0f} lines/s (target < 60 s)")
    print(f"requests to the stand-in during delivery: {sum(f.requests.values())} {f.requests}")
    print(f"raw PostgreSQL, one commit per batch: {f.floor_seconds:.3f} s")
    if f.lines != 2 * CLAIMS or f.distinct != f.lines:
        raise SystemExit("lines missing or posted twice")


if __name__ == "__main__":
    main()
