"""Benchmark: `GET` of an export run and the run list at 16 concurrent clients, through a real
`export-service serve` process, beside a FastAPI endpoint that returns a constant, served by
uvicorn the same way and measured in the same run (the framework's floor on this machine).

    python benchmarks/api_reads.py               # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... python benchmarks/api_reads.py --requests 8000

The run read has taken 2 000 claims (its ClaimsTaken events are never replayed on a read) and
completed; the list holds 25 runs. The client keeps 16 HTTP/1.1 connections open and sends
one request after another on each (asyncio, raw sockets: the client costs little CPU).
Target: ≥ 400 req/s and p99 < 50 ms for `GET` a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.database import ensure_database, start_embedded
from infrastructure.event_store import PostgresEventStore, open_event_log
from infrastructure.migrations import migrate
from interfaces.http.auth import Role, mint

SECRET = "bench-" + "s" * 48
CREDENTIALS_KEY = "YmVuY2htYXJrLWNyZWRlbnRpYWxzLWtleS0zMmJ5dGU="
CLIENTS = 16
CLAIMS = 2000
RUNS = 25
CONSTANT_APP = '''
from fastapi import FastAPI
app = FastAPI()

@app.get("/constant")
def constant() -> dict[str, str]:
    return {"status": "ok"}
'''


@dataclass(frozen=True)
class Load:
    name: str
    requests: int
    rate: float  # requests/s
    p50: float  # seconds
    p99: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str, org_id: UUID) -> UUID:
    """RUNS completed runs of one organisation; returns the newest (CLAIMS claims)."""
    store = PostgresEventStore(open_event_log(url, pool_size=1))
    actor = Actor("bench", org_id, "bench")
    claim = {"claimant_id": "frivillig-1", "expense_date": "2025-01-02",
             "approved_at": "2025-01-02T10:00:00+01:00", "category": "reise", "amount": "10.00",
             "currency": "NOK", "description": "Tog Oslo–Bergen", "late": False,
             "amount_nok": None, "ledger_ref": "x"}
    run_id = uuid4()
    try:
        for month in range(RUNS):
            start = date(2000 + month, 1, 1)
            run = ExportRun.request(org_id, Period(start, date(start.year, 1, 31)),
                                    ExportTarget.XLEDGER, actor)
            count = CLAIMS if month == RUNS - 1 else 3
            run.start(({**claim, "claim_id": str(uuid4())} for _ in range(count)), actor)
            run.complete({"path": f"exports/{org_id}/{run.id}.csv", "size_bytes": 100,
                          "sha256": "ab" * 32}, actor)
            store.save(run)
            run_id = run.id
    finally:
        store.app.close()
    return run_id


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env={**os.environ, **env}, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            if httpx.get(base + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} did not come up")


async def _client(port: int, request: bytes, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != b"200":
                raise RuntimeError(f"answer {status!r}: {head!r}")
    finally:
        writer.close()


def load(name: str, port: int, path: str, token: str, requests: int) -> Load:
    """`requests` in all over CLIENTS keep-alive connections (a short warm-up first)."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()

    async def go(per_client: int) -> tuple[float, list[float]]:
        latencies: list[float] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(port, request, per_client, latencies)
                               for _ in range(CLIENTS)))
        return time.perf_counter() - t0, latencies

    asyncio.run(go(max(requests // CLIENTS // 10, 2)))
    took, latencies = asyncio.run(go(max(requests // CLIENTS, 1)))
    cuts = statistics.quantiles(latencies, n=100)
    return Load(name, len(latencies), len(latencies) / took, cuts[49], cuts[98])


def measure(admin: str, data_dir: Path, requests: int) -> list[Load]:
    """The constant endpoint, GET a run and the run list, in that order, in one run."""
    url = ensure_database(admin, f"export_bench_{uuid.uuid4().hex[:8]}")
    migrate(url)
    org_id = uuid4()
    run_id = seed(url, org_id)
    root = Path(__file__).resolve().parents[1]
    (data_dir / "constant_app.py").write_text(CONSTANT_APP)
    api_port, floor_port = free_port(), free_port()
    env = {"DATABASE_URL": url, "EXPORT_SERVICE_DATA_DIR": str(data_dir),
           "EXPORT_SERVICE_JWT_SECRET": SECRET, "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(root)}
    api = start(["-c", "from interfaces.cli import main; main()", "serve", "--no-demo",
                 "--port", str(api_port)], env, data_dir / "api.log", root)
    floor = start(["-m", "uvicorn", "constant_app:app", "--port", str(floor_port),
                   "--log-level", "warning", "--no-access-log"],
                  {"PYTHONPATH": str(data_dir)}, data_dir / "constant.log", data_dir)
    token = mint(SECRET, "bench", org_id, Role.AUDITOR)
    runs = f"/v1/orgs/{org_id}/export-runs"
    try:
        wait_until_up(f"http://127.0.0.1:{api_port}", api, data_dir / "api.log", "/readyz")
        wait_until_up(f"http://127.0.0.1:{floor_port}", floor, data_dir / "constant.log",
                      "/constant")
        got = httpx.get(f"http://127.0.0.1:{api_port}{runs}/{run_id}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert got.json()["record_count"] == CLAIMS, got.text
        return [
            load("constant FastAPI endpoint", floor_port, "/constant", token, requests),
            load("GET a run", api_port, f"{runs}/{run_id}", token, requests),
            load(f"list runs ({RUNS})", api_port, runs, token, requests // 4),
        ]
    finally:
        for proc in (api, floor):
            proc.terminate()
        for proc in (api, floor):
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=8000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        admin = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp))
        rows = measure(admin, Path(tmp), args.requests)
    for row in rows:
        print(f"{row.name:>28}: {row.rate:8.0f} req/s  p50 {row.p50 * 1000:6.1f} ms  "
              f"p99 {row.p99 * 1000:6.1f} ms  ({row.requests} requests, {CLIENTS} clients)")


if __name__ == "__main__":
    main()
