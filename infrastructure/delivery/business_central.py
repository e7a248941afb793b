"""Business Central API v2.0 journal lines (microsoft/BCApps, APIV2JournalLines.Page.al).

- OAuth2 client credentials at `token_url`, scope `https://api.businesscentral.dynamics.com/.default`;
  the token is cached until two minutes before it expires.
- The journal is found by its `code`; lines are posted to
  `companies({company})/journals({journal id})/journalLines`, one request per line, sent
  together in OData JSON `$batch` requests (one plain POST when a batch holds one line).
- Only fields the page accepts: no `journalDisplayName` (its OnValidate raises an error), no
  `currencyCode` (not on the page; amounts are NOK), no `accountType` (the page's OnNewRecord
  sets "G/L Account"; the API spells enum values XML-encoded, `G_x002F_L_x0020_Account`, so
  leaving it out is the one spelling that cannot be wrong), dimensions as `dimensionSetLines`
  (`code`, `valueCode`: the writable fields of APIV2DimensionSetLines.Page.al; deep insert).
- Read-back filters the journal's lines by the run's document numbers, then the G/L entries
  (`generalLedgerEntries`, APIV2 page 30018: `documentNumber`, no external document number)
  for documents the accountant posted from the journal meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from application.ports import CredentialsRefused, DeliveryRefused, DeliveryUnavailable
from domain.delivery import DeliveryLine, line_key
from infrastructure.delivery.http import call, json_of, sanitise

SCOPE = "https://api.businesscentral.dynamics.com/.default"
TOKEN_MARGIN_SECONDS = 120
PAGE_FIELDS = "documentNumber,externalDocumentNumber,accountNumber,amount"
DESCRIPTION_MAX = 100  # Gen. Journal Line.Description is Text[100]


class JournalNotFound(DeliveryRefused):
    field = "journal"


def odata_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def line_body(line: DeliveryLine, dimension_code: str) -> dict[str, Any]:
    body: dict[str, Any] = {  # no accountType: the page's OnNewRecord sets G/L Account
        "accountNumber": line.account,
        "postingDate": line.posting_date.isoformat(),
        "documentNumber": line.document,
        "externalDocumentNumber": line.reference,
        "amount": float(line.amount),
        "description": line.description[:DESCRIPTION_MAX],
    }
    if line.tax_code:
        body["taxCode"] = line.tax_code
    if line.dimension:
        body["dimensionSetLines"] = [{"code": dimension_code, "valueCode": line.dimension}]
    return body


class BusinessCentralClient:
    def __init__(
        self, settings: dict[str, Any], credentials: dict[str, str], http: httpx.Client
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.http = http
        root = f"{settings['endpoint']}/v2.0/{settings['tenant_id']}/{settings['environment']}"
        self.service = f"{root}/api/v2.0"
        self.company_path = f"companies({settings['company_id']})"
        self._token: str | None = None
        self._token_until = 0.0
        self._journal_id: str | None = None
        self._secrets = [credentials.get("client_secret", "")]

    def close(self) -> None:
        self.http.close()

    def _bearer(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._token_until:
            data = {
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "scope": SCOPE,
            }
            try:
                answer = call(lambda: self.http.post(self.settings["token_url"], data=data), self._secrets)
            except DeliveryRefused as refused:  # 400 invalid_client is a refusal of the secret
                raise CredentialsRefused(str(refused)) from None
            body = json_of(answer)
            if not isinstance(body, dict) or not body.get("access_token"):
                raise DeliveryUnavailable("the token answer held no access_token")
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
            self._token_until = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, 0)
            self._secrets.append(self._token)
        return {"Authorization": f"Bearer {self._token}"}

    def _get(self, url: str) -> Any:
        answer = call(lambda: self.http.get(url, headers=self._bearer()), self._secrets)
        return json_of(answer)

    def journal_id(self) -> str:
        if self._journal_id is None:
            flt = quote(f"code eq {odata_text(self.settings['journal'])}")
            body = self._get(f"{self.service}/{self.company_path}/journals?$filter={flt}")
            found = body.get("value") if isinstance(body, dict) else None
            if not found:
                raise JournalNotFound(f"no journal with code {self.settings['journal']!r}")
            self._journal_id = str(found[0]["id"])
        return self._journal_id

    def check(self) -> None:
        """A token request and one harmless read: the journal, found by its code."""
        self.journal_id()

    def _lines_path(self) -> str:
        return f"{self.company_path}/journals({self.journal_id()})/journalLines"

    def present(self, lines: Sequence[DeliveryLine]) -> set[str]:
        """Lines still in the journal, and lines whose document the accountant has posted
        since (G/L entries keep the document number; a posted document is whole, so all its
        lines count as present: a retry never posts them a second time)."""
        if not lines:
            return set()
        wanted = {line.key for line in lines}
        documents = sorted({line.document for line in lines})
        flt = quote(
            f"documentNumber ge {odata_text(documents[0])} and "
            f"documentNumber le {odata_text(documents[-1])}"
        )
        found: set[str] = set()
        for row in self._rows(f"{self.service}/{self._lines_path()}?$filter={flt}&$select={PAGE_FIELDS}"):
            key = line_key(
                str(row.get("documentNumber", "")), str(row.get("externalDocumentNumber", "")),
                str(row.get("accountNumber", "")), Decimal(str(row.get("amount", 0))),
            )
            if key in wanted:
                found.add(key)
        missing = {line.document for line in lines if line.key not in found}
        if missing:
            url = (f"{self.service}/{self.company_path}/generalLedgerEntries?$filter={flt}"
                   "&$select=documentNumber")
            posted = {str(row.get("documentNumber", "")) for row in self._rows(url)} & missing
            found |= {line.key for line in lines if line.document in posted}
        return found

    def _rows(self, url: str | None) -> Iterator[dict[str, Any]]:
        """Every row of an OData collection, following `@odata.nextLink`."""
        while url:
            body = self._get(url)
            yield from body.get("value", [])
            url = body.get("@odata.nextLink")

    def post(self, lines: Sequence[DeliveryLine]) -> None:
        dimension_code = str(self.settings.get("dimension_code") or "")
        path = self._lines_path()
        if len(lines) == 1:
            body = line_body(lines[0], dimension_code)
            call(lambda: self.http.post(f"{self.service}/{path}", json=body,
                                        headers=self._bearer()), self._secrets)
            return
        requests = [
            {
                "id": str(number), "method": "POST", "url": path,
                "headers": {"Content-Type": "application/json"},
                "body": line_body(line, dimension_code),
            }
            for number, line in enumerate(lines, start=1)
        ]
        answer = call(lambda: self.http.post(
            f"{self.service}/$batch", json={"requests": requests},
            headers={**self._bearer(), "Accept": "application/json"},
        ), self._secrets)
        self._raise_for_parts(json_of(answer))

    def _raise_for_parts(self, body: Any) -> None:
        """A batch answers 200 with one status per request: a refusal of any line fails the
        delivery; a transient status makes the whole batch retried (after a read-back)."""
        transient: str | None = None
        for part in body.get("responses", []) if isinstance(body, dict) else []:
            status = int(part.get("status", 500))
            if status < 300:
                continue
            error = (part.get("body") or {}).get("error") or {}
            message = sanitise(f"{error.get('code', '')}: {error.get('message', '')}", self._secrets)
            if status == 401:
                raise CredentialsRefused(f"HTTP 401: {message}")
            if status in (408, 429) or status >= 500:
                transient = f"HTTP {status}: {message}"
                continue
            raise DeliveryRefused(f"HTTP {status}: {message}")
        if transient is not None:
            raise DeliveryUnavailable(transient)
