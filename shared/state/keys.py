"""Reversible encoding of ids into Azure Table Storage PartitionKey/RowKey values.

Table keys may not contain ``/ \\ # ?`` nor the control characters U+0000-U+001F and U+007F-U+009F,
and are at most 1 KiB (512 UTF-16 code units). Azurite does not enforce all of this, so the store does.
Graph event ids contain ``/``, ``+`` and ``=``; ERP ids and iCalUIds are anything the other side sent.

Encoding: each character that is forbidden, plus ``~`` (the escape), ``|`` (the separator of composite
row keys, so a prefix range query can never match the wrong id), ``%`` and ``'`` (both mishandled by
some URL/OData layers between the SDK and the service) becomes ``~`` and two upper-case hex digits.
Every escaped character is at most U+00FF, so two digits always suffice. Everything else, including
non-ASCII letters, is kept, which keeps keys readable in Storage Explorer.
"""

from __future__ import annotations

import re

from shared.errors import StateLimitExceeded

ESCAPE = "~"
SEPARATOR = "|"
# A key is at most 1 KiB; the service counts UTF-16, two bytes a code unit.
MAX_KEY_UTF16_UNITS = 512

_FORBIDDEN = frozenset("/\\#?") | frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
_ESCAPED = _FORBIDDEN | frozenset({ESCAPE, SEPARATOR, "%", "'"})
_HEX = frozenset("0123456789ABCDEF")
# The checks run over every key of every write; as regular expressions they run in C (issue 12: character by
# character they were a tenth of the Table side's CPU in an initial sync).
_FORBIDDEN_RE = re.compile("[" + "".join(sorted(re.escape(c) for c in _FORBIDDEN)) + "]")
_ESCAPED_RE = re.compile("[" + "".join(sorted(re.escape(c) for c in _ESCAPED)) + "]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def is_forbidden_in_key(char: str) -> bool:
    """True for the characters the Table service refuses in PartitionKey and RowKey."""
    return char in _FORBIDDEN


def utf16_units(text: str) -> int:
    """Length as the Table service counts it (UTF-16 code units)."""
    # Encoding runs in C: counting character by character was a tenth of an initial sync's CPU (issue 12).
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def encode_part(value: str) -> str:
    """One id as a key part: forbidden and reserved characters escaped, everything else kept."""
    if _SURROGATE_RE.search(value):
        raise StateLimitExceeded("a key value contains a lone surrogate, which is not valid Unicode")
    return _ESCAPED_RE.sub(lambda found: f"{ESCAPE}{ord(found.group()):02X}", value)


def decode_part(encoded: str) -> str:
    """The id ``encode_part`` encoded; raises ValueError on text it cannot have produced."""
    out: list[str] = []
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char == ESCAPE:
            digits = encoded[index + 1 : index + 3]
            if len(digits) != 2 or not set(digits) <= _HEX:
                raise ValueError(f"malformed escape at {index} in key {encoded!r}")
            out.append(chr(int(digits, 16)))
            index += 3
        else:
            out.append(char)
            index += 1
    return "".join(out)


def make_key(*parts: str, what: str = "key") -> str:
    """A key of one or more encoded parts joined by ``|``; refuses empty and over-long keys."""
    if not parts or any(part == "" for part in parts):
        raise StateLimitExceeded(f"{what}: an empty id cannot be a Table key part")
    key = SEPARATOR.join(encode_part(part) for part in parts)
    check_key(key, what=what)
    return key


def check_key(key: str, *, what: str = "key") -> None:
    """Refuse a key the Table service would refuse (character set, 1 KiB)."""
    if _FORBIDDEN_RE.search(key):
        raise StateLimitExceeded(f"{what} contains a character Table Storage forbids in keys")
    if utf16_units(key) > MAX_KEY_UTF16_UNITS:
        raise StateLimitExceeded(
            f"{what} is {utf16_units(key)} UTF-16 code units once encoded; Table Storage allows {MAX_KEY_UTF16_UNITS}"
        )


def split_key(key: str) -> list[str]:
    """The decoded parts of a key ``make_key`` built."""
    return [decode_part(part) for part in key.split(SEPARATOR)]


def prefix_range(*parts: str) -> tuple[str, str]:
    """``(low, high)`` so that ``low <= RowKey < high`` selects every key starting with these parts.

    ``|`` is escaped inside parts, so the range ends just after the separator (``}`` follows ``|``).
    """
    prefix = SEPARATOR.join(encode_part(part) for part in parts) + SEPARATOR
    return prefix, prefix[:-1] + chr(ord(SEPARATOR) + 1)
