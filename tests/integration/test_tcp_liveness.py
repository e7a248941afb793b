"""Every connection the service opens carries libpq's TCP liveness settings, so a database that
went silent (no reset, no close: a partition) is noticed in about 30 s instead of hanging a
request or a worker's LISTEN for the kernel's quarter of an hour."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from bootstrap import Services
from infrastructure.availability import readiness_of
from infrastructure.database import TCP_LIVENESS
from infrastructure.projections.runner import ProjectionSupervisor


def carries_liveness(conn: Any) -> None:
    parameters = conn.info.get_parameters()
    assert {k: parameters.get(k) for k in TCP_LIVENESS} == {
        k: str(v) for k, v in TCP_LIVENESS.items()}


def test_the_service_pool_the_event_log_and_the_read_models_connect_with_liveness(
        services: Services) -> None:
    with services.pool.connection() as conn:
        carries_liveness(conn)
    with services.event_log.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        carries_liveness(conn)
    supervisor = ProjectionSupervisor(services.env, names=["export_runs"])
    supervisor.start()
    try:
        runner = supervisor.runners["export_runs"]
        carries_liveness(runner.open())
    finally:
        supervisor.stop()


def test_the_queue_and_the_readiness_check_connect_with_liveness(
        services: Services, monkeypatch: Any) -> None:
    async def queue_connection() -> None:
        queue = services.queue()
        async with queue.open_async():
            pool = queue.connector._async_pool  # type: ignore[attr-defined]
            async with pool.connection() as conn:
                carries_liveness(conn)

    asyncio.run(queue_connection())
    seen: list[str] = []
    connect = psycopg.connect

    def recording(conninfo: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(conninfo)
        return connect(conninfo, *args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", recording)
    readiness_of(services.database_url, None)()
    assert seen and all("tcp_user_timeout=30000" in c for c in seen), seen
