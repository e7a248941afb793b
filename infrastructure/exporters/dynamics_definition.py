"""The data exchange definition Business Central imports to read our journal file.

The XML has the shape of XMLport 1225 "Imp / Exp Data Exch Def & Map" (what the "Data Exchange
Definitions" page's Import action reads) and the attributes of Microsoft's own payroll
definition for Norway (codeunit 10609 "Payroll Integration (NO)"): type Payroll Import, variable
text read by XMLport 1220 "Data Exch. Import - CSV", mapped onto table 81 "Gen. Journal Line".
Business Central validates mapped fields in column order, so the columns are in the order
the journal line needs them: account type before account, account before description (which
the account would otherwise fill), currency before amount before amount (LCY).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

CODE = "EXPORT-SERVICE"  # Data Exch. Def Code: Code[20]
NAME = "export-service: refusjon av utlegg"
LINE_CODE = "JOURNAL"
SEPARATOR = ";"
#: Enum values as table 1222 "Data Exch. Def" and table 1223 "Data Exch. Column Def" define them.
TYPE_PAYROLL_IMPORT = 2
FILE_TYPE_VARIABLE_TEXT = 1
COLUMN_SEPARATOR_SEMICOLON = 2
FILE_ENCODING_UTF8 = 1
DATA_TYPE = {"text": 0, "date": 1, "decimal": 2}
XMLPORT_IMPORT_CSV = 1220
CODEUNIT_READ_FROM_FILE = 1240
CODEUNIT_PROCESS_GEN_JOURNAL_LINES = 1247
GEN_JOURNAL_LINE = 81
DATE_FORMAT = "yyyy-MM-dd"  # .NET format for TryParseExact
CULTURE = "en-US"  # decimal point, as the file writes amounts


@dataclass(frozen=True)
class Column:
    name: str
    field_id: int  # table 81 "Gen. Journal Line"
    kind: str = "text"
    optional: bool = True

    @property
    def overwrite(self) -> bool:
        """Text and code fields replace what validation filled in before (the account's name
        in Description, default dimensions) instead of being appended to it."""
        return self.kind == "text"


DEFINITION: tuple[Column, ...] = (
    Column("AccountType", 3),  # blank: G/L Account, the import's default
    Column("AccountNo", 4, optional=False),
    Column("PostingDate", 5, "date", optional=False),
    Column("DocumentNo", 7),  # blank: the batch's number series
    Column("ExternalDocumentNo", 77),  # blank on the counter line of several claims
    Column("Description", 8),
    Column("CurrencyCode", 12),
    Column("Amount", 13, "decimal", optional=False),
    Column("AmountLCY", 16, "decimal"),
    Column("VATProdPostingGroup", 91),
    Column("ShortcutDimension1Code", 24),
    Column("ShortcutDimension2Code", 25),
)
COLUMNS: tuple[str, ...] = tuple(c.name for c in DEFINITION)


def _attrs(**values: object) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in values.items())


def _column_def(number: int, column: Column) -> str:
    extra: dict[str, object] = {}
    if column.kind == "date":
        extra = {"DataFormat": DATE_FORMAT, "DataFormattingCulture": CULTURE}
    elif column.kind == "decimal":
        extra = {"DataFormattingCulture": CULTURE}
    attrs = _attrs(
        ColumnNo=number, Name=column.name, Show="false", DataType=DATA_TYPE[column.kind],
        **extra, TextPaddingRequired="false", Justification=0,
    )
    return f"      <DataExchColumnDef {attrs} />"


def _field_mapping(number: int, column: Column) -> str:
    extra: dict[str, object] = {}
    if column.optional:
        extra["Optional"] = "true"
    if column.overwrite:
        extra["OverwriteValue"] = "true"
    return f"        <DataExchFieldMapping {_attrs(ColumnNo=number, FieldID=column.field_id, **extra)} />"


def definition_xml() -> bytes:
    """The definition, byte for byte the same on every call (it is a published artefact)."""
    header = _attrs(
        Code=CODE, Name=NAME, Type=TYPE_PAYROLL_IMPORT,
        ReadingWritingXMLport=XMLPORT_IMPORT_CSV, ExternalDataHandlingCodeunit=CODEUNIT_READ_FROM_FILE,
        HeaderLines=1, ColumnSeparator=COLUMN_SEPARATOR_SEMICOLON, FileEncoding=FILE_ENCODING_UTF8,
        FileType=FILE_TYPE_VARIABLE_TEXT,
    )
    line = _attrs(LineType=0, Code=LINE_CODE, Name=LINE_CODE, ColumnCount=len(DEFINITION))
    mapping = _attrs(
        TableId=GEN_JOURNAL_LINE, Name="", MappingCodeunit=CODEUNIT_PROCESS_GEN_JOURNAL_LINES
    )
    numbered = list(enumerate(DEFINITION, start=1))
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        "<root>",
        f"  <DataExchDef {header}>",
        f"    <DataExchLineDef {line}>",
        *(_column_def(n, c) for n, c in numbered),
        f"      <DataExchMapping {mapping}>",
        *(_field_mapping(n, c) for n, c in numbered),
        "      </DataExchMapping>",
        "    </DataExchLineDef>",
        "  </DataExchDef>",
        "</root>",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
