"""The documentation lives in the repository and describes what the service really serves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PARAM = re.compile(r"\{[^}]*\}")
OPERATION = re.compile(r"`((?:GET|PUT|POST|DELETE|PATCH)(?:\|(?:GET|PUT|POST|DELETE|PATCH))*) (/[^`?\s]*)")


def normalised(path: str) -> str:
    return PARAM.sub("{}", path)


def test_every_served_operation_is_described_in_docs_api(client: TestClient) -> None:
    described: set[tuple[str, str]] = set()
    text = (ROOT / "docs" / "api.md").read_text()
    for methods, path in OPERATION.findall(text):
        described |= {(m, normalised(path)) for m in methods.split("|")}
    served = {
        (method.upper(), normalised(path))
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for method in item
    }
    assert served - described == set(), "served but not in docs/api.md"
    assert described - served == set(), "in docs/api.md but not served"


def test_docs_link_only_inside_the_repository_and_use_no_process_words() -> None:
    for doc in DOCS:
        text = doc.read_text()
        assert "../shared" not in text and "/work/" not in text, doc
        assert not re.search(r"\bissues? #?\d+", text, re.IGNORECASE), doc
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), (doc, target)
    assert "docs/api.md" in (ROOT / "README.md").read_text()


def test_dev_help_is_clean_and_serve_installs_no_dev_tools(tmp_path: Path) -> None:
    help_text = subprocess.run([str(ROOT / "dev")], capture_output=True, text=True, check=True).stdout
    assert "set -" not in help_text
    assert [line.split()[0:2] for line in help_text.splitlines()] == [
        ["./dev", "serve"], ["./dev", "test"], ["./dev", "cli"], ["./dev", "messages"]
    ]
    # A stand-in virtualenv whose python and export-service record how they were called.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    for name in ("python", "export-service"):
        tool = venv / "bin" / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n')
        tool.chmod(0o755)
    subprocess.run([str(ROOT / "dev"), "serve", "--port", "9"], env={"VENV": str(venv), "PATH": "/usr/bin:/bin"},
                   check=True)
    recorded = calls.read_text().splitlines()
    installs = [line for line in recorded if "pip install" in line and "--upgrade pip" not in line]
    assert installs == ["python -m pip install --quiet -e ."], recorded
    assert recorded[-1] == "export-service serve --port 9"
