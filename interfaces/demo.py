"""Demo data for NHF, Blindeforbundet and HLF, loaded once into an embedded installation."""

from __future__ import annotations

import os
import random
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from application.ports import ClaimRecord, PeriodTaken
from bootstrap import Services
from domain.export_run import ExportTarget
from domain.shared import Actor, Period
from interfaces.demo_bufdir import load_bufdir_demo
from interfaces.http.auth import Role, mint


@dataclass(frozen=True)
class DemoOrg:
    org_id: UUID
    name: str
    short: str
    target: str


ORGS = [
    DemoOrg(UUID("a1f0c9e2-5b1d-4c8e-9f3a-000000000001"), "Norges Handikapforbund", "NHF", "xledger"),
    DemoOrg(UUID("a1f0c9e2-5b1d-4c8e-9f3a-000000000002"), "Blindeforbundet", "Blindeforbundet", "xledger"),
    DemoOrg(UUID("a1f0c9e2-5b1d-4c8e-9f3a-000000000003"), "Hørselshemmedes Landsforbund", "HLF", "dynamics"),
]

CATEGORIES = {
    "reise": ("Togbillett til {place}", 180, 1450),
    "kjoregodtgjorelse": ("Kjøregodtgjørelse {km} km, likepersonsbesøk", 90, 900),
    "bevertning": ("Bevertning, samtalegruppe i {place}", 150, 1200),
    "materiell": ("Materiell til kurs; kopiering og porto", 60, 650),
    "parkering": ("Parkering ved {place} sykehus", 40, 260),
}
#: Set once the demo data is loaded: later starts leave the data as the users changed it.
DEMO_FLAG = "demo_data"
PLACES = ["Tromsø", "Bodø", "Trondheim", "Ålesund", "Bergen", "Stavanger", "Kristiansand", "Hamar"]

def demo_settings(org: DemoOrg) -> dict[str, object]:
    """NS 4102 accounts: 7140 travel, 7100 mileage, 6860 meetings, 6560 supplies; 2930 owed."""
    dimension = {"NHF": "300", "Blindeforbundet": "BF-LIKEPERSON", "HLF": "HLF-REGION"}[org.short]
    return {
        "company_code": {"NHF": "NHF01", "Blindeforbundet": "NBF", "HLF": "HLF-AS"}[org.short],
        "voucher_type": "UTL" if org.target == "xledger" else "UTLEGG",
        "counter_account": "2930",
        "categories": {
            "reise": {"account": "7140", "tax_code": "0", "dimension": dimension},
            "kjoregodtgjorelse": {"account": "7100", "tax_code": "0", "dimension": dimension},
            "bevertning": {"account": "6860", "tax_code": "0", "dimension": None},
            "materiell": {"account": "6560", "tax_code": "1", "dimension": None},
            "parkering": {"account": "7140", "tax_code": "0", "dimension": dimension},
        },
        "voucher_grouping": "per_claim",
    }


def demo_claims(org: DemoOrg, today: date, count: int = 40) -> list[ClaimRecord]:
    rng = random.Random(org.short)  # noqa: S311 - demo data, reproducible on purpose
    claims = []
    for i in range(count):
        category = rng.choice(sorted(CATEGORIES))
        text, low, high = CATEGORIES[category]
        approved_day = today - timedelta(days=rng.randint(1, 90))
        expense_day = approved_day - timedelta(days=rng.randint(0, 20))
        approved = datetime.combine(approved_day, time(rng.randint(8, 15), rng.randint(0, 59)), UTC)
        claims.append(
            ClaimRecord(
                id=uuid5(NAMESPACE_URL, f"demo:{org.short}:claim:{i}"),
                claimant_id=f"{org.short.lower()}-frivillig-{rng.randint(1, 12):03d}",
                expense_date=expense_day,
                approved_at=approved,
                category=category,
                amount=str(Decimal(rng.randint(low * 100, high * 100)) / 100),
                currency="NOK",
                description=text.format(place=rng.choice(PLACES), km=rng.randint(12, 240)),
            )
        )
    return claims


def load_demo(services: Services) -> bool:
    """Load once; later starts find the flag and leave the data as the users changed it.

    Every step is an upsert or records nothing when unchanged, so a start that died half-way
    simply loads again; the flag is set last."""
    if services.flags.is_set(DEMO_FLAG):
        return False
    today = datetime.now(UTC).date()
    for org in ORGS:
        actor = Actor("demo-loader", org.org_id, "demo-data")
        services.app.source_data.import_claims(org.org_id, demo_claims(org, today))
        services.accounting_settings.configure(org.org_id, demo_settings(org), actor)
        load_bufdir_demo(services, org)
        # The accounting sync runs monthly, exporting the month that just closed.
        services.app.sync_schedules.put(
            org.org_id, org.target, "0 6 2 * *", "Europe/Oslo", "previous_month", actor
        )
        # What that sync did last month, so the overview, a file and the audit trail are
        # there to look at (the worker of `serve` carries it out).
        with suppress(PeriodTaken):  # an earlier start that died before the flag did it
            services.export_runs.request_export(
                org.org_id, last_closed_month(today), ExportTarget(org.target), actor)
    services.flags.set(DEMO_FLAG)
    return True


def last_closed_month(today: date) -> Period:
    end = today.replace(day=1) - timedelta(days=1)
    return Period(end.replace(day=1), end)


def write_demo_tokens(services: Services) -> Path:
    """Every demo role's token in `<data dir>/demo-tokens.txt`, readable by the owner only."""
    path = services.settings.data_dir / "demo-tokens.txt"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        for org in ORGS:
            out.write(f"{org.name} ({org.short}), org_id {org.org_id}:\n")
            for role in Role:
                token = mint(services.jwt_secret, f"demo-{role.value}", org.org_id, role, 24 * 3600)
                out.write(f"  {role.value:<12} {token}\n")
    return path.resolve()


def print_welcome(services: Services, host: str, port: int, loaded: bool) -> None:
    """Sign-in help. Tokens are secrets: printed only in pure demo mode (the service made its
    own key), and then only the coordinators'; every role's token goes to a 0600 file."""
    base = f"http://{host}:{port}"
    state = "Loaded demo data" if loaded else "Demo data was loaded on an earlier start"
    lines = ["", f"export-service: {state} for NHF, Blindeforbundet and HLF.", f"  API docs: {base}/docs"]
    pure_demo = services.settings.embedded and services.settings.jwt_secret is None
    if pure_demo:  # one link for the pages: a one-time code, never the token in the URL
        coordinator = mint(services.jwt_secret, "demo-coordinator", ORGS[0].org_id,
                           Role.COORDINATOR, 24 * 3600)
        link = f"{base}/sign-in/code/{services.app.sign_in.issue(coordinator)}"
        lines.append(f"  Sign in as the {ORGS[0].short} demo coordinator (link works once): {link}")
    lines.append("")
    if pure_demo:
        token_file = write_demo_tokens(services)
        for org in ORGS:
            lines.append(f"{org.name} ({org.short}), org_id {org.org_id}:")
            token = mint(services.jwt_secret, "demo-coordinator", org.org_id, Role.COORDINATOR,
                         24 * 3600)
            lines.append(f"  {Role.COORDINATOR.value:<12} {token}")
            lines.append("")
        lines.append(f"Tokens for every role (valid 24 hours): {token_file}")
    else:
        for org in ORGS:
            lines.append(f"{org.name} ({org.short}), org_id {org.org_id}")
        lines.append("The signing key was given: mint a token with "
                     "`export-service token --org <org_id> --role coordinator`.")
    lines.append("")
    example = ORGS[0]
    today = datetime.now(UTC).date()  # this month so far: the last closed one is exported
    body = (f'{{"period_start": "{today.replace(day=1)}", "period_end": "{today}", '
            '"target": "xledger"}')
    lines.append("Try:")
    lines.append(
        f"  curl -X POST {base}/v1/orgs/{example.org_id}/export-runs "
        "-H 'Authorization: Bearer <coordinator token>' -H 'Content-Type: application/json' "
        f"-d '{body}'"
    )
    print("\n".join(lines), flush=True)
