"""What both stand-ins share: scripted faults, request counting, and serving on 127.0.0.1 from
a thread with uvicorn (a real HTTP server: the client under test is never mocked)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.responses import JSONResponse, Response

ASGI = Callable[[Any, Any, Any], Awaitable[None]]


def _opened() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


class DropConnection(Exception):
    """Raised by a handler after it stored what it was sent: the answer is cut off."""


@dataclass
class Faults:
    """Answers to give instead of the real ones, consumed one per API request."""

    #: One entry per request: (status, Retry-After) answers instead; None answers normally.
    script: list[tuple[int, float | None] | None] = field(default_factory=list)
    drop_after_store: int = 0  # this many storing requests lose their answer
    post_delay_seconds: float = 0.0
    #: Posting waits while this is clear: a test holds deliveries until its page is shown.
    posting_open: threading.Event = field(default_factory=lambda: _opened())
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def before_posting(self) -> None:
        """Wait for `posting_open`, then `post_delay_seconds`."""
        while not self.posting_open.is_set():
            await asyncio.sleep(0.02)
        if self.post_delay_seconds:
            await asyncio.sleep(self.post_delay_seconds)

    def next_status(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self.script.pop(0) if self.script else None

    def take_drop(self) -> bool:
        with self.lock:
            if self.drop_after_store > 0:
                self.drop_after_store -= 1
                return True
            return False


def fault_response(status: int, retry_after: float | None) -> JSONResponse:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
    body = {"error": {"code": "TooManyRequests" if status == 429 else "ServiceUnavailable",
                      "message": "try again later"}}
    return JSONResponse(body, status_code=status, headers=headers)


class CutOff(Response):
    """An answer that starts and never finishes: after the handler stored what it was sent,
    the client sees the connection end in the middle of the answer."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"value": [', "more_body": True})
        raise DropConnection()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: ASGI) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stand-in did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
