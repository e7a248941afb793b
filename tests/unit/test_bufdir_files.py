"""The report files open in the tools people use, with types and Norwegian letters intact."""

import csv
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from domain.bufdir_config import DEFAULT_CONFIG
from domain.bufdir_rules import Summary, decide, map_row
from infrastructure.bufdir_files import bundle_zip, safe_name, write_csv, write_xlsx

ACTIVITIES: list[dict[str, Any]] = [
    {"id": "a1", "date": date(2024, 3, 5), "activity_type": "gruppemøte", "participants": 4,
     "municipality": "3101", "description": "Møte i Ørje «blåbær» æøå ÆØÅ", "duration_minutes": 60},
    {"id": "a2", "date": date(2024, 3, 6), "activity_type": "besøk", "participants": 1,
     "municipality": "5501", "description": "Besøk på Tromsøya", "duration_minutes": None,
     "contact_mode": "in_person"},
    {"id": "a3", "date": date(2024, 3, 7), "activity_type": "besøk", "participants": 1,
     "municipality": "5401", "description": "Besøk, gammelt nummer", "contact_mode": "phone"},
]
HEADERS = ["ID", "Dato", "Deltakere", "Beskrivelse", "Årsak"]


def rows() -> list[list[Any]]:
    return [[a["id"], a["date"], a["participants"], a["description"], None] for a in ACTIVITIES]


def summary() -> Summary:
    s = Summary()
    for a in ACTIVITIES:
        s.add(a, decide(a, DEFAULT_CONFIG))
    return s


def test_xlsx_has_typed_cells_and_summary_sheets(tmp_path: Path) -> None:
    out = tmp_path / "rapport.xlsx"
    assert write_xlsx(iter(rows()), HEADERS, summary(), out) == 3
    book = load_workbook(out)
    assert book.sheetnames == ["Aktiviteter", "Per kategori", "Per fylke", "Per kommune",
                               "Ikke talt", "Om rapporten"]
    sheet = list(book["Aktiviteter"].iter_rows(values_only=True))
    assert list(sheet[0]) == HEADERS
    assert sheet[1][1] == datetime(2024, 3, 5)
    assert isinstance(sheet[1][2], int)
    assert sheet[1][3] == "Møte i Ørje «blåbær» æøå ÆØÅ"
    counties = list(book["Per fylke"].iter_rows(values_only=True))
    assert counties[0][0] == "Fylkesnummer"
    assert ("31", "Østfold", 1, 1, 4) in counties
    assert counties[-1][1:] == ("Totalt", 2, 2, 5)
    categories = list(book["Per kategori"].iter_rows(values_only=True))
    assert [c[0] for c in categories[1:4]] == ["oppsøkende likepersonsarbeid",
                                               "samtale- og aktivitetsgruppe", "likepersonskurs"]
    assert categories[1][2:] == (1, 1, 1) and categories[3][2:] == (0, 0, 0)
    reasons = {r[0]: r[2] for r in book["Ikke talt"].iter_rows(min_row=2, values_only=True)}
    assert reasons["not_in_person"] == 1 and reasons["too_short"] == 0
    about = dict(book["Om rapporten"].iter_rows(min_row=2, values_only=True))
    assert str(about["Telleregler"]).startswith("Bufdir likepersonsarbeid")
    assert str(about["Kommunedata (SSB)"]).startswith("2024-01-01")


def test_configured_rows_go_straight_into_the_sheet(tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    mapped = (map_row(a, DEFAULT_CONFIG) for a in ACTIVITIES)
    write_xlsx(mapped, DEFAULT_CONFIG.headers, summary(), out)
    values = list(load_workbook(out)["Aktiviteter"].iter_rows(values_only=True))
    assert values[0][-1] == "Forklaring"
    assert values[2][DEFAULT_CONFIG.headers.index("Kommune")] == "Tromsø"
    assert values[3][DEFAULT_CONFIG.headers.index("Rapportert kommunenummer")] == "5501"
    assert values[3][DEFAULT_CONFIG.headers.index("Årsakskode")] == "not_in_person"


def test_csv_round_trips_with_bom_and_semicolons(tmp_path: Path) -> None:
    out = tmp_path / "rapport.csv"
    assert write_csv(iter(rows()), HEADERS, summary(), out) == 3
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as f:
        back = list(csv.reader(f, delimiter=";"))
    assert back[0] == HEADERS
    assert back[1] == ["a1", "05.03.2024", "4", "Møte i Ørje «blåbær» æøå ÆØÅ", ""]


def test_zip_has_report_and_attachments_per_activity(tmp_path: Path) -> None:
    report = tmp_path / "rapport.xlsx"
    report.write_bytes(b"report")
    files = []
    names = ["kvittering.pdf", "../../etc/passwd", "kvittering.pdf", "bilde æ.png"]
    for i, name in enumerate(names):
        path = tmp_path / f"src{i}"
        path.write_bytes(name.encode())
        files.append(path)
    attachments = [
        ("a1", "kvittering.pdf", str(files[0])),
        ("a1", "../../etc/passwd", str(files[1])),
        ("a1", "kvittering.pdf", str(files[2])),
        ("../a2", "bilde æ.png", str(files[3])),
    ]
    out = tmp_path / "bundle.zip"
    assert bundle_zip(report, attachments, out) == 4
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert names == [
            "rapport.xlsx",
            "vedlegg/a1/kvittering.pdf",
            "vedlegg/a1/passwd",
            "vedlegg/a1/kvittering (2).pdf",
            "vedlegg/a2/bilde æ.png",
        ]
        assert z.read("vedlegg/a1/passwd") == b"../../etc/passwd"


def test_safe_name() -> None:
    assert safe_name("..") == "fil"
    assert safe_name("a\x00b/c:d*.txt") == "c_d_.txt"
    assert len(safe_name("x" * 300 + ".pdf")) == 120
    assert safe_name("x" * 300 + ".pdf").endswith(".pdf")
