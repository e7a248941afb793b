"""Imports point inward: interfaces -> application -> domain; infrastructure implements ports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": {"application", "infrastructure", "interfaces", "bootstrap", "fastapi", "psycopg",
               "procrastinate"},
    "application": {"infrastructure", "interfaces", "bootstrap", "fastapi", "psycopg",
                    "procrastinate"},
    "infrastructure": {"interfaces", "bootstrap", "fastapi"},
    # The HTTP layer reaches adapters only through the services bootstrap wires.
    "interfaces/http": {"infrastructure"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
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
