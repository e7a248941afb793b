"""One-time sign-in codes: a link printed at start-up that signs the demo coordinator in.

The link carries a short random code, never the token; the code is exchanged once for the
session cookie and is worthless afterwards or after its time is up. Codes live in the memory
of the process that printed them, which is the process that serves the link.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pending:
    token: str
    expires_at: float


class SignInCodes:
    def __init__(self, ttl_seconds: float = 24 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def issue(self, token: str) -> str:
        """A new code that stands for `token` until it is redeemed or expires."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._pending[code] = _Pending(token, self.clock() + self.ttl_seconds)
        return code

    def redeem(self, code: str) -> str | None:
        """The token the code stands for, once; None for an unknown, used or expired code."""
        with self._lock:
            pending = self._pending.pop(code, None)
        if pending is None or pending.expires_at < self.clock():
            return None
        return pending.token
