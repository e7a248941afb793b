"""Streaming writers of the Bufdir report (xlsx or csv) and the zip bundle with attachments.

Rows arrive as an iterator and go straight to disk, so an export of tens of thousands of
activities never holds the whole report in memory (openpyxl write-only mode, csv module, zipfile).
"""

from __future__ import annotations

import csv
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from domain.bufdir_rules import Summary, SummaryLine
from domain.counting_rules import REASON_TEXT
from domain.municipalities import data_date
from domain.spreadsheet import safe_cell, safe_row

ACTIVITY_SHEET = "Aktiviteter"
SUMMARY_HEADERS = ["Kode", "Navn", "Aktiviteter", "Aktivitetsdager", "Deltakere"]
DATE_FORMAT = "DD.MM.YYYY"
CSV_DELIMITER = ";"
ATTACHMENTS_FOLDER = "vedlegg"
_UNSAFE = re.compile(r"[^\w .()+,-]", re.UNICODE)


def _header_row(sheet: WriteOnlyWorksheet, headers: list[str]) -> list[WriteOnlyCell]:
    bold = Font(bold=True)
    cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=safe_cell(header))
        cell.font = bold
        cells.append(cell)
    return cells


def _typed(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """Dates become real Excel dates shown as dd.mm.yyyy; text is neutralised (never a
    formula); everything else keeps its type."""
    value = safe_cell(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    return value


def _summary_sheet(
    book: Workbook, title: str, key_header: str, lines: list[SummaryLine], total: SummaryLine
) -> None:
    sheet = book.create_sheet(title)
    sheet.append(_header_row(sheet, [key_header, *SUMMARY_HEADERS[1:]]))
    for line in [*lines, total]:
        sheet.append(
            safe_row([line.key, line.name, line.activities, line.activity_days, line.participants])
        )


def _summary_sheets(book: Workbook, summary: Summary) -> None:
    """Per category, county and municipality; what did not count and why; what judged it."""
    total = summary.total
    categories = list(summary.by_category.values())
    _summary_sheet(book, "Per kategori", "Kategori", categories, total)
    _summary_sheet(book, "Per fylke", "Fylkesnummer", summary.by_county(), total)
    _summary_sheet(book, "Per kommune", "Kommunenummer", summary.by_municipality(), total)
    reasons = book.create_sheet("Ikke talt")
    reasons.append(_header_row(reasons, ["Årsakskode", "Forklaring", "Aktiviteter"]))
    for reason, count in summary.not_counted.items():
        reasons.append(safe_row([reason.value, REASON_TEXT[reason], count]))
    about = book.create_sheet("Om rapporten")
    about.append(_header_row(about, ["Opplysning", "Verdi"]))
    facts: list[list[Any]] = [
        ["Telleregler", f"{rules.name} (gjelder fra {rules.applies_from:%d.%m.%Y})"]
        for rules in summary.rule_sets.values()
    ]
    facts += [["Kommunedata (SSB)", data_date()], ["Aktiviteter i perioden", summary.rows],
              ["Talte aktiviteter", summary.counted], ["Aktivitetsdager", total.activity_days]]
    for fact in facts:
        about.append(safe_row(fact))


def write_xlsx(
    rows: Iterable[list[Any]], headers: list[str], summary: Summary, out_path: Path
) -> int:
    """Write the report; returns the number of activity rows. The summary sheets are written
    after the rows, so `summary` may be filled while `rows` is consumed."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(ACTIVITY_SHEET)
    sheet.append(_header_row(sheet, headers))
    count = 0
    for row in rows:
        sheet.append([_typed(sheet, v) for v in row])
        count += 1
    _summary_sheets(book, summary)
    book.save(out_path)
    return count


def _csv_value(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%d.%m.%Y")
    return "" if value is None else safe_cell(value)


def write_csv(
    rows: Iterable[list[Any]], headers: list[str], summary: Summary, out_path: Path
) -> int:
    """Write the activity rows as CSV; returns the row count.

    UTF-8 with BOM and `;` as separator: Excel with Norwegian locale opens that by double-click
    with æøå intact (comma is the decimal separator there). A CSV has one table, so the summary
    is not written; the xlsx format carries it.
    """
    del summary
    count = 0
    with out_path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=CSV_DELIMITER, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(safe_row(headers))
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
            count += 1
    return count


def safe_name(name: str, fallback: str = "fil") -> str:
    """A single path component: no separators, no '..', no control characters, max 120 chars."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or fallback


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}" if dot else f"{name} ({n})"
    taken.add(candidate.lower())
    return candidate


def bundle_zip(
    report_path: Path, attachments: Iterable[tuple[str, str, str]], out_path: Path
) -> int:
    """Zip the report at the top and each attachment under vedlegg/<activity id>/<name>.

    Names are made path-safe and unique per folder; returns the number of attachments.
    """
    count = 0
    taken: dict[str, set[str]] = {}
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(report_path, arcname=safe_name(report_path.name, "rapport"))
        for activity_id, name, path in attachments:
            folder = safe_name(str(activity_id), "ukjent")
            arcname = _unique(safe_name(name), taken.setdefault(folder, set()))
            info = zipfile.ZipInfo(f"{ATTACHMENTS_FOLDER}/{folder}/{arcname}")
            info.compress_type = zipfile.ZIP_DEFLATED
            with Path(path).open("rb") as src, bundle.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            count += 1
    return count


class BufdirFileWriter:
    """The ReportWriter port (application.ports) over the functions above."""

    def write(
        self,
        fmt: str,
        rows: Iterable[list[Any]],
        headers: list[str],
        summary: Summary,
        out_path: Path,
    ) -> int:
        writer = write_xlsx if fmt == "xlsx" else write_csv
        return writer(rows, headers, summary, out_path)

    def bundle(
        self, report_path: Path, attachments: Iterable[tuple[str, str, str]], out_path: Path
    ) -> int:
        return bundle_zip(report_path, attachments, out_path)
