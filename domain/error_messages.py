"""Cleaning of error messages before they enter an event.

Events are kept forever and shown on dashboards, so a message coming out of an integration must
not carry stack traces, file system paths or credentials (seed 003: "error_message must not contain
raw stack traces or credentials; sanitise before storage"). The order is fixed and matters:

1. control characters go first, so a NUL inside ``pass\\x00word=`` cannot hide a key;
2. secrets are redacted: every pattern is matched on the same text and the union of the matched
   spans is replaced, so one pattern eating part of another's match cannot leave a remainder;
3. traceback frames and paths are removed, then secrets are redacted once more (removal only
   deletes text, the second pass is cheap insurance);
4. only then is the result cut to ``MAX_LENGTH``: a cut can halve the placeholder, never a secret.

Redaction errs on the side of removing too much (e.g. any run of 32+ base64 characters).
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 2000
REDACTED = "[REDACTED]"
PATH = "[path]"
TRUNCATED = "…[truncated]"

_I = re.IGNORECASE

#: Keys whose value is a credential; matched anywhere inside a longer key (`client_secret`).
_KEYWORDS = (
    r"passw(?:or)?d|pwd|api[_ -]?key|secret|token|access[_-]?key|private[_-]?key"
    r"|credentials?|session[_-]?id|authorization|auth"
)
_KEY = rf"(?:{_KEYWORDS})[A-Za-z0-9_-]*"
_SCHEME = r"(?:(?:bearer|basic|token|digest|negotiate|apikey)[ \t]+)?"
#: A value: quoted (closing quote optional: a cut message redacts to the end of the line) or bare.
_VALUE = r"(?!\[REDACTED\])(?:\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?|" + _SCHEME + r"\S+)"

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Private key blocks; without an END line everything after BEGIN goes.
    re.compile(
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*-----|\Z)",
        re.DOTALL | _I,
    ),
    # Cookies: the whole rest of the line (several name=value pairs).
    re.compile(r"(?:set-)?cookie[\"']?[ \t]*[:=][ \t]*(?P<v>[^\n]+)", _I),
    # key=value, key: value, "key": "value", key = 'value', Authorization: Bearer x.
    re.compile(rf"{_KEY}[\"']?[ \t]*(?:=>|[:=])[ \t]*(?P<v>{_VALUE})", _I),
    # <password>value</password>
    re.compile(rf"<{_KEY}>(?P<v>[^<]*)", _I),
    # Bare bearer tokens.
    re.compile(r"bearer[ \t]+(?P<v>[^\s\"',;]+)", _I),
    # JWTs, also a lone header/payload segment.
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"),
    # Credentials in URLs: scheme://user:password@host (the whole userinfo goes).
    re.compile(r"[a-z][a-z0-9+.-]*://(?P<v>[^\s/?#]*@)", _I),
    # AWS access key ids.
    re.compile(r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}"),
    # Long hex (>= 32) and long base64 / base64url (>= 32) runs.
    re.compile(r"[0-9A-Fa-f]{32,}"),
    re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}"),
)

#: Ids are useful in a message and no secret; they are 36 base64url characters long though.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", _I)

_TRACEBACK_HEADER = re.compile(
    r"^\s*(?:Traceback \(most recent call last\):|During handling of the above exception"
    r"|The above exception was the direct cause of the following exception)",
    _I,
)
_FRAME_LINE = re.compile(r"^(?P<indent>[ \t]*)File \"[^\"\n]*\", line \d+")
_FRAME_INLINE = re.compile(r"File \"[^\"\n]*\", line \d+(?:, in [^\s,]+)?")
#: JavaScript/Deno (`    at f (file:///x.ts:1:2)`), Java and Dart (`#0  main (...)`) frames.
_FOREIGN_FRAME = re.compile(
    r"^(?:[ \t]+at (?:async )?(?:\S+ \(.*:\d+\)|\S+\(.*\)|\S+:\d+(?::\d+)?)"
    r"|#\d+[ \t]+\S+.*\(.*:\d+(?::\d+)?\))$"
)

_PATHS = re.compile(
    r"file://[^\s\"'<>]+"
    r"|(?<![\w:/.~-])(?:~|\.{1,2})?/[\w.@+~-]+(?:/[\w.@+~-]*)+"
    r"|(?<![\w])[A-Za-z]:\\[^\s\"'<>|*?]*"
    r"|\\\\[\w.$-]+\\[^\s\"'<>|*?]*"
)


def sanitize_error_message(text: str) -> str:
    """The message without control characters, credentials, tracebacks and paths, cut to 2000."""
    cleaned = _redact(_strip_control(text))
    cleaned = _redact(_PATHS.sub(PATH, _strip_tracebacks(cleaned)))
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    if len(cleaned) > MAX_LENGTH:
        cleaned = cleaned[: MAX_LENGTH - len(TRUNCATED)] + TRUNCATED
    return cleaned


def _strip_control(text: str) -> str:
    """Drop control and invisible format characters; line separators become newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for char in text:
        if char in "\n\t":
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Zl", "Zp"):
            out.append("\n")
        elif category not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(char)
    return "".join(out)


def _redact(text: str) -> str:
    """Replace the union of every secret pattern's matches by one placeholder per merged span."""
    spans: list[tuple[int, int]] = []
    for pattern in _SECRET_PATTERNS:
        for match in pattern.finditer(text):
            group = "v" if "v" in pattern.groupindex else 0
            start, end = match.span(group)
            if end > start and not _UUID.fullmatch(match.group(0)):
                spans.append((start, end))
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    position = 0
    current_start, current_end = spans[0]
    for start, end in spans[1:]:
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        parts += [text[position:current_start], REDACTED]
        position = current_end
        current_start, current_end = start, end
    parts += [text[position:current_start], REDACTED, text[current_end:]]
    return "".join(parts)


def _strip_tracebacks(text: str) -> str:
    """Drop traceback headers, frame lines and the (more indented) source lines under them."""
    kept: list[str] = []
    frame_indent: int | None = None
    for line in text.split("\n"):
        frame = _FRAME_LINE.match(line)
        if frame:
            frame_indent = len(frame.group("indent").expandtabs())
            continue
        if frame_indent is not None:
            indent = len(line) - len(line.lstrip(" \t"))
            if line.strip() and len(line[:indent].expandtabs()) > frame_indent:
                continue  # the source line or the ^^^^ markers under a frame
            frame_indent = None
        if _TRACEBACK_HEADER.match(line) or _FOREIGN_FRAME.match(line):
            continue
        kept.append(_FRAME_INLINE.sub("", line))
    return "\n".join(kept)
