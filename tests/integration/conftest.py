"""Fixtures wiring the real adapters to a fresh PostgreSQL database per test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bootstrap import Services, bootstrap
from infrastructure.settings import Settings
from interfaces.http.auth import Role, mint

SECRET = "test-secret-" + "x" * 40
#: A fixed Fernet key for processes started with an external DATABASE_URL (it must be given).
CREDENTIALS_KEY = "dGVzdC1jcmVkZW50aWFscy1rZXktMzItYnl0ZXMhISE="


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Delivery may only aim at a name that never resolves: no test reaches a vendor's host.
    return Settings(data_dir=tmp_path, jwt_secret=SecretStr(SECRET), demo_data=False,
                    delivery_hosts="stand-in.invalid")


@pytest.fixture
def services(db_url: str, settings: Settings) -> Iterator[Services]:
    s = bootstrap(settings, database_url=db_url)
    yield s
    s.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The API in-process, without the background worker (tests drive the queue themselves)."""
    from interfaces.server import build_app

    with TestClient(build_app(services, background=False), raise_server_exceptions=False) as c:
        yield c


class Tokens:
    def __init__(self, org_id: UUID) -> None:
        self.org_id = org_id

    def header(self, role: Role = Role.COORDINATOR, org_id: UUID | None = None,
               sub: str = "user-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(SECRET, sub, org_id or self.org_id, role)}"}


@pytest.fixture
def org() -> Tokens:
    return Tokens(uuid4())


def drain_queue(services: Services) -> None:
    """Run a worker until the queue is empty (wait=False), as a separate worker machine would."""
    from infrastructure.queue import build_queue

    queue = build_queue(services.database_url, services.task_handlers())

    async def run() -> None:
        async with queue.open_async():
            await queue.run_worker_async(wait=False, concurrency=1)

    asyncio.run(run())


def claim_json(day: str, amount: str = "100.00", **overrides: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid4()),
        "claimant_id": "frivillig-7",
        "expense_date": day,
        "approved_at": f"{day}T10:00:00+01:00",
        "category": "reise",
        "amount": amount,
        "currency": "NOK",
        "description": "Tog Oslo–Bergen; retur",
    }
    body.update(overrides)
    return body
