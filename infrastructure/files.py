"""Generated files: stored through fsspec (a local directory or e.g. s3://) and signed URLs."""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, BinaryIO, cast

import fsspec
from itsdangerous import BadSignature, URLSafeSerializer

from application.ports import StoredFile

#: The suffix of a file while it is written (renamed to its own name once complete).
UNFINISHED_WRITE = ".part"


class UnsafePath(ValueError):
    pass


def safe_relative(path: str) -> str:
    norm = posixpath.normpath(path)
    if path.startswith("/") or norm.startswith("..") or "\x00" in path or norm in ("", "."):
        raise UnsafePath(path)
    return norm


class FsspecStorage:
    """Writes atomically (temp name, then move) and hashes while streaming."""

    def __init__(self, base_url: str) -> None:
        self.fs, root = fsspec.core.url_to_fs(base_url)
        self.root = root.rstrip("/")
        self.fs.makedirs(self.root, exist_ok=True)

    def _full(self, path: str) -> str:
        return f"{self.root}/{safe_relative(path)}"

    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile:
        full = self._full(path)
        self.fs.makedirs(posixpath.dirname(full), exist_ok=True)
        tmp = f"{full}.{uuid.uuid4().hex}{UNFINISHED_WRITE}"
        digest = hashlib.sha256()
        size = 0
        try:
            with self.fs.open(tmp, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            self.fs.mv(tmp, full)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
        return StoredFile(safe_relative(path), size, digest.hexdigest(), content_type)

    def open(self, path: str) -> BinaryIO:
        return cast(BinaryIO, self.fs.open(self._full(path), "rb"))

    def exists(self, path: str) -> bool:
        try:
            return bool(self.fs.exists(self._full(path)))
        except UnsafePath:
            return False

    def move(self, source: str, target: str) -> None:
        """A rename on a local disk (one step: readers see the old file or the new one)."""
        full = self._full(target)
        self.fs.makedirs(posixpath.dirname(full), exist_ok=True)
        self.fs.mv(self._full(source), full)

    def remove(self, path: str) -> None:
        full = self._full(path)
        if self.fs.exists(full):
            self.fs.rm(full)

    def remove_unfinished(self, suffix: str, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        found: dict[str, dict[str, Any]] = (
            self.fs.find(self.root, detail=True) if self.fs.exists(self.root) else {})
        removed = []
        for full, info in found.items():
            if not full.endswith((suffix, UNFINISHED_WRITE)):
                continue
            changed = _changed_at(info)
            if changed is None or changed >= cutoff:
                continue
            with contextlib.suppress(FileNotFoundError):  # another sweeper was first
                self.fs.rm(full)
            removed.append(full[len(self.root) + 1:])
        return sorted(removed)


def _changed_at(info: dict[str, Any]) -> float | None:
    """When a listed file last changed: `mtime` on a local disk, `LastModified` on S3."""
    changed = info.get("mtime", info.get("LastModified"))
    if isinstance(changed, datetime):
        return changed.timestamp()
    if isinstance(changed, int | float):
        return float(changed)
    return None


class DownloadSigner:
    """A URL valid for one file until its expiry; anything changed fails the signature."""

    #: Expiries are rounded up to this many seconds, so the links of one file signed within
    #: the same stretch are the same link, signed once (a run list shows a link per row on
    #: every refresh). A link is valid for at least the TTL, at most this much longer.
    EXPIRY_STEP_SECONDS = 60

    def __init__(self, secret: str, base_url: str, ttl_seconds: int) -> None:
        self.serializer = URLSafeSerializer(secret, salt="export-service-download")
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl_seconds
        self._signed = lru_cache(maxsize=4096)(self._sign_until)

    def sign(self, path: str, now: float | None = None) -> str:
        step = self.EXPIRY_STEP_SECONDS
        expires = -(-int((now or time.time()) + self.ttl) // step) * step
        return self._signed(path, expires)

    def _sign_until(self, path: str, expires: int) -> str:
        token = self.serializer.dumps({"p": path, "e": expires})
        return f"{self.base_url}/v1/files/{path}?sig={token}"

    def verify(self, path: str, token: str, now: float | None = None) -> bool:
        try:
            payload: Any = self.serializer.loads(token)
        except BadSignature:
            return False
        if not isinstance(payload, dict) or payload.get("p") != path:
            return False
        expires = payload.get("e")
        return isinstance(expires, int) and expires >= (now or time.time())
