"""An Xledger GraphQL stand-in: `Authorization: token …`, the GL import mutation with the input
node fields of Xledger's schema (unknown or read-only fields are GraphQL errors, `amount`,
`account` and `postedDate` required, at most 500 nodes), errors with Xledger's `code`
(the burst rate limit on demand), import items read back by extIdentifier, paging."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.base import CutOff, Faults, fault_response

#: AddGLImportItemsInputNode's fields as Xledger's schema has them (introspected by
#: grasp-labs/ds-provider-xledger-py-lib, `assets/glImportItems/create/metadata.json`):
#: scalars, and lookups written as `{dbId | code | description}` objects.
SCALARS = frozenset({
    "trRegNumber", "postedDate", "invoiceDate", "dueDate", "invoiceNumber", "text",
    "invoiceAmount", "exchangeRate", "amount", "quantity", "bankAccount", "extOrderNumber",
    "yourReference", "payDocText", "paymentReference", "extIdentifier", "archive",
    "trItemNumber", "periodStart", "numberPeriod", "regAmount", "taxAmount", "taxAmount2",
    "discountDate", "discount", "discountAmount", "quantity2", "quantity3", "positionNumber",
    "workflow", "invoiceFile", "amount3", "amount4", "amount5", "externalInvoice",
})
LOOKUPS = frozenset({
    "transactionSource", "account", "taxRule", "currency", "glObject1", "glObject2",
    "glObject3", "glObject4", "glObject5", "transactionReg", "subledger", "slTransactionType",
    "ourRef", "payTerms", "payMethod", "paymentStatus", "product", "objectDef",
    "objectValueDef", "payDocCode", "payCode", "collectCode", "project", "xgl",
    "bankAccountRef", "discountTaxRule", "unit", "unitQuantity", "unitNumber", "jobLevel",
    "owner", "company", "invoiceFileInput", "importDefinition", "entity", "collection",
    *(f"glField{n}" for n in range(1, 13)),
})
LOOKUP_KEYS = frozenset({"dbId", "dbSubId", "code", "description", "name", "ownerCode"})
INPUT_FIELDS = SCALARS | LOOKUPS
READ_ONLY = frozenset({"dbId", "createdAt", "modifiedAt", "ownerDbId"})
REQUIRED = ("account", "amount", "postedDate")
#: Xledger's own GraphQL sample (xledger/graphql-samples, GraphQLClient.cs) reads these codes
#: from `errors[].code`: the burst rate limit and the credit quota.
BURST_LIMIT = "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"
MAX_NODES = 500  # Xledger's help centre: mass mutations take at most 500 nodes
PAGE_SIZE = 500


def graphql_error(message: str, code: str = "BAD_REQUEST", status: int = 200) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "code": code}]}, status_code=status)


@dataclass
class Xledger:
    api_token: str = field(default_factory=lambda: "xl-" + secrets.token_hex(16))
    faults: Faults = field(default_factory=Faults)
    burst_limited: int = 0  # this many requests answer Xledger's burst-rate-limit error
    items: list[dict[str, Any]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self) -> None:
        self.api_token = "xl-" + secrets.token_hex(16)

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    async def graphql(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth != f"token {self.api_token}":
            self.count("refused")
            return graphql_error("Unauthorized: invalid API token", "UNAUTHENTICATED", 401)
        fault = self.faults.next_status()
        if fault:
            self.count("fault")
            return fault_response(*fault)
        with self.lock:
            limited, self.burst_limited = self.burst_limited > 0, max(self.burst_limited - 1, 0)
        if limited:
            self.count("fault")
            return graphql_error("Too many requests", BURST_LIMIT)
        body = await request.json()
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        if "addGLImportItems" in query:
            self.count("add")
            await self.faults.before_posting()
            return self._add(variables.get("inputs"))
        if "glImportItems" in query:
            self.count("read")
            return self._read(variables)
        self.count("other")
        return graphql_error("Cannot query this field", "GRAPHQL_VALIDATION_FAILED")

    def _add(self, inputs: Any) -> Response:
        if not isinstance(inputs, list) or not inputs:
            return graphql_error("inputs must be a non-empty list")
        if len(inputs) > MAX_NODES:
            return graphql_error(f"at most {MAX_NODES} nodes per mutation")
        nodes = []
        for index, item in enumerate(inputs):
            node = item.get("node") if isinstance(item, dict) else None
            if not isinstance(node, dict) or set(item) - {"node", "clientId"}:
                return graphql_error(f"inputs[{index}] must be {{clientId, node}}")
            for name, value in node.items():
                if name in READ_ONLY:
                    return graphql_error(f"Field '{name}' is read-only on AddGLImportItemsInputNode")
                if name not in INPUT_FIELDS:
                    return graphql_error(
                        f"Field '{name}' is not defined by type 'AddGLImportItemsInputNode'.")
                if name in LOOKUPS and (not isinstance(value, dict) or set(value) - LOOKUP_KEYS):
                    return graphql_error(f"inputs[{index}].node.{name} must be a lookup object")
            missing = [n for n in REQUIRED if node.get(n) in (None, "")]
            if missing:
                return graphql_error(f"inputs[{index}].node.{missing[0]} is required")
            if len(str(node.get("extIdentifier", ""))) > 25:
                return graphql_error(f"inputs[{index}].node.extIdentifier is too long")
            nodes.append(node)
        stored = []
        with self.lock:  # the whole mutation is one transaction
            for node in nodes:
                row = dict(node)
                row["dbId"] = len(self.items) + 1
                row["amount"] = str(Decimal(str(node["amount"])).quantize(Decimal("0.01")))
                self.items.append(row)
                stored.append({"node": {"dbId": row["dbId"]}})
        if self.faults.take_drop():
            return CutOff()
        return JSONResponse({"data": {"addGLImportItems": {"edges": stored}}})

    def _read(self, variables: dict[str, Any]) -> Response:
        refs = variables.get("refs")
        rows = self.items if refs is None else [
            r for r in self.items if r.get("extIdentifier") in set(refs)]
        start = int(variables.get("after") or 0)
        page = rows[start : start + PAGE_SIZE]
        edges = [{"cursor": str(start + i + 1), "node": {
            "dbId": r["dbId"], "extIdentifier": r.get("extIdentifier"),
            "amount": float(r["amount"]), "account": r["account"]}} for i, r in enumerate(page)]
        return JSONResponse({"data": {"glImportItems": {
            "pageInfo": {"hasNextPage": start + PAGE_SIZE < len(rows)}, "edges": edges}}})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/graphql", self.graphql, methods=["POST"])])
