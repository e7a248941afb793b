"""Demo Bufdir data: each demo organisation's configuration and a few hundred activities."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from application.activities import ActivityRecord
from domain.bufdir_config import DEMO_CONFIGS
from domain.municipalities import is_valid_municipality
from domain.shared import Actor

#: Municipalities in force today (checked when the data is built), by the places the demo uses.
MUNICIPALITIES = ["0301", "4601", "5001", "1103", "1804", "3403", "5501", "4204", "3201"]
DESCRIPTIONS = {
    "likepersonsamtale": "Likepersonsamtale med nytt medlem ({mode})",
    "kurs": "Likepersonskurs: opplæring av nye likepersoner, del {n}",
    "gruppemøte": "Samtalegruppe på frivilligsentralen",
    "besøk": "Hjemmebesøk hos medlem",
    "arrangement": "Medlemsmøte med foredrag",
    "tilgjengelighetsbefaring": "Befaring av universell utforming, rådhuset",
    "ledsagertjeneste": "Ledsaging til lege og apotek",
    "hørselstekniske_kurs": "Opplæring av hørselstekniske likepersoner: høreapparat og teleslynge",
}
ONE_TO_ONE = ("likepersonsamtale", "besøk", "ledsagertjeneste")
COURSES = ("kurs", "hørselstekniske_kurs")
MODES = {"in_person": "fremmøte", "phone": "telefon", "video": "video"}


class Org(Protocol):
    @property
    def org_id(self) -> UUID: ...

    @property
    def short(self) -> str: ...


def demo_activities(org: Org, today: date, count: int = 240) -> list[ActivityRecord]:
    rng = random.Random(f"bufdir:{org.short}")  # noqa: S311 - demo data, reproducible
    config = DEMO_CONFIGS[org.short]
    types = sorted(config.activity_types)
    places = [m for m in MUNICIPALITIES if is_valid_municipality(m, today)] or ["0301"]
    out = []
    for i in range(count):
        kind = rng.choice(types)
        day = today - timedelta(days=rng.randint(3, 180))
        group = kind in ("gruppemøte", "arrangement", *COURSES)
        extra: dict[str, Any] = {}
        if kind in COURSES and rng.random() > 0.05:
            extra["course_name"] = f"{config.activity_types[kind].label} {day:%B %Y}"
        if kind == "ledsagertjeneste" and rng.random() > 0.05:
            extra["escort_name"] = f"Frivillig {rng.randint(1, 30)}"
        # Visits happen in person; conversations sometimes by phone or video (not counted).
        mode = None
        if kind in ONE_TO_ONE:
            mode = "in_person" if kind != "likepersonsamtale" else rng.choice(
                ["in_person", "in_person", "phone", "video"])
        days = rng.choice([1, 1, 1, 2, 3]) if kind in COURSES else 1
        out.append(
            ActivityRecord(
                id=f"{org.short.lower()}-akt-{i:04d}",
                date=day,
                end_date=day + timedelta(days=days - 1) if days > 1 else None,
                activity_type=kind,
                participants=rng.randint(2, 25) if group else 1,
                municipality=rng.choice(places),
                description=DESCRIPTIONS.get(kind, kind).format(
                    n=rng.randint(1, 4), mode=MODES.get(mode or "", "")),
                duration_minutes=(rng.choice([30, 45, 60, 90, 120, 180]) * days
                                  if group or rng.random() > 0.3 else None),
                contact_mode=mode,
                extra=extra,
            )
        )
    return out


def load_bufdir_demo(services: Any, org: Org) -> None:
    """The organisation's demo configuration as version 1, then its activities."""
    if org.short in DEMO_CONFIGS:
        actor = Actor("demo-loader", org.org_id, "demo-data")
        services.bufdir_config.configure(org.org_id, DEMO_CONFIGS[org.short], actor)
        services.app.source_data.import_activities(org.org_id, demo_activities(org, datetime.now(UTC).date()))
