"""Downloads through signed, expiring URLs (no bearer token: the signature is the permission)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from interfaces.http.deps import ServicesDep

router = APIRouter(prefix="/v1/files", tags=["files"])

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "zip": "application/zip",
}


@router.get("/{path:path}")
def download(
    path: str, services: ServicesDep, sig: Annotated[str, Query(max_length=2000)] = ""
) -> StreamingResponse:
    handle = services.downloads.open(path, sig)
    if handle is None:
        raise HTTPException(403, "forbidden")

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(64 * 1024):
                yield block

    name = path.rsplit("/", 1)[-1]
    media = CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return StreamingResponse(
        chunks(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private"},
    )
