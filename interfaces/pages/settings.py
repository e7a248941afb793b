"""Accounting settings and Bufdir configuration: read by coordinators and auditors, edited by
administrators with the API's own validation (the same request models and domain checks)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from application.ports import NotFound
from domain.bufdir_config import BufdirConfigDocument
from domain.bufdir_config_aggregate import ConfigUnchanged
from domain.shared import Actor, DomainError
from interfaces.http.routers.accounting_settings import SettingsIn
from interfaces.pages.forms import Errors, form_data, parse
from interfaces.pages.i18n import N_, Message
from interfaces.pages.messages import from_error, from_text
from interfaces.pages.web import (
    ADMINS,
    SETTINGS_READERS,
    Member,
    check_csrf,
    render,
    require,
    services_of,
)

router = APIRouter(prefix="/orgs/{org_id}/settings", include_in_schema=False)
BLANK_ROWS = 3
SCALARS = ("company_code", "voucher_type", "counter_account", "voucher_grouping",
           "document_prefix")


def _current_accounting(request: Request, org_id: UUID) -> dict[str, Any] | None:
    try:
        settings = services_of(request).accounting_settings.get(org_id)
    except NotFound:
        return None
    return {"version": settings.version, **settings.as_dict()}


def _rows(settings: dict[str, Any] | None) -> list[dict[str, str]]:
    categories = (settings or {}).get("categories", {})
    rows = [{"name": name, "account": c.get("account", ""), "tax_code": c.get("tax_code", ""),
             "dimension": c.get("dimension") or ""} for name, c in categories.items()]
    return rows + [{"name": "", "account": "", "tax_code": "", "dimension": ""}] * BLANK_ROWS


def _config(request: Request, org_id: UUID) -> tuple[int, str]:
    version, document = services_of(request).bufdir_config.current(org_id)
    return version, json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _page(request: Request, org_id: UUID, principal: Member, *, status: int = 200,
          values: dict[str, Any] | None = None, rows: list[dict[str, str]] | None = None,
          errors: Errors | None = None, config_text: str | None = None,
          config_errors: Errors | None = None, saved: str | None = None) -> Response:
    current = _current_accounting(request, org_id)
    version, text = _config(request, org_id)
    return render(
        request, "settings.html", status=status, principal=principal, org_id=org_id,
        current=current, values=values if values is not None else (current or {}),
        rows=rows if rows is not None else _rows(current), errors=errors or {},
        config_version=version, config_text=config_text if config_text is not None else text,
        config_errors=config_errors or {}, saved=saved, title=N_("Settings"))


@router.get("")
def settings_page(request: Request, org_id: UUID, principal: Member,
                  saved: str | None = None) -> Response:
    require(principal, SETTINGS_READERS)
    return _page(request, org_id, principal, saved=saved)


def _row_errors(errors: Errors, rows: list[dict[str, str]]) -> Errors:
    """`categories.reise.account` (the API's field) becomes the form field of reise's row."""
    shown: Errors = {}
    index = {row["name"]: i for i, row in enumerate(rows)}
    for field, message in errors.items():
        parts = field.split(".")
        if parts[0] == "categories" and len(parts) >= 3 and parts[1] in index:
            shown[f"cat-{index[parts[1]]}-{parts[2]}"] = message
        elif parts[0] == "categories":
            shown["cat-0-name"] = message
        else:
            shown[field] = message
    return shown


@router.post("/accounting")
async def save_accounting(request: Request, org_id: UUID, principal: Member) -> Response:
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, ADMINS)
    rows = [{k: data.get(f"cat-{i}-{k}", "").strip() for k in ("name", "account", "tax_code",
                                                               "dimension")}
            for i in range(int(data.get("rows", "0") or 0))][:200]
    filled = [r for r in rows if any(r.values())]
    current = _current_accounting(request, org_id) or {}
    values = {k: data.get(k, "").strip() for k in SCALARS}
    body: dict[str, Any] = {  # what the form does not show is kept as it is
        k: current[k] for k in ("dimension_fields", "claimant_accounts", "claimant_account_type")
        if current.get(k) is not None}
    kinds = {name: c.get("dimension_kind") for name, c in current.get("categories", {}).items()}
    body.update({k: v for k, v in values.items() if v or k not in ("document_prefix",)})
    body["categories"] = {r["name"]: {"account": r["account"], "tax_code": r["tax_code"],
                                      "dimension": r["dimension"] or None,
                                      **({"dimension_kind": kinds[r["name"]]}
                                         if kinds.get(r["name"]) else {})}
                          for r in filled}
    shown_rows = filled + [{"name": "", "account": "", "tax_code": "", "dimension": ""}] * BLANK_ROWS
    parsed, errors = parse(SettingsIn, body)
    if parsed is None:
        return _page(request, org_id, principal, status=422, values=values, rows=shown_rows,
                     errors=_row_errors(errors, shown_rows))
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    try:
        services_of(request).accounting_settings.configure(org_id, parsed.model_dump(), actor)
    except DomainError as refused:
        field = getattr(refused, "field", None) or "company_code"
        return _page(request, org_id, principal, status=422, values=values, rows=shown_rows,
                     errors=_row_errors({field: from_text(str(refused), field)}, shown_rows))
    return RedirectResponse(f"/orgs/{org_id}/settings?saved=accounting#accounting-title",
                            status_code=303)


@router.post("/bufdir")
async def save_bufdir(request: Request, org_id: UUID, principal: Member) -> Response:
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, ADMINS)
    text = data.get("config", "")
    try:
        document = BufdirConfigDocument.model_validate_json(text)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or Message(N_("the document"))
        return _page(request, org_id, principal, status=422, config_text=text,
                     config_errors={"config": Message(N_("%(where)s: %(message)s"), where=where,
                                                      message=from_error(first))})
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    try:
        services_of(request).bufdir_config.configure(org_id, document, actor)
    except ConfigUnchanged:
        pass
    except DomainError as refused:
        field = getattr(refused, "field", None)
        return _page(request, org_id, principal, status=422, config_text=text,
                     config_errors={"config": Message(N_("%(where)s: %(message)s"),
                                                      where=field or Message(N_("the document")),
                                                      message=from_text(str(refused), field))})
    return RedirectResponse(f"/orgs/{org_id}/settings?saved=bufdir#bufdir-title",
                            status_code=303)
