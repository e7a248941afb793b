"""What a read no longer does twice: verify the same bearer token, sign the same download link."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import jwt
import pytest

from infrastructure.files import DownloadSigner
from interfaces.http import auth
from interfaces.http.auth import InvalidToken, Role, decode, mint

SECRET = "s" * 48


@pytest.fixture(autouse=True)
def forget_tokens() -> None:
    auth._verified.clear()


def test_a_token_is_verified_once_and_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint(SECRET, "kari", uuid4(), Role.AUDITOR, ttl_seconds=60)
    checked: list[str] = []
    real = jwt.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        checked.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    first, again = decode(token, SECRET), decode(token, SECRET)
    assert first == again and first.sub == "kari" and len(checked) == 1
    later = auth.time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(InvalidToken):
        decode(token, SECRET)


def test_a_token_known_for_one_secret_is_checked_again_for_another() -> None:
    token = mint(SECRET, "kari", uuid4(), Role.ADMIN)
    decode(token, SECRET)
    with pytest.raises(InvalidToken):
        decode(token, "t" * 48)
    with pytest.raises(InvalidToken):
        decode(token[:-2] + "xx", SECRET)


def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_MAX", 3)
    tokens = [mint(SECRET, f"user-{i}", uuid4(), Role.AUDITOR) for i in range(5)]
    for token in tokens:
        decode(token, SECRET)
    assert len(auth._verified) == 3
    assert [key[1] for key in auth._verified] == tokens[2:]  # the least recently used go


def test_links_signed_within_one_step_are_one_link_valid_at_least_the_ttl() -> None:
    signer = DownloadSigner(SECRET, "http://x", ttl_seconds=900)
    now = 60 * 16_000 + 20 - 900.0  # now + TTL is 20 s into a minute
    first = signer.sign("exports/a.csv", now=now)
    assert signer.sign("exports/a.csv", now=now + 30) == first
    assert signer.sign("exports/b.csv", now=now) != first
    token = first.split("sig=", 1)[1]
    assert signer.verify("exports/a.csv", token, now=now + 900)
    assert not signer.verify("exports/a.csv", token, now=now + 900 + 60)
    assert not signer.verify("exports/b.csv", token, now=now)
    assert signer.sign("exports/a.csv", now=now + 60) != first  # the next step: a new expiry
