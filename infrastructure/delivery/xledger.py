"""Xledger GraphQL API (`https://www.xledger.net/graphql`), `Authorization: token <api token>`.

Checked against public sources (docs/delivery.md, "Sources"):
- the mutation `addGLImportItems(inputs: [AddGLImportItemsInput!]!)`, each input
  `{clientId, node}`, at most 500 nodes (Xledger's help centre on mass mutations);
- `account {code}`, `amount`, `postedDate`, `text`, `transactionSource {code}`, `taxRule {code}`,
  `glObject1 {code}` and `extIdentifier` are fields of AddGLImportItemsInputNode (Xledger's
  schema as introspected by grasp-labs/ds-provider-xledger-py-lib; omniboost/go-xledger's
  `GLImportItemInput`); `extIdentifier` is also a field of the stored GLImportItem;
- errors carry `code`, e.g. `BAD_REQUEST.BURST_RATE_LIMIT_REACHED` (xledger/graphql-samples).
Each line carries the claim's ImpSystemRef as `extIdentifier`; a retried delivery reads the
import items back by it with Xledger's suffix-style filter (`modifiedAt_gte` in Xledger's own
sample; `extIdentifier_in` follows that style and is the one name no public source showed).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx

from application.ports import CredentialsRefused, DeliveryRefused, DeliveryUnavailable
from domain.delivery import DeliveryLine, line_key
from infrastructure.delivery.http import call, json_of, sanitise

CHECK = "query { glImportItems(first: 1) { edges { node { dbId } } } }"
PRESENT = """
query Present($refs: [String!], $after: String) {
  glImportItems(first: 500, after: $after, filter: {extIdentifier_in: $refs}) {
    pageInfo { hasNextPage }
    edges { cursor node { extIdentifier amount account { code } } }
  }
}"""
ADD = """
mutation Add($inputs: [AddGLImportItemsInput!]!) {
  addGLImportItems(inputs: $inputs) { edges { node { dbId } } }
}"""
TEXT_MAX = 250
#: Errors that pass: Xledger's burst rate limit (20 requests per 5 s) and its credit quota
#: (`errors[].code` as Xledger's own sample reads it), and a server that is unavailable.
TRANSIENT_CODES = ("BURST_RATE_LIMIT", "INSUFFICIENT_CREDITS", "SERVICE_UNAVAILABLE")
REFS_PER_QUERY = 500


def node_of(line: DeliveryLine) -> dict[str, Any]:
    node: dict[str, Any] = {
        "account": {"code": line.account},
        "amount": float(line.amount),
        "postedDate": line.posting_date.isoformat(),
        "text": line.description[:TEXT_MAX],
        "extIdentifier": line.reference,
    }
    if line.voucher_type:
        node["transactionSource"] = {"code": line.voucher_type}
    if line.tax_code:
        node["taxRule"] = {"code": line.tax_code}
    if line.dimension:
        node["glObject1"] = {"code": line.dimension}
    return node


class XledgerClient:
    def __init__(
        self, settings: dict[str, Any], credentials: dict[str, str], http: httpx.Client
    ) -> None:
        self.endpoint = settings["endpoint"]
        self.token = credentials["api_token"]
        self.http = http
        self._secrets = [self.token]

    def close(self) -> None:
        self.http.close()

    def _graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = call(lambda: self.http.post(
            self.endpoint, json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"token {self.token}"},
        ), self._secrets)
        body = json_of(answer)
        if not isinstance(body, dict):
            raise DeliveryUnavailable("the answer was not a GraphQL response")
        errors = body.get("errors")
        if errors:
            first: dict[str, Any] = (
                errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
            )
            message = sanitise(first.get("message"), self._secrets)
            code = str(first.get("code") or (first.get("extensions") or {}).get("code") or "")
            code = code.upper()
            if any(word in code for word in ("UNAUTHENTICATED", "UNAUTHORIZED")):
                raise CredentialsRefused(message)
            if any(word in code for word in TRANSIENT_CODES):
                raise DeliveryUnavailable(f"{code}: {message}")
            raise DeliveryRefused(message)
        data = body.get("data")
        if not isinstance(data, dict):
            raise DeliveryUnavailable("the GraphQL answer held no data")
        return data

    def check(self) -> None:
        self._graphql(CHECK)

    def present(self, lines: Sequence[DeliveryLine]) -> set[str]:
        wanted = {line.key for line in lines}
        refs = sorted({line.reference for line in lines})
        found: set[str] = set()
        for start in range(0, len(refs), REFS_PER_QUERY):
            after: str | None = None
            while True:
                data = self._graphql(
                    PRESENT, {"refs": refs[start : start + REFS_PER_QUERY], "after": after}
                )
                page = data.get("glImportItems") or {}
                edges = page.get("edges") or []
                for edge in edges:
                    node = edge.get("node") or {}
                    key = line_key(
                        "", str(node.get("extIdentifier", "")),
                        str((node.get("account") or {}).get("code", "")),
                        Decimal(str(node.get("amount", 0))),
                    )
                    if key in wanted:
                        found.add(key)
                if not (page.get("pageInfo") or {}).get("hasNextPage") or not edges:
                    break
                after = edges[-1].get("cursor")
        return found

    def post(self, lines: Sequence[DeliveryLine]) -> None:
        self._graphql(ADD, {"inputs": [
            {"clientId": str(number), "node": node_of(line)}
            for number, line in enumerate(lines, start=1)
        ]})
