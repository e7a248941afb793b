"""Delivery credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with MultiFernet for
key rotation. The key comes from EXPORT_SERVICE_CREDENTIALS_KEY, or, in embedded mode only,
from a file in the data directory generated on first use (mode 0600), like the JWT key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from application.ports import CredentialsUnavailable
from infrastructure.settings import Settings

ENV_NAME = "EXPORT_SERVICE_CREDENTIALS_KEY"
KEY_FILE = "credentials-key"


class CredentialsKeyProblem(CredentialsUnavailable):
    """The key is missing, malformed or does not decrypt what is stored; the message is one
    line naming the variable and never contains a key."""


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def resolve_keys(settings: Settings, generate: bool = True) -> list[str]:
    """The configured keys, newest first. Embedded mode keeps a generated key in the data
    directory; with an external database the variable must be set."""
    if settings.credentials_key is not None:
        return split_keys(settings.credentials_key.get_secret_value())
    if not settings.embedded:
        raise CredentialsKeyProblem(
            f"{ENV_NAME} is not set: it is required with an external DATABASE_URL "
            "(generate one with `export-service credentials-key new`)"
        )
    path = key_file(settings)
    if path.exists():
        return split_keys(path.read_text())
    if not generate:
        raise CredentialsKeyProblem(f"{ENV_NAME} is not set and no key file exists")
    write_key_file(path, [Fernet.generate_key().decode()])
    return split_keys(path.read_text())


def split_keys(value: str) -> list[str]:
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise CredentialsKeyProblem(f"{ENV_NAME} is empty")
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(",".join(keys))
    os.replace(tmp, path)


class CredentialCipher:
    """Encrypts with the first key, decrypts with any; `rotate` re-encrypts with the first."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError):
            raise CredentialsKeyProblem(
                f"{ENV_NAME} is not a valid key (32 url-safe base64-encoded bytes each)"
            ) from None

    def encrypt(self, credentials: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def decrypt(self, token: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise CredentialsKeyProblem(
                f"{ENV_NAME} does not decrypt the stored delivery credentials (wrong key?)"
            ) from None
        return {str(k): str(v) for k, v in data.items()}

    def rotate(self, token: bytes) -> bytes:
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise CredentialsKeyProblem(
                f"{ENV_NAME} does not decrypt the stored delivery credentials (wrong key?)"
            ) from None


class UnavailableCipher:
    """Stands in when no key could be resolved: the service may run (files are always made),
    but storing or using credentials says why it cannot, and `serve`/`worker` stop at start."""

    def __init__(self, problem: CredentialsKeyProblem) -> None:
        self.problem = problem

    def encrypt(self, credentials: dict[str, str]) -> bytes:
        raise self.problem

    def decrypt(self, token: bytes) -> dict[str, str]:
        raise self.problem

    def rotate(self, token: bytes) -> bytes:
        raise self.problem


def cipher_for(settings: Settings) -> CredentialCipher | UnavailableCipher:
    try:
        return CredentialCipher(resolve_keys(settings))
    except CredentialsKeyProblem as problem:
        return UnavailableCipher(problem)
