"""Outside text in log lines and issue text: escaped and cut, so it can never forge or flood a log line.

Anything an HTTP caller, Graph or the ERP sent (ids, tokens, reasons) goes through ``outside()`` before it
reaches a log call: ``repr`` escapes newlines, other control characters, Unicode line separators, bidi
overrides and lone surrogates, and the result is cut to a fixed number of characters. Error text shown to
the admin goes through ``safe_text()``, which also masks secrets and credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SHOWN_CHARS = 80


def outside(value: object, *, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` as one quoted, escaped log token of at most ``limit`` characters of its text."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}…(+{len(text) - limit} chars)"


SAFE_TEXT_LIMIT = 300
# Credentials that may hide in an error's text (connection strings, SAS, bearer tokens, form fields).
_CREDENTIAL = re.compile(
    r"(?i)\b(accountkey|sharedaccesssignature|sig|password|client_secret|secret|access_token|token|api[_-]?key)"
    r"(\s*[=:]\s*)[^\s;&,]+"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s,;]+")


def safe_text(text: str, *, secrets: Iterable[str] = (), limit: int = SAFE_TEXT_LIMIT) -> str:
    """Outside text fit for an issue or a log line: secrets and credentials masked, control characters
    escaped (one line, no terminal tricks), at most ``limit`` characters."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    text = _BEARER.sub("Bearer [secret]", _CREDENTIAL.sub(r"\1\2[secret]", text))
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"
