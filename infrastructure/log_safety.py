"""Logs never carry stack traces, SQL parameters or secrets: one filter on every handler."""

from __future__ import annotations

import logging
import re

from domain.error_messages import sanitize_error_message

SIGNATURE = re.compile(r"(sig=)[^&\s\"]+")


class SafeRecords(logging.Filter):
    """Replace a traceback by the exception's type and clean the message of credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc_type = record.exc_info[0]
            name = exc_type.__name__ if exc_type else "Exception"
            record.msg = f"{record.getMessage()} [{name}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if record.name == "uvicorn.access":
            # Paths and ids are what operators need; only download signatures are secrets here.
            record.msg = SIGNATURE.sub(r"\1[REDACTED]", message)
        else:
            record.msg = sanitize_error_message(message)
        record.args = None
        return True


def install(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(SafeRecords())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(SafeRecords())
