"""Log records leave the process without tracebacks, secrets or download signatures."""

from __future__ import annotations

import logging

from infrastructure.log_safety import SafeRecords


def record(name: str, msg: str, args: tuple[object, ...] = (), exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("SELECT * FROM users WHERE password='hunter2'")
        except ValueError as error:
            exc_info = (ValueError, error, error.__traceback__)
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def formatted(r: logging.LogRecord) -> str:
    assert SafeRecords().filter(r)
    handler = logging.StreamHandler()
    return handler.format(r)


def test_traceback_is_replaced_by_the_exception_type() -> None:
    text = formatted(record("app", "job %s failed", ("42",), exc=True))
    assert text == "job 42 failed [ValueError]"
    assert "hunter2" not in text and "Traceback" not in text


def test_credentials_in_messages_are_redacted() -> None:
    text = formatted(record("app", "connect failed: postgresql://svc:s3cretpw@db/x password=abc123"))
    assert "s3cretpw" not in text and "abc123" not in text


def test_access_log_keeps_paths_but_not_signatures() -> None:
    line = '127.0.0.1 - "GET /v1/files/exports/a/b.csv?sig=abc.def-ghi HTTP/1.1" 200'
    text = formatted(record("uvicorn.access", "%s", (line,)))
    assert "/v1/files/exports/a/b.csv" in text and "abc.def-ghi" not in text
