"""Shared helpers of the Bufdir integration tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from interfaces.http.auth import Role
from tests.integration.conftest import Tokens

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def activity(i: int, day: str = "2024-03-05", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"akt-{i:05d}",
        "date": day,
        "activity_type": "gruppemøte",
        "participants": 5,
        "municipality": "0301",
        "description": f"Samtalegruppe {i}; kaffe og «likepersonsprat»",
        "duration_minutes": 90,
    }
    body.update(overrides)
    return body


def put_activities(client: TestClient, org: Tokens, items: list[dict[str, Any]],
                   role: Role = Role.COORDINATOR) -> Any:
    return client.put(f"/v1/orgs/{org.org_id}/activities", json={"activities": items},
                      headers=org.header(role))


def request_export(client: TestClient, org: Tokens, start: str = "2024-01-01",
                   end: str = "2024-12-31", fmt: str = "xlsx",
                   attachments: bool = False) -> str:
    response = client.post(
        f"/v1/orgs/{org.org_id}/bufdir-exports",
        json={"period_start": start, "period_end": end, "format": fmt,
              "include_attachments": attachments},
        headers=org.header(),
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "initialised"
    return str(response.json()["export_id"])


def get_export(client: TestClient, org: Tokens, export_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/orgs/{org.org_id}/bufdir-exports/{export_id}",
                          headers=org.header(Role.AUDITOR))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def download(client: TestClient, url: str) -> bytes:
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    return response.content


def sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    out = {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    book.close()
    return out


def zip_names(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return sorted(z.namelist())


def zip_member(content: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return z.read(name)
