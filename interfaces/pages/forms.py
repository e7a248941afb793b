"""Form input checked by the API's own request models, errors shown per field (GOV.UK pattern:
a summary at the top linking to each field, the same message beside the field)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import Request
from pydantic import BaseModel, ValidationError

from interfaces.http.errors import field_of
from interfaces.pages.messages import from_error

#: Field → its message (a catalogue Message, shown in the page language with `say`).
Errors = dict[str, str]


async def form_data(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def parse(model: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel | None, Errors]:
    """The model, or the API's validation messages keyed by field (first message per field),
    in the pages' words."""
    try:
        return model.model_validate(data), {}
    except ValidationError as invalid:
        errors: Errors = {}
        for error in invalid.errors():
            errors.setdefault(field_of(error.get("loc", ())), from_error(error))
        return None, errors


def new_request_key() -> str:
    """A fresh idempotency key per form shown: a double-submitted form creates one run."""
    return "page-" + uuid4().hex

