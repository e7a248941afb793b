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
    # Entry points get everything wired from bootstrap, the one composition root.
    "interfaces": {"infrastructure"},
    # Routers and pages see application services only: not even the composition root.
    "interfaces/http": {"infrastructure", "bootstrap"},
    "interfaces/pages": {"infrastructure", "bootstrap"},
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

