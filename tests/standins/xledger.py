"""An Xledger GraphQL stand-in: `Authorization: token …`, the GL import mutation with the input
node fields public clients use (unknown or read-only fields are GraphQL errors, `amount`,
`account` and `postedDate` required), import items read back by extIdentifier, paging."""

from __future__ import annotations

import asyncio
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

INPUT_FIELDS = frozenset({
    "account", "amount", "postedDate", "text", "extIdentifier", "transactionSource", "taxRule",
    "glObject1", "currency", "invoiceAmount", "trRegNumber", "yourReference", "invoiceNumber",
    "company", "jobLevel", "quantity", "taxAmount", "dueDate", "invoiceDate",
})
READ_ONLY = frozenset({"dbId", "createdAt", "modifiedAt", "ownerDbId"})
REQUIRED = ("account", "amount", "postedDate")
PAGE_SIZE = 500


def graphql_error(message: str, code: str = "BAD_USER_INPUT", status: int = 200) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status)


@dataclass
class Xledger:
    api_token: str = field(default_factory=lambda: "xl-" + secrets.token_hex(16))
    faults: Faults = field(default_factory=Faults)
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
        body = await request.json()
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        if "addGLImportItems" in query:
            self.count("add")
            if self.faults.post_delay_seconds:
                await asyncio.sleep(self.faults.post_delay_seconds)
            return self._add(variables.get("inputs"))
        if "glImportItems" in query:
            self.count("read")
            return self._read(variables)
        self.count("other")
        return graphql_error("Cannot query this field", "GRAPHQL_VALIDATION_FAILED")

    def _add(self, inputs: Any) -> Response:
        if not isinstance(inputs, list) or not inputs:
            return graphql_error("inputs must be a non-empty list")
        nodes = []
        for index, item in enumerate(inputs):
            node = item.get("node") if isinstance(item, dict) else None
            if not isinstance(node, dict):
                return graphql_error(f"inputs[{index}].node is required")
            for name in node:
                if name in READ_ONLY:
                    return graphql_error(f"Field '{name}' is read-only on AddGLImportItemsInputNode")
                if name not in INPUT_FIELDS:
                    return graphql_error(
                        f"Field '{name}' is not defined by type 'AddGLImportItemsInputNode'.")
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
