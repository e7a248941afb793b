"""One-pass exports: an execution renders the file from the claims it just took, without
reading its events back, so that file must be byte for byte the one its stored events render
(decoded from PostgreSQL); and the claim source's columns must be the claims, field for field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from application.export_runs import TakenClaims
from application.ports import ClaimRecord
from bootstrap import Services, SystemClock
from domain.export_run import (
    CLAIMS_PER_EVENT,
    ExportRunStatus,
    ExportTarget,
    claim_columns,
    taken_batch,
)
from domain.shared import Actor, Period
from interfaces.demo import ORGS, demo_settings
from tests.unit.fakes import fake_services

DECEMBER = Period(date(2024, 12, 1), date(2024, 12, 31))
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
TEXTS = [
    'Tog Oslo–Bergen; retur "Bergensbanen"', "=SUM(A1:A9) kursmateriell", "Middag\tmed\nteam",
    "  mellomrom  ", "", "Ærlig øl på Åsane ✓ 𝄞", "x" * 400, "+47 ring meg", "@bruker", "-5",
]
AMOUNTS = ["1234.50", "0.01", "99999999.99", "10.005", "7", "0.3", "12.345", "1000000.10"]


def claims(count: int, first: datetime) -> list[ClaimRecord]:
    """Claims with every awkward text and amount, a few in another currency."""
    out = []
    for i in range(count):
        foreign = i % 11 == 3
        out.append(ClaimRecord(
            uuid4(), f"frivillig-{i % 13}", date(2025, 1, 1 + i % 28),
            first + timedelta(seconds=37 * i, microseconds=(i % 3) * 1500),
            ["reise", "bevertning", "materiell", "parkering"][i % 4], AMOUNTS[i % len(AMOUNTS)],
            "EUR" if foreign else "NOK", TEXTS[i % len(TEXTS)],
            amount_nok=f"{1 + i % 500}.{i % 100:02d}" if foreign else None,
        ))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("target", [ExportTarget.XLEDGER, ExportTarget.DYNAMICS])
@pytest.mark.parametrize("grouping", ["per_claim", "per_claimant"])
def test_the_file_rendered_as_taken_is_the_file_its_stored_events_render(
    services: Services, target: ExportTarget, grouping: str
) -> None:
    org = uuid4()
    actor = Actor("coordinator", org, "one-pass")
    services.accounting_settings.configure(
        org, {**demo_settings(ORGS[0]), "voucher_grouping": grouping}, actor)
    runs = services.export_runs
    # December is exported first, so a claim approved in December afterwards comes late.
    services.claims.upsert(org, claims(3, datetime(2024, 12, 5, 9, tzinfo=UTC)))
    december = runs.request_export(org, DECEMBER, target, actor)
    assert runs.execute(december) is ExportRunStatus.COMPLETED
    late = claims(2, datetime(2024, 12, 20, 23, 30, tzinfo=UTC))
    fresh = claims(CLAIMS_PER_EVENT + 7, datetime(2025, 1, 1, 0, 5, tzinfo=UTC))  # two batches
    services.claims.upsert(org, late + fresh[:CLAIMS_PER_EVENT])
    services.claims.upsert(org, fresh[CLAIMS_PER_EVENT:])

    run_id = runs.request_export(org, JANUARY, target, actor)
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    run = services.store.get(run_id)
    assert run.record_count == len(late) + len(fresh)
    with services.files.open(run.file["path"]) as f:
        written = f.read()

    exporter = services.app.export_runs.exporters.for_target(target.value)
    from_events = b"".join(exporter.render(
        run, TakenClaims(services.store, run_id), runs.settings_of(org)))
    assert written == from_events
    taken = list(TakenClaims(services.store, run_id))
    assert sum(c["late"] for c in taken) == len(late)
    assert {c["claim_id"] for c in taken} == {str(c.id) for c in late + fresh}


@pytest.fixture(params=["fake", "postgres"])
def wired(request: pytest.FixtureRequest) -> Iterator[Services]:
    if request.param == "fake":
        yield fake_services(clock=SystemClock())
    else:
        yield request.getfixturevalue("services")


def batches_from_records(services: Services, org: UUID) -> list[dict[str, list[object]]]:
    records = services.claims.candidates(org, JANUARY.start, JANUARY.end)
    return list(claim_columns(c.as_event_data() for c in records))


def test_candidate_columns_are_the_candidates_in_event_form(wired: Services) -> None:
    org = uuid4()
    wired.claims.upsert(org, claims(23, datetime(2025, 1, 3, 7, 59, 59, 250, tzinfo=UTC)))
    wired.claims.upsert(uuid4(), claims(4, datetime(2025, 1, 3, tzinfo=UTC)))  # another org
    columns = list(wired.claims.candidate_columns(org, JANUARY.start, JANUARY.end, 10))
    assert [len(c["claim_id"]) for c in columns] == [10, 10, 3]
    merged = list(claim_columns(
        dict(zip(c, values, strict=True)) for c in (taken_batch(b) for b in columns)
        for values in zip(*c.values(), strict=True)))
    assert merged == batches_from_records(wired, org)
    assert list(wired.claims.candidate_columns(uuid4(), JANUARY.start, JANUARY.end, 10)) == []
