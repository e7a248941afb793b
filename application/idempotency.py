"""One path for every POST that takes an Idempotency-Key (IETF draft semantics).

The key is reserved before the use case runs; a use case that appends events writes its answer
in the append's own transaction (`remember`), so a crash between the append and the reply can
not free the key: the retry gets the first answer. Only an answer that stored nothing (a
refusal) is written afterwards, and a request that fails unexpectedly frees its key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.errors import IdempotencyConflict, IdempotencyMismatch
from application.ports import IdempotencyKeys, IdempotentResponse


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    #: True when the use case wrote it with its events (nothing left to write).
    remembered: bool = False
    replayed: bool = False


def remember(
    org_id: UUID, key: str | None, status_code: int, body: dict[str, Any]
) -> IdempotentResponse | None:
    """The answer for the event store to write in the append's transaction (None: no key)."""
    return None if key is None else IdempotentResponse(org_id, key, status_code, body)


class Idempotency:
    def __init__(self, keys: IdempotencyKeys) -> None:
        self.keys = keys

    def once(
        self,
        org_id: UUID,
        key: str | None,
        fingerprint: str,
        act: Callable[[str | None], Answer],
    ) -> Answer:
        """Run `act` (given the key) at most once per key; a repeat gets the first answer.

        IdempotencyMismatch when the key came with another request, IdempotencyConflict while
        the first request is still being processed."""
        if key is None:
            return act(None)
        outcome = self.keys.begin(org_id, key, fingerprint)
        if outcome.kind == "mismatch":
            raise IdempotencyMismatch()
        if outcome.kind == "in_flight":
            raise IdempotencyConflict()
        if outcome.kind == "replay":
            assert outcome.status_code is not None and outcome.body is not None
            return Answer(outcome.status_code, outcome.body, remembered=True, replayed=True)
        try:
            answer = act(key)
        except BaseException:
            self.keys.abandon(org_id, key)
            raise
        if not answer.remembered:
            self.keys.finish(org_id, key, answer.status_code, answer.body)
        return answer
