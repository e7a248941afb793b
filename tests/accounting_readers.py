"""Strict readers of our accounting files, written the way the receiving systems read them.

`read_gl02` is a positional GL02 reader: it splits each line on `;` and nothing else (no
quote handling at all), so a quoted or shifted field fails here as it would in Xledger.
`read_with_definition` reads a journal file with nothing but a Business Central data exchange
definition: separator, encoding, header lines, column data types and formats, and the mapping
of columns to fields of table 81 "Gen. Journal Line" all come from the XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

GL02_FIELDS = 49
AMOUNT = re.compile(r"-?\d+\.\d\d")
CODE = re.compile(r"[^;\"\t\r\n]*")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Table 81 "Gen. Journal Line": field id -> (name, Code/Text length or None for other types).
TABLE_81 = {
    3: ("Account Type", None), 4: ("Account No.", 20), 5: ("Posting Date", None),
    7: ("Document No.", 20), 8: ("Description", 100), 12: ("Currency Code", 10),
    13: ("Amount", None), 16: ("Amount (LCY)", None), 24: ("Shortcut Dimension 1 Code", 20),
    25: ("Shortcut Dimension 2 Code", 20), 77: ("External Document No.", 35),
    91: ("VAT Prod. Posting Group", 20),
}
ACCOUNT_TYPE_CAPTIONS = {"G/L Account", "Customer", "Vendor", "Bank Account", "Fixed Asset",
                         "IC Partner", "Employee", "Allocation Account"}
SEPARATORS = {"1": "\t", "2": ";", "3": ",", "4": " "}
ENCODINGS = {"0": "cp865", "1": "utf-8-sig", "2": "utf-16", "3": "cp1252"}


class Refused(AssertionError):
    """The file would not go in: names the line and field like the receiving system would."""


def read_gl02(data: bytes, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Every line after the header as a dict, or Refused at the first line that breaks GL02."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise Refused("GL02 must not start with a byte order mark")
    text = data.decode("utf-8")
    if not text.endswith("\r\n"):
        raise Refused("every line ends with CRLF")
    lines = text[:-2].split("\r\n")
    if lines[0].split(";") != list(columns):
        raise Refused("the header names the GL02 columns in order")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(";")
        if len(fields) != GL02_FIELDS or fields[-1] != "x":
            raise Refused(f"line {number}: {len(fields)} fields, EOL {fields[-1]!r}")
        row = dict(zip(columns, fields, strict=True))
        _check_gl02(row, number)
        rows.append(row)
    return rows


def _check_gl02(row: dict[str, str], number: int) -> None:
    for name, value in row.items():
        if '"' in value or "\n" in value or "\t" in value:
            raise Refused(f"line {number}: {name} holds a quote, tab or line break")
        if value.startswith(FORMULA_START) and name not in ("Amount", "CurrencyAmount"):
            raise Refused(f"line {number}: {name} would start a spreadsheet formula")
    date(int(row["VoucherDate"][:4]), int(row["VoucherDate"][4:6]), int(row["VoucherDate"][6:]))
    if not row["VoucherNo"].isdigit() or len(row["VoucherNo"]) > 8:
        raise Refused(f"line {number}: VoucherNo")
    if not 0 < len(row["VoucherType"]) <= 8:
        raise Refused(f"line {number}: VoucherType longer than 8")
    if len(row["ImpSystemRef"]) > 25:
        raise Refused(f"line {number}: ImpSystemRef longer than 25")
    if not AMOUNT.fullmatch(row["Amount"]):
        raise Refused(f"line {number}: Amount {row['Amount']!r} is not a NOK amount")
    if bool(row["Currency"]) != bool(row["CurrencyAmount"]):
        raise Refused(f"line {number}: Currency and CurrencyAmount go together")
    if row["CurrencyAmount"] and not AMOUNT.fullmatch(row["CurrencyAmount"]):
        raise Refused(f"line {number}: CurrencyAmount")


@dataclass(frozen=True)
class ColumnDef:
    number: int
    name: str
    data_type: str
    data_format: str
    culture: str


def read_with_definition(data: bytes, definition: bytes) -> list[dict[str, Any]]:
    """Journal lines as {table 81 field name: value}, read only as the definition says."""
    root = ET.fromstring(definition)  # noqa: S314 - our own published definition
    exch = root.find("DataExchDef")
    line_def = exch.find("DataExchLineDef") if exch is not None else None
    mapping = line_def.find("DataExchMapping") if line_def is not None else None
    if exch is None or line_def is None or mapping is None or mapping.get("TableId") != "81":
        raise Refused("the definition maps a line definition onto table 81")
    if exch.get("Type") != "2" or exch.get("FileType") != "1":
        raise Refused("a payroll import of variable text")
    separator = SEPARATORS[exch.get("ColumnSeparator", "3")]
    text = data.decode(ENCODINGS[exch.get("FileEncoding", "3")])
    columns = {
        int(c.get("ColumnNo", "0")): ColumnDef(
            int(c.get("ColumnNo", "0")), c.get("Name", ""), c.get("DataType", "0"),
            c.get("DataFormat", ""), c.get("DataFormattingCulture", ""),
        )
        for c in line_def.findall("DataExchColumnDef")
    }
    fields = [
        (int(m.get("ColumnNo", "0")), int(m.get("FieldID", "0")), m.get("Optional") == "true")
        for m in mapping.findall("DataExchFieldMapping")
    ]
    lines = text.split("\r\n")
    if lines[-1] != "":
        raise Refused("the last line ends with CRLF")
    records = []
    for number, line in enumerate(lines[int(exch.get("HeaderLines", "0")):-1], start=1):
        values = line.split(separator)
        if len(values) != int(line_def.get("ColumnCount", "0")):
            raise Refused(f"line {number}: {len(values)} columns")
        record: dict[str, Any] = {}
        for column_no, field_id, optional in sorted(fields):
            value = values[column_no - 1]
            if value == "":
                if not optional:
                    raise Refused(f"line {number}, column {column_no}: the value is missing")
                continue
            name, length = TABLE_81[field_id]
            record[name] = _convert(columns[column_no], value, length, number)
        _check_journal_line(record, number)
        records.append(record)
    return records


def _convert(column: ColumnDef, value: str, length: int | None, number: int) -> Any:
    if column.data_type == "1":
        if column.data_format != "yyyy-MM-dd":
            raise Refused(f"unexpected date format {column.data_format}")
        return date.fromisoformat(value)
    if column.data_type == "2":
        if column.culture != "en-US" or not re.fullmatch(r"-?\d+(\.\d+)?", value):
            raise Refused(f"line {number}, column {column.number}: {value!r} is not a decimal")
        return Decimal(value)
    if length is not None and len(value) > length:
        raise Refused(f"line {number}: {column.name} longer than {length}")
    if not CODE.fullmatch(value) or value.startswith(FORMULA_START):
        raise Refused(f"line {number}: {column.name} holds a separator, quote or formula")
    return value


def _check_journal_line(record: dict[str, Any], number: int) -> None:
    account_type = record.setdefault("Account Type", "G/L Account")
    if account_type not in ACCOUNT_TYPE_CAPTIONS:
        raise Refused(f"line {number}: Account Type {account_type!r}")
    if "Amount (LCY)" in record and "Currency Code" not in record:
        raise Refused(f"line {number}: Amount (LCY) without a currency")
