"""A Business Central stand-in: OAuth2 client credentials, journals found by code, journal lines
as APIV2JournalLines.Page.al accepts them (read-only and unknown fields refused, Code/Text
lengths of table 81), dimensionSetLines by deep insert, OData JSON $batch, paging, and the
journal posted on demand into G/L entries (APIV2 generalLedgerEntries)."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.base import CutOff, Faults, fault_response

WRITABLE = frozenset({
    "journalId", "lineNumber", "accountType", "accountId", "accountNumber", "postingDate",
    "documentNumber", "externalDocumentNumber", "amount", "description", "comment", "taxCode",
    "balanceAccountType", "balancingAccountId", "balancingAccountNumber", "dimensionSetLines",
})
READ_ONLY = frozenset({"id", "journalDisplayName", "lastModifiedDateTime"})
LENGTHS = {"documentNumber": 20, "externalDocumentNumber": 35, "description": 100,
           "accountNumber": 20}
PAGE_SIZE = 1000
MAX_BATCH = 100
FILTER = re.compile(r"documentNumber ge '([^']*)' and documentNumber le '([^']*)'")


def odata_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@dataclass
class BusinessCentral:
    client_id: str = "bc-client"
    client_secret: str = "bc-secret-" + "s" * 20
    company_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    journals: dict[str, str] = field(default_factory=lambda: {"UTLEGG": str(uuid.uuid4())})
    faults: Faults = field(default_factory=Faults)
    lines: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)  # posted: G/L entries
    requests: dict[str, int] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    accounts: set[str] | None = None  # the chart of accounts; None accepts any number
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self) -> None:
        """The secret is rotated at the vendor: old tokens and the old secret stop working."""
        self.client_secret = "rotated-" + secrets.token_hex(8)
        self.tokens.clear()

    def post_journal(self) -> int:
        """The accountant posts the journal: its lines become G/L entries (document number,
        account, debit/credit; no external document number) and leave the journal."""
        with self.lock:
            for row in self.lines:
                amount = Decimal(row["amount"])
                self.entries.append({
                    "id": str(uuid.uuid4()), "entryNumber": len(self.entries) + 1,
                    "postingDate": row.get("postingDate"), "documentNumber": row["documentNumber"],
                    "accountNumber": row["accountNumber"], "description": row.get("description", ""),
                    "debitAmount": float(max(amount, Decimal(0))),
                    "creditAmount": float(max(-amount, Decimal(0))),
                })
            moved, self.lines[:] = len(self.lines), []
        return moved

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    # Handlers.

    async def token(self, request: Request) -> Response:
        self.count("token")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided."}, status_code=401)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _refusal(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return odata_error(401, "Authentication_InvalidCredentials",
                               "The server has rejected the client credentials.")
        if request.path_params.get("company") != self.company_id:
            return odata_error(404, "BadRequest_NotFound", "The company does not exist.")
        fault = self.faults.next_status()
        return fault_response(*fault) if fault else None

    async def journals_get(self, request: Request) -> Response:
        self.count("journals")
        if (refusal := self._refusal(request)) is not None:
            return refusal
        match = re.fullmatch(r"code eq '(.*)'", request.query_params.get("$filter", ""))
        found = [{"id": jid, "code": code, "displayName": code}
                 for code, jid in self.journals.items() if match and code == match.group(1)]
        return JSONResponse({"value": found})

    async def lines_get(self, request: Request) -> Response:
        self.count("lines_get")
        if (refusal := self._refusal(request)) is not None:
            return refusal
        journal = request.path_params["journal"]
        match = FILTER.fullmatch(request.query_params.get("$filter", ""))
        rows = [r for r in self.lines if r["journalId"] == journal and (
            match is None or match.group(1) <= r["documentNumber"] <= match.group(2))]
        skip = int(request.query_params.get("$skip", "0"))
        page = rows[skip : skip + PAGE_SIZE]
        body: dict[str, Any] = {"value": [self._public(r) for r in page]}
        if skip + PAGE_SIZE < len(rows):
            body["@odata.nextLink"] = str(request.url.include_query_params(**{"$skip": skip + PAGE_SIZE}))
        return JSONResponse(body)

    async def entries_get(self, request: Request) -> Response:
        self.count("entries_get")
        if (refusal := self._refusal(request)) is not None:
            return refusal
        match = FILTER.fullmatch(request.query_params.get("$filter", ""))
        rows = [r for r in self.entries
                if match is None or match.group(1) <= r["documentNumber"] <= match.group(2)]
        return JSONResponse({"value": rows})

    async def lines_post(self, request: Request) -> Response:
        self.count("lines_post")
        if (refusal := self._refusal(request)) is not None:
            return refusal
        status, body = self._insert(request.path_params["journal"], await request.json())
        if status == 201 and self.faults.take_drop():
            return CutOff()
        return JSONResponse(body, status_code=status)

    async def batch(self, request: Request) -> Response:
        self.count("batch")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return odata_error(401, "Authentication_InvalidCredentials", "rejected")
        fault = self.faults.next_status()
        if fault:
            return fault_response(*fault)
        await self.faults.before_posting()
        answers = []
        pattern = re.compile(
            rf"companies\({re.escape(self.company_id)}\)/journals\(([^)]+)\)/journalLines")
        parts = (await request.json()).get("requests", [])
        if len(parts) > MAX_BATCH:
            return odata_error(400, "BadRequest", f"at most {MAX_BATCH} requests in a batch")
        for part in parts:
            match = pattern.fullmatch(part.get("url", ""))
            if part.get("method") != "POST" or match is None:
                answers.append({"id": part.get("id"), "status": 404, "body": {
                    "error": {"code": "BadRequest_NotFound", "message": "no such resource"}}})
                continue
            status, body = self._insert(match.group(1), part.get("body") or {})
            answers.append({"id": part.get("id"), "status": status, "body": body})
        if self.faults.take_drop():
            return CutOff()
        return JSONResponse({"responses": answers})

    # The journal line page's rules.

    def _insert(self, journal: str, body: Any) -> tuple[int, dict[str, Any]]:
        if journal not in self.journals.values():
            return 404, {"error": {"code": "BadRequest_NotFound", "message": "journal not found"}}
        if not isinstance(body, dict):
            return 400, {"error": {"code": "BadRequest", "message": "body must be an object"}}
        for name in body:
            if name in READ_ONLY:
                return 400, {"error": {"code": "BadRequest",
                                       "message": f"The property '{name}' is read-only."}}
            if name not in WRITABLE:
                return 400, {"error": {"code": "BadRequest", "message":
                    f"The property '{name}' does not exist on type 'Microsoft.NAV.journalLine'."}}
        for name, limit in LENGTHS.items():
            if len(str(body.get(name, ""))) > limit:
                return 400, {"error": {"code": "Internal_FieldLengthExceeded",
                                       "message": f"{name} is longer than {limit}"}}
        amount = body.get("amount")
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            return 400, {"error": {"code": "BadRequest", "message": "amount must be a number"}}
        if self.accounts is not None and body.get("accountNumber") not in self.accounts:
            return 400, {"error": {"code": "Internal_RecordNotFound", "message":
                "The G/L Account does not exist. Identification fields and values: "
                f"No.='{body.get('accountNumber')}'"}}
        dims = body.get("dimensionSetLines", [])  # writable: APIV2DimensionSetLines.Page.al
        if not isinstance(dims, list) or any(
                not isinstance(d, dict) or set(d) - {"code", "valueCode", "id", "valueId",
                                                     "displayName", "valueDisplayName"}
                for d in dims):
            return 400, {"error": {"code": "BadRequest", "message": "bad dimensionSetLines"}}
        row = {k: v for k, v in body.items() if k != "dimensionSetLines"}
        row.setdefault("accountType", "G/L Account")  # the page's OnNewRecord
        with self.lock:
            row.update(id=str(uuid.uuid4()), journalId=journal,
                       lineNumber=(len(self.lines) + 1) * 10000,
                       amount=str(Decimal(str(amount)).quantize(Decimal("0.01"))),
                       dimensionSetLines=dims)
            row.setdefault("externalDocumentNumber", "")
            self.lines.append(row)
        return 201, self._public(row)

    @staticmethod
    def _public(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k != "dimensionSetLines"}
        out["amount"] = float(row["amount"])
        return out

    def app(self) -> Starlette:
        base = "/v2.0/{tenant}/{env}/api/v2.0"
        company = base + "/companies({company})"
        return Starlette(routes=[
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
            Route(company + "/journals", self.journals_get, methods=["GET"]),
            Route(company + "/generalLedgerEntries", self.entries_get, methods=["GET"]),
            Route(company + "/journals({journal})/journalLines", self.lines_get, methods=["GET"]),
            Route(company + "/journals({journal})/journalLines", self.lines_post, methods=["POST"]),
            Route(base + "/$batch", self.batch, methods=["POST"]),
        ])
