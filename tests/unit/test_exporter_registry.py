"""The use cases know exporters only through the registry; infrastructure supplies the list."""

from __future__ import annotations

import ast
from pathlib import Path

from application.accounting import ExporterRegistry
from infrastructure.exporters import default_exporters
from tests.unit.source_tree import parse

ROOT = Path(__file__).parents[2]


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_export_runs_imports_nothing_from_infrastructure() -> None:
    modules = imported_modules(ROOT / "application" / "export_runs.py")

    assert modules  # the parse found the imports at all
    assert not [m for m in modules if m.split(".")[0] == "infrastructure"]


def test_default_exporters_fill_the_registry() -> None:
    registry = ExporterRegistry(default_exporters())

    assert registry.targets == ["dynamics", "xledger"]
    for target in registry.targets:
        exporter = registry.for_target(target)
        assert exporter.target == target
        assert exporter.content_type and exporter.extension
        assert callable(exporter.render)
        assert callable(getattr(exporter, "content_type_for", None))
        assert callable(getattr(exporter, "extension_for", None))


def test_exporter_modules_do_not_import_each_other() -> None:
    package = ROOT / "infrastructure" / "exporters"
    for module in ("xledger.py", "dynamics.py"):
        other = "dynamics" if module == "xledger.py" else "xledger"
        assert f"infrastructure.exporters.{other}" not in imported_modules(package / module)
