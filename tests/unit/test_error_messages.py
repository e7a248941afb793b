"""sanitize_error_message: no secret of any kind survives, wherever it sits in the text."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.error_messages import MAX_LENGTH, REDACTED, sanitize_error_message

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALNUM = string.ascii_letters + string.digits
PASSWORD_CHARS = ALNUM + "!#$%&()*+,-./:;<=>?@[]^_{|}~"
#: Secret values long enough that random text cannot contain them by chance.
password = st.text(PASSWORD_CHARS, min_size=8, max_size=40)
alnum_secret = st.text(ALNUM, min_size=12, max_size=40)
hex_key = st.text("0123456789abcdefABCDEF", min_size=32, max_size=80)
base64_key = st.text(ALNUM + "+/_-", min_size=32, max_size=80)
#: Random text, sometimes plain ASCII so that letters and digits sit right next to a secret.
noise = st.one_of(st.text(max_size=120), st.text(string.printable, max_size=120))


@st.composite
def random_case(draw: st.DrawFn, word: str) -> str:
    flags = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if up else c.lower() for c, up in zip(word, flags, strict=True))


@st.composite
def key_value(draw: st.DrawFn) -> tuple[str, str]:
    """`key=value` in the shapes seen in logs, JSON, headers and config dumps."""
    key = draw(
        st.sampled_from(
            [
                "password",
                "passwd",
                "pwd",
                "api_key",
                "apikey",
                "api-key",
                "secret",
                "client_secret",
                "token",
                "access_token",
                "db_password",
            ]
        ).flatmap(random_case)
    )
    value = draw(password)
    shape = draw(
        st.sampled_from(
            [
                "{k}={v}",
                "{k}: {v}",
                "{k} = '{v}'",
                '"{k}": "{v}"',
                "{k}='{v}'",
                '{k}="{v}"',
                "'{k}': '{v}'",
                "{k}:{v}",
            ]
        )
    )
    return shape.format(k=key, v=value), value


@st.composite
def secret(draw: st.DrawFn) -> tuple[str, str]:
    """A credential embedded as it would appear, and the part that must not survive."""
    kind = draw(
        st.sampled_from(
            ["kv", "bearer", "auth_header", "jwt", "url", "hex", "base64", "aws", "private_key"]
        )
    )
    if kind == "kv":
        return draw(key_value())
    if kind == "bearer":
        value = draw(alnum_secret)
        return f"{draw(random_case('bearer'))} {value}", value
    if kind == "auth_header":
        value = draw(alnum_secret)
        scheme = draw(st.sampled_from(["Bearer", "Basic", "Token"]))
        return f"{draw(random_case('authorization'))}: {scheme} {value}", value
    if kind == "jwt":
        parts = [draw(alnum_secret) for _ in range(3)]
        value = f"eyJ{parts[0]}.eyJ{parts[1]}.{parts[2]}"
        return value, parts[1]
    if kind == "url":
        user, value = draw(alnum_secret), draw(password.filter(lambda p: "/" not in p))
        value = value.replace("@", "").replace("?", "").replace("#", "") or "fallbackpw"
        assume(len(value) >= 8)
        return f"https://{user}:{value}@api.example.com/v1", value
    if kind == "hex":
        value = draw(hex_key)
        return value, value
    if kind == "base64":
        value = draw(base64_key)
        return value + draw(st.sampled_from(["", "=", "=="])), value
    if kind == "aws":
        value = "AKIA" + draw(
            st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16)
        )
        return value, value
    body = draw(st.text(ALNUM + "+/", min_size=20, max_size=200))
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    return block, body


@FAST
@given(prefix=noise, embedded=secret(), suffix=noise)
def test_no_secret_survives_anywhere_in_the_text(
    prefix: str, embedded: tuple[str, str], suffix: str
) -> None:
    text, value = embedded
    assume(value not in prefix + REDACTED and value not in suffix)
    assert value not in sanitize_error_message(prefix + text + suffix)


@FAST
@given(prefix=noise, embedded=secret(), filler=st.integers(0, 3000))
def test_cutting_never_leaves_half_a_secret(
    prefix: str, embedded: tuple[str, str], filler: int
) -> None:
    text, value = embedded
    assume(value not in prefix + REDACTED)
    cleaned = sanitize_error_message("x " * (filler // 2) + prefix + text)
    assert len(cleaned) <= MAX_LENGTH
    # Not even an 8-character piece of the secret may be left where the text was cut.
    pieces = {value[i : i + 8] for i in range(len(value) - 7)}
    assert not [p for p in pieces if p in cleaned and p not in prefix and p not in REDACTED]


@FAST
@given(st.text(max_size=6000))
def test_output_is_bounded_and_has_no_control_characters(text: str) -> None:
    cleaned = sanitize_error_message(text)
    assert len(cleaned) <= MAX_LENGTH
    assert all(c in "\n\t" or ord(c) >= 32 for c in cleaned)
    assert not any(0x7F <= ord(c) <= 0x9F for c in cleaned)


WORDS = st.sampled_from(
    [
        "Connection",
        "refused",
        "by",
        "Xledger",
        "API",
        "(HTTP",
        "503)",
        "timeout",
        "after",
        "30s",
        "invalid",
        "account",
        "4010",
        "Dynamics",
        "returned",
        "error:",
        "rate",
        "limited",
        "retry",
        "later.",
        "organisation",
        "not",
        "found",
        "period",
        "2025-01",
    ]
)


@FAST
@given(st.lists(WORDS, min_size=1, max_size=40))
def test_plain_messages_are_preserved(words: list[str]) -> None:
    message = " ".join(words)
    assert sanitize_error_message(message) == message


@pytest.mark.parametrize(
    "message",
    [
        "Connection refused by Xledger API (HTTP 503)",
        "Dynamics returned 429 Too Many Requests; retry after 60 s",
        "Account 4010 is missing in company 01 (period 2025-01-01..2025-01-31)",
        "Run 3fa85f64-5717-4562-b3fc-2c963f66afa6 timed out after 300 s",
        "GET https://api.xledger.net/graphql failed: HTTP 503/504",
        "Password is required",
    ],
)
def test_known_plain_messages_are_kept(message: str) -> None:
    assert sanitize_error_message(message) == message


def test_python_traceback_is_reduced_to_the_error_line() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/infrastructure/xledger.py", line 42, in post\n'
        "    response = client.post(url)\n"
        "               ^^^^^^^^^^^^^^^^\n"
        '  File "/usr/lib/python3.11/site-packages/httpx/_client.py", line 10, in send\n'
        "    raise ConnectError(message)\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "httpx.ConnectError: Connection refused by Xledger API (HTTP 503)"
    )
    assert sanitize_error_message(text) == (
        "httpx.ConnectError: Connection refused by Xledger API (HTTP 503)"
    )


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("cannot open /var/lib/app/secrets/key.pem: denied", "/var/lib"),
        ("cannot open C:\\Users\\bob\\config.ini", "Users"),
        ("error in ./infrastructure/files.py", "infrastructure"),
        ("error at ~/export/out.csv", "export"),
        ("    at sync (file:///srv/fn/index.ts:12:5)\nTypeError: x is undefined", "index.ts"),
        ('File "/app/main.py", line 3, in <module>: boom', "main.py"),
    ],
)
def test_paths_and_foreign_frames_are_removed(text: str, gone: str) -> None:
    assert gone not in sanitize_error_message(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"Password": "p@ss w0rd!", "user": "bob"}', "w0rd"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpw"),
        ("PWD=hunter2", "hunter2"),
        ("postgres://admin:s3cr3t@db.internal:5432/app", "s3cr3t"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "MIIEvQ"),
        ("<password>hunter2</password>", "hunter2"),
        ("pass\x00word=hunter2", "hunter2"),
        ("Cookie: session=abc123; csrftoken=def456", "def456"),
        ("x-api-key => 'k-123456'", "k-123456"),
    ],
)
def test_known_secrets_are_redacted(text: str, value: str) -> None:
    cleaned = sanitize_error_message(text)
    assert value not in cleaned
    assert REDACTED in cleaned


def test_long_message_is_cut_after_redaction() -> None:
    secret_value = "A" * 10 + "b1" * 30
    text = "x" * (MAX_LENGTH - 20) + " token=" + secret_value
    cleaned = sanitize_error_message(text)
    assert len(cleaned) <= MAX_LENGTH
    assert "b1b1" not in cleaned
