"""Errors the use cases raise besides domain errors; the HTTP layer maps each to a status."""

from __future__ import annotations


class Forbidden(Exception):
    """The caller's role may not do this."""


class IdempotencyConflict(Exception):
    """The same Idempotency-Key is still being processed."""


class IdempotencyMismatch(Exception):
    """The Idempotency-Key was used before with a different request body."""
