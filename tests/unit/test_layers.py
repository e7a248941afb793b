"""Imports point inward: interfaces -> application -> domain; infrastructure implements ports;
SQL lives in the named queries of infrastructure/sql, nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.unit.source_tree import parse

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": {"application", "infrastructure", "interfaces", "bootstrap", "fastapi", "psycopg",
               "procrastinate"},
    "application": {"infrastructure", "interfaces", "bootstrap", "fastapi", "psycopg",
                    "procrastinate"},
    "infrastructure": {"interfaces", "bootstrap", "fastapi"},
    # Entry points get everything wired from bootstrap, the one composition root.
    "interfaces": {"infrastructure", "psycopg", "psycopg_pool"},
    # Routers and pages see application services only: not even the composition root.
    "interfaces/http": {"infrastructure", "bootstrap"},
    "interfaces/pages": {"infrastructure", "bootstrap"},
}


def imported_roots(path: Path) -> set[str]:
    tree = parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inward(layer: str) -> None:
    files = list((ROOT / layer).rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN[layer]) for f in files
    }
    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_routers_get_application_services_only() -> None:
    """What a router can reach (its `ServicesDep`) holds use cases of application/, never an
    adapter: adding one there fails here."""
    import typing

    from application.services import ApplicationServices
    from interfaces.http.deps import ServicesDep

    assert typing.get_args(ServicesDep)[0] is ApplicationServices
    hints = typing.get_type_hints(ApplicationServices)
    assert hints
    outside = {name: t.__module__ for name, t in hints.items()
               if not t.__module__.startswith("application.")}
    assert outside == {}



#: The service's code (benchmarks measure raw PostgreSQL beside it on purpose; tests set up
#: data as they need).
SOURCES = ("domain", "application", "infrastructure", "interfaces", "bootstrap.py")
#: A string that reads as a statement: starts with a SQL command, or holds a statement's frame.
STATEMENT = re.compile(
    r"^\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|REVOKE|GRANT|CALL|LOCK"
    r"|TRUNCATE|COPY|LISTEN|NOTIFY|VACUUM|ANALYZE)\s"
    r"|\b(INSERT INTO|DELETE FROM|UPDATE \w+ SET|ON CONFLICT)\b|\bSELECT\b[^;]*\bFROM\b",
    re.MULTILINE,
)


def inline_sql(source: str) -> list[str]:
    """`line: text` of every string literal (docstrings aside) that reads as SQL, and of
    every `noqa: S608` (ruff's "SQL built from strings")."""
    tree = parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = [
        f"{node.lineno}: {node.value.strip()[:60]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings and STATEMENT.search(node.value)
    ]
    found += [f"{n}: noqa S608" for n, line in enumerate(source.splitlines(), 1) if "S608" in line]
    return sorted(found)


def test_the_sql_check_finds_inline_queries_and_spares_prose() -> None:
    source = (
        '"""Reads rows; SELECT in a docstring is prose."""\n'
        'A = "SELECT id FROM runs WHERE org_id = %s"\n'
        'B = f"UPDATE {table} SET status = %s"  # noqa: S608\n'
        'C = ("INSERT INTO claims (id) "\n     "VALUES (%s)")\n'
        'D = "Select a period, then press Start"\n'
        'E = "sync already running"\n'
    )
    assert [hit.split(":")[0] for hit in inline_sql(source)] == ["2", "3", "3", "4"]


def test_sql_lives_in_named_queries() -> None:
    """New SQL goes into `infrastructure/sql/<adapter>.sql` (identifiers composed with
    psycopg.sql where they vary), never into a Python string."""
    files = [ROOT / "bootstrap.py"] + [
        f for layer in SOURCES[:-1] for f in (ROOT / layer).rglob("*.py")
    ]
    found = {
        rel: hits
        for f in files
        if not (rel := str(f.relative_to(ROOT))).startswith("infrastructure/sql/")
        and (hits := inline_sql(f.read_text(encoding="utf-8")))
    }
    assert found == {}
