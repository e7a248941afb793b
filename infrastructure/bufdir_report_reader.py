"""Reads back the activity rows of a stored Bufdir report (xlsx, csv, or the report inside its
zip bundle), so what a page or client is shown is exactly what the export wrote."""

from __future__ import annotations

import codecs
import csv
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any, BinaryIO

from openpyxl import load_workbook

from infrastructure.bufdir_files import ACTIVITY_SHEET, ATTACHMENTS_FOLDER, CSV_DELIMITER


def _text(value: Any) -> str:
    """A cell as the report shows it: dates as dd.mm.yyyy (as in the csv), empty as ''."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    text = codecs.getreader("utf-8-sig")(stream)
    yield from csv.reader(text, delimiter=CSV_DELIMITER)


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    book = load_workbook(stream, read_only=True, data_only=True)
    try:
        sheet = book[ACTIVITY_SHEET] if ACTIVITY_SHEET in book.sheetnames else book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_text(v) for v in row]
    finally:
        book.close()


def _report_in(bundle: zipfile.ZipFile) -> tuple[str, str]:
    """The report's name and format: the one file at the top of the bundle."""
    for name in bundle.namelist():
        if "/" in name or name.startswith(ATTACHMENTS_FOLDER):
            continue
        ext = name.rsplit(".", 1)[-1].lower()
        if ext in ("xlsx", "csv"):
            return name, ext
    raise ValueError("the bundle holds no report")


class BufdirReportReader:
    """The ReportReader port (application.ports): header row first, then one row per activity,
    every cell as text. The stored file is copied to a spooled temporary file first (zip and
    xlsx need to seek; an object store's stream may not)."""

    def rows(self, stream: BinaryIO, fmt: str) -> Iterator[list[str]]:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as local:
            shutil.copyfileobj(stream, local, 1024 * 1024)
            local.seek(0)
            if fmt == "zip":
                with zipfile.ZipFile(local) as bundle:
                    name, inner = _report_in(bundle)
                    with bundle.open(name) as report:
                        if inner == "csv":
                            yield from _csv_rows(report)
                        else:
                            with tempfile.SpooledTemporaryFile(8 * 1024 * 1024) as sheet:
                                shutil.copyfileobj(report, sheet, 1024 * 1024)
                                sheet.seek(0)
                                yield from _xlsx_rows(sheet)
            elif fmt == "csv":
                yield from _csv_rows(local)
            else:
                yield from _xlsx_rows(local)
