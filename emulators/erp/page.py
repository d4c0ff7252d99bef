"""The HTML page at ``/``: what the ERP holds, for a person watching the demo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from emulators.erp.series import describe
from shared.core.activities import Activity, ErpUser, LeaveRequest

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;font-size:.9rem;vertical-align:top}
th{background:#f4f4f4}.ro{color:#888}.state{font-weight:600}
"""


def _times(start: object, end: object, zone: str, *, all_day: bool, no_time: bool) -> str:
    note = " (all day)" if all_day else " (no specified time)" if no_time else ""
    return f"{start} → {end} {zone}{note}"


def _series(item: Activity) -> str:
    """The series' pattern and exceptions in one line under its times (R28); nothing for a single activity."""
    if item.recurrence is None:
        return ""
    return f'<br><small class="series">{escape(describe(item.recurrence, item.exceptions))}</small>'


def _user(users: Mapping[str, ErpUser], user_id: str) -> str:
    user = users.get(user_id)
    return f"{user.display_name} ({user_id})" if user else user_id


def render_page(
    activities: Sequence[Activity], leave_requests: Sequence[LeaveRequest], users: Mapping[str, ErpUser]
) -> str:
    rows = []
    for item in activities:
        origin = f"M365 {item.origin.mailbox}" if item.origin else "ERP"
        times = _times(item.start, item.end, item.time_zone, all_day=item.all_day, no_time=item.no_specified_time)
        rows.append(
            f'<tr id="activity-{escape(item.id)}" class="{"ro" if item.read_only else ""}">'
            f"<td>{escape(item.subject)}</td><td>{escape(item.type.value)}</td>"
            f'<td class="state">{escape(item.state.value)}</td>'
            f"<td>{escape(times)}{_series(item)}</td>"
            f"<td>{escape(_user(users, item.owner_id))}</td><td>{escape(origin)}</td>"
            f"<td>{len(item.attachments) or ''}</td>"
            f"<td>{item.version}</td><td><code>{escape(item.id)}</code></td></tr>"
        )
    leaves = [
        f"<tr><td>{escape(leave.leave_type)}: {escape(leave.description)}</td><td>{escape(leave.status.value)}</td>"
        f"<td>{escape(_times(leave.start, leave.end, leave.time_zone, all_day=leave.all_day, no_time=False))}</td>"
        f"<td>{escape(_user(users, leave.user_id))}</td><td><code>{escape(leave.id)}</code></td></tr>"
        for leave in leave_requests
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Reference ERP</title>"
        f"<meta http-equiv='refresh' content='10'><style>{STYLE}</style></head><body>"
        f"<h1>Reference ERP</h1><h2>Activities ({len(rows)})</h2>"
        "<table><tr><th>Subject</th><th>Type</th><th>State</th><th>Times</th><th>Owner</th><th>Origin</th>"
        "<th>Files</th><th>Version</th><th>Id</th></tr>"
        + "".join(rows)
        + f"</table><h2>Leave requests ({len(leaves)})</h2>"
        "<table><tr><th>Leave</th><th>Status</th><th>Times</th><th>User</th><th>Id</th></tr>"
        + "".join(leaves)
        + "</table><p>The contract: <a href='/openapi.yaml'>/openapi.yaml</a></p></body></html>"
    )
