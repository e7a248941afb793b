"""The running service: `export-service serve` in a subprocess on a free port, driven by httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SECRET = "e2e-secret-" + "z" * 40
CREDENTIALS_KEY = "ZTJlLWNyZWRlbnRpYWxzLWtleS0zMi1ieXRlcy0hISE="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningService:
    process: subprocess.Popen[str]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def start_service(tmp: Path, env_overrides: dict[str, str], wait: float = 90) -> RunningService:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update({"EXPORT_SERVICE_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1"})
    env.update(env_overrides)
    log_path = tmp / f"serve-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, text=True,
    )
    service = RunningService(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("service exited early:\n" + service.log()[-4000:])
        try:
            if httpx.get(service.base_url + "/readyz", timeout=1).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    service.stop()
    raise AssertionError("service never became ready:\n" + service.log()[-4000:])


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> Iterator[RunningService]:
    """The service on a fresh database of the test server (no demo data)."""
    running = start_service(
        tmp_path, {"DATABASE_URL": db_url, "EXPORT_SERVICE_JWT_SECRET": SECRET,
                   "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY}
    )
    yield running
    running.stop()
