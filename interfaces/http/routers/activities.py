"""Activity records for Bufdir reports (source data) and their attachments."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from application.activities import ActivityRecord
from domain.municipalities import ever_existed
from interfaces.http.auth import Role
from interfaces.http.deps import ServicesDep, require
from interfaces.http.schemas import IsoDate, StrictBody

router = APIRouter(prefix="/v1/orgs/{org_id}/activities", tags=["source data"])

IMPORTERS = frozenset({Role.COORDINATOR, Role.ADMIN, Role.SCHEDULER})
ATTACHMENT_LIMIT = 10 * 1024 * 1024
ATTACHMENT_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
ExtraValue = str | StrictInt | float | StrictBool | None


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


class ActivityIn(StrictBody):
    id: str = Field(min_length=1, max_length=100, description="The source system's id (or a UUID)")
    date: IsoDate = Field(description="The day of the activity, ISO YYYY-MM-DD")
    activity_type: str = Field(min_length=1, max_length=64,
                               description="A type of the organisation's Bufdir configuration")
    participants: StrictInt = Field(ge=0, le=1_000_000)
    municipality: str = Field(
        description="Municipality number (4 digits) as registered; one SSB never had is refused, "
                    "one not in force on the date is judged in the report", examples=["0301"])
    description: str = Field(max_length=2000)
    duration_minutes: StrictInt | None = Field(
        default=None, gt=0, le=14 * 24 * 60,
        description="The whole activity's length; over several days, all days together")
    end_date: IsoDate | None = Field(
        default=None, description="Last day of an activity held over several days (inclusive)")
    contact_mode: Literal["in_person", "phone", "video", "written"] | None = Field(
        default=None, description="How a one-to-one peer contact took place")
    extra: dict[str, ExtraValue] = Field(
        default_factory=dict, max_length=50,
        description="Fields beyond the standard ones that the configuration reads, e.g. course_name",
    )

    @field_validator("id", "description")
    @classmethod
    def no_control_characters(cls, value: str) -> str:
        return _no_control_characters(value)

    @field_validator("id")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("municipality")
    @classmethod
    def known_to_ssb(cls, value: str) -> str:
        if not (len(value) == 4 and value.isascii() and value.isdigit()):
            raise ValueError("must be a municipality number of 4 digits, e.g. 0301")
        if not ever_existed(value):
            raise ValueError(f"{value} is not a municipality number SSB has used since 2018")
        return value

    @field_validator("end_date")
    @classmethod
    def not_before_date(cls, value: Any, info: ValidationInfo) -> Any:
        day = info.data.get("date")
        if value is not None and day is not None and value < day:
            raise ValueError("end_date must not be before date")
        return value

    @field_validator("extra")
    @classmethod
    def short_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
                raise ValueError(f"extra field name '{key[:64]}' must be snake_case")
            if isinstance(item, str) and len(item) > 2000:
                raise ValueError(f"extra field '{key}' is longer than 2000 characters")
        return value


class ActivityBatch(StrictBody):
    activities: list[ActivityIn] = Field(min_length=1, max_length=10_000)


class Upserted(BaseModel):
    upserted: int


class AttachmentOut(BaseModel):
    activity_id: str
    name: str
    content_type: str
    size_bytes: int
    sha256: str


@router.put("", response_model=Upserted)
def upsert_activities(
    org_id: UUID,
    body: ActivityBatch,
    services: ServicesDep,
    _: Annotated[Any, require(IMPORTERS)],
) -> Upserted:
    """Validated whole first (types against the organisation's Bufdir configuration);
    one bad item refuses the batch and nothing is stored."""
    _version, config = services.bufdir_config.current(org_id)
    errors = [
        {
            "loc": ("body", "activities", i, "activity_type"),
            "msg": f"unknown activity type; known: {', '.join(sorted(config.activity_types))}",
            "type": "value_error",
        }
        for i, a in enumerate(body.activities)
        if a.activity_type not in config.activity_types
    ]
    ids = [a.id for a in body.activities]
    seen: set[str] = set()
    for i, activity_id in enumerate(ids):
        if activity_id in seen:
            errors.append({"loc": ("body", "activities", i, "id"),
                           "msg": "duplicate id in the batch", "type": "value_error"})
        seen.add(activity_id)
    if errors:
        raise RequestValidationError(errors)
    records = [
        ActivityRecord(
            id=a.id, date=a.date, activity_type=a.activity_type, participants=a.participants,
            municipality=a.municipality, description=a.description,
            duration_minutes=a.duration_minutes, extra=dict(a.extra), end_date=a.end_date,
            contact_mode=a.contact_mode,
        )
        for a in body.activities
    ]
    return Upserted(upserted=services.source_data.import_activities(org_id, records))


_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
]
_MARKUP = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"#!")


def sniff(data: bytes) -> str | None:
    """The content type told by the bytes themselves, or None when unknown or not allowed."""
    for magic, offset, content_type in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return content_type
    if not data or b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if data.lstrip().lower().startswith(_MARKUP):
        return None
    if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
        return None
    return "text/plain; charset=utf-8"


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(422, {"detail": "invalid request",
                               "errors": [{"field": field, "message": message}]})


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"attachment larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put("/{activity_id}/attachments/{name}", response_model=AttachmentOut, status_code=201,
            max_body_size=ATTACHMENT_LIMIT + 1,
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {}},
                                           "required": True}})
async def upload_attachment(
    org_id: UUID,
    activity_id: str,
    name: str,
    request: Request,
    services: ServicesDep,
    _: Annotated[Any, require(IMPORTERS)],
) -> AttachmentOut:
    """Raw body upload (PDF, PNG, JPEG, GIF, WebP, HEIC or plain text, at most 10 MB); the type
    is told by the bytes, not by the Content-Type header. The same name again replaces it."""
    if not ATTACHMENT_NAME.match(name) or ".." in name:
        raise _invalid("name", "1-100 letters, digits, '.', '_' or '-', without '..'")
    if not 1 <= len(activity_id) <= 100:
        raise _invalid("activity_id", "1-100 characters")
    data = await _read_limited(request, ATTACHMENT_LIMIT)
    content_type = sniff(data)
    if content_type is None:
        raise _invalid("body", "unsupported file type; send PDF, PNG, JPEG, GIF, WebP, HEIC or text")
    stored = await run_in_threadpool(
        services.source_data.attach, org_id, activity_id, name, data, content_type
    )
    if stored is None:
        raise HTTPException(404, "not found")
    return AttachmentOut(activity_id=activity_id, name=name, content_type=content_type,
                         size_bytes=stored.size_bytes, sha256=stored.sha256)
