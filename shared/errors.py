"""The project's own small error hierarchy.

Adapters translate wire errors (HTTP status codes, RFC 9457 problem details, Graph error bodies)
into these, so the sync engine decides on meaning (retry later, record a conflict, give up on an
item) without knowing any protocol. Messages never carry secrets.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the service raises on purpose."""


class SettingsError(SyncError):
    """App settings are missing or invalid; the message names each offending setting."""


# --- ERP -------------------------------------------------------------------------------------------


class ErpError(SyncError):
    """The ERP refused or failed a call."""

    def __init__(self, message: str, *, status: int | None = None, problem_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem_type = problem_type


class ErpNotFound(ErpError):
    """The record does not exist (or no longer exists) in the ERP."""


class ErpConflict(ErpError):
    """The write was based on a stale version (optimistic concurrency): re-read and retry."""


class ErpReadOnly(ErpError):
    """The record is in a read-only state (released, closed, voided): R7 makes this a sync conflict."""


class ErpTransient(ErpError):
    """The ERP is unavailable or throttling even after retries: try the whole item again later."""


class ErpInvalid(ErpError):
    """The ERP rejected the input as invalid: recorded for the admin; retrying unchanged will not help."""


class ErpTooLarge(ErpInvalid):
    """The ERP refuses a file over the size it declares (413, R18)."""


# --- Microsoft Graph -------------------------------------------------------------------------------


class GraphError(SyncError):
    """Microsoft Graph refused or failed a call."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphNotFound(GraphError):
    """The event (or mailbox) does not exist."""


class GraphMailboxUnavailable(GraphError):
    """The user has no mailbox Graph can read (MailboxNotEnabledForRESTAPI), or the app may not read it (403
    ErrorAccessDenied: the mailbox is outside its Exchange role assignment's scope): R2 makes the user unsyncable."""


class GraphSyncStateLost(GraphError):
    """The delta token expired or is unknown (410 SyncStateNotFound): restart the window (R4)."""


class GraphTransient(GraphError):
    """Throttled or unavailable after the SDK's own retries; ``retry_after`` seconds when Graph said."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class GraphInvalid(GraphError):
    """Graph rejected the request as invalid (400): recorded for the admin."""


class GraphTooLarge(GraphInvalid):
    """Graph refuses the file: past 150 MB, or past 3 MB in one request (413, R18)."""


# --- State -----------------------------------------------------------------------------------------


class StateConflict(SyncError):
    """Another writer changed the stored entity since it was read (ETag mismatch)."""


class StateLimitExceeded(SyncError):
    """A value would break an Azure Table Storage limit (key characters, 64 KiB strings, 1 MiB entity)."""


class MeetingHeldElsewhere(SyncError):
    """R10: a meeting made with nobody invited gained attendees, but another mailbox's claim names another
    activity for it (that mailbox saw a copy while this owner's sync was off). Listed for the admin."""
