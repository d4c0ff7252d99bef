"""Graph-like opaque ids. Immutable-style: url-safe base64, so they contain '-' and '_' but no '/', '+' or '='."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import date

# The Byte Array ID that starts every Outlook Global Object ID (MS-OXOCAL 2.2.1.27).
_GOID_PREFIX = "040000008200E00074C5B7101A82E008"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def new_event_id(mailbox_id: str) -> str:
    """Event ids start like Exchange ids (``AAMk``) and are long and opaque."""
    return (
        "AAMk"
        + _b64(uuid.UUID(mailbox_id).bytes if _is_guid(mailbox_id) else mailbox_id.encode()[:16])
        + _b64(secrets.token_bytes(36))
    )


def occurrence_id(master_id: str, original_start_key: str) -> str:
    """Occurrence ids are derived from the master and the original start, as Exchange does."""
    return "AAMkOc" + _b64(f"{master_id}|{original_start_key}".encode())


def parse_occurrence_id(event_id: str) -> tuple[str, str] | None:
    """Inverse of :func:`occurrence_id`; ``None`` when the id is not an occurrence id."""
    if not event_id.startswith("AAMkOc"):
        return None
    body = event_id[6:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    master, sep, key = text.partition("|")
    return (master, key) if sep else None


def new_change_key() -> str:
    return _b64(secrets.token_bytes(18))


def new_ical_uid() -> str:
    return _GOID_PREFIX + "00000000" + secrets.token_hex(28).upper()


def occurrence_ical_uid(series_uid: str, original_day: date) -> str:
    """An occurrence's iCalUId: the series' Global Object ID with the occurrence's original date in its
    year-high, year-low, month and day bytes (MS-OXOCAL 2.2.1.27 PidLidGlobalObjectId; zero in the master's),
    so every copy of one occurrence shares it and each occurrence has its own."""
    if len(series_uid) < 40 or not series_uid.upper().startswith(_GOID_PREFIX):
        return series_uid + original_day.strftime("%Y%m%d")
    stamp = f"{original_day.year:04X}{original_day.month:02X}{original_day.day:02X}"
    return series_uid[:32] + stamp + series_uid[40:]


def new_token() -> str:
    return _b64(secrets.token_bytes(32))


def new_guid() -> str:
    return str(uuid.uuid4())


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
