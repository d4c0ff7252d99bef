"""The status page as HTML: server-rendered, no script, every value from outside escaped (``html.escape``).

Forms POST to the page itself with the page's ``token`` (see ``shared.admin.auth``); the page works in any
browser, with or without JavaScript. Times are shown in UTC with how long ago or ahead they are.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from shared.admin.view import RETRYABLE, StatusView, UserRow
from shared.state.model import Issue, IssueKind

MAX_PAYLOAD_CHARS = 4000
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f0f0f0}.ok{color:#176b2c}.bad{color:#b3261e;font-weight:600}
.muted{color:#666}.notice{background:#e8f1fb;border:1px solid #9cc3ec;padding:.5rem .8rem}
.problem{background:#fdecea;border:1px solid #f1a8a1;padding:.5rem .8rem}form{display:inline;margin:0}
button{font:inherit;padding:.1rem .5rem;cursor:pointer}pre{white-space:pre-wrap;max-width:60rem;margin:.3rem 0}
"""
HEADERS = (
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def when(at: datetime | None, now: datetime) -> str:
    if at is None:
        return '<span class="muted">–</span>'
    seconds = (at - now).total_seconds()
    size = abs(seconds)
    amount = f"{size:.0f} s" if size < 90 else f"{size / 60:.0f} min" if size < 5400 else f"{size / 3600:.1f} h"
    relative = f"in {amount}" if seconds > 0 else f"{amount} ago"
    return f'{_e(at.strftime("%Y-%m-%d %H:%M:%S UTC"))} <span class="muted">({_e(relative)})</span>'


def _document(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{STYLE}</style></head><body>{body}</body></html>'
    )


def sign_in_page(reason: str, *, key_form: bool, login_path: str | None) -> str:
    parts = [f'<h1>Calendar sync status</h1><p class="problem">{_e(reason)}</p>']
    if key_form:
        parts.append(
            '<form method="post" action="status"><label>Status page key '
            '<input type="password" name="key" autocomplete="current-password" required></label> '
            '<button type="submit">Open the status page</button></form>'
        )
    if login_path:
        parts.append(f'<p><a href="{_e(login_path)}">Sign in with your organisation account</a></p>')
    return _document("Calendar sync status: sign in", "".join(parts))


def _button(token: str, label: str, action: str, **fields: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'
        for name, value in {"token": token, "action": action, **fields}.items()
    )
    return f'<form method="post" action="status">{hidden}<button type="submit">{_e(label)}</button></form>'


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _outcome(outcome: str) -> str:
    css = "ok" if outcome == "ok" else "bad"
    return f'<span class="{css}">{_e(outcome)}</span>'


def _user_cells(row: UserRow, view: StatusView, token: str) -> list[str]:
    run = row.last_run
    lease = row.lease
    held = lease is not None and lease.expires_at > view.now
    counts = ", ".join(f"{_e(k)} {v}" for k, v in sorted(run.counts.items())) if run else ""
    return [
        f'{_e(row.name)}<br><span class="muted">{_e(row.user_id)} · {_e(row.mailbox or "no mailbox")}</span>',
        when(run.finished_at if run else None, view.now),
        (_outcome(run.outcome) + (f'<br><span class="muted">{_e(run.detail)}</span>' if run.detail else ""))
        if run
        else '<span class="muted">never run</span>',
        f"{run.duration_seconds:.1f} s" if run else "",
        counts or '<span class="muted">no writes</span>' if run else "",
        when(run.next_due if run else None, view.now),
        f"held by {_e(lease.owner)} until {when(lease.expires_at, view.now)}" if held and lease else "free",
        _button(token, "Sync now", "sync", user=row.user_id),
    ]


def _item(issue: Issue) -> str:
    ids = [
        f"event {_e(issue.event_id)}" if issue.event_id else "",
        f"activity {_e(issue.activity_id)}" if issue.activity_id else "",
    ]
    return " · ".join(part for part in ids if part) or '<span class="muted">–</span>'


def _payload(issue: Issue) -> str:
    if not issue.payload:
        return '<span class="muted">–</span>'
    text = issue.payload
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > MAX_PAYLOAD_CHARS:
        text = text[:MAX_PAYLOAD_CHARS] + f"\n… ({len(text) - MAX_PAYLOAD_CHARS} more characters)"
    return f"<details><summary>M365 version kept</summary><pre>{_e(text)}</pre></details>"


def _issue_rows(issues: Sequence[Issue], view: StatusView, token: str, *, extra: str = "") -> list[list[str]]:
    rows = []
    for issue in issues:
        cells = [
            _e(issue.user_id),
            _item(issue),
            _e(issue.reason),
            when(issue.last_seen, view.now),
            str(issue.occurrences),
        ]
        if extra == "payload":
            cells.append(_payload(issue))
        elif extra == "retry":
            cells.append(
                _button(token, "Retry", "retry", user=issue.user_id, key=issue.key) if issue.kind in RETRYABLE else ""
            )
        elif extra == "release":
            cells.append(
                _button(token, "Release the deletion", "release", user=issue.user_id, key=issue.key)
                if issue.kind is IssueKind.MASS_DELETE
                else '<span class="muted">released: the next run lets the removals through</span>'
            )
        rows.append(cells)
    return rows


ISSUE_HEADINGS = ["user", "item", "why", "last seen", "times"]


def status_page(view: StatusView, *, admin_name: str, token: str, notice: str = "") -> str:
    parts = [
        "<h1>Calendar sync status</h1>",
        f'<p class="muted">As of {when(view.now, view.now)} · signed in with {_e(admin_name)} · '
        f"{_button(token, 'Refresh', 'refresh')}</p>",
    ]
    if notice:
        parts.append(f'<p class="notice">{_e(notice)}</p>')
    parts += [f'<p class="problem">{_e(problem)}</p>' for problem in view.problems]
    sections: list[tuple[str, str]] = [
        (
            "Users",
            _table(
                ["user", "last run", "outcome", "duration", "writes", "next due", "lease", ""],
                (_user_cells(row, view, token) for row in view.users),
                "No enabled users in the ERP.",
            ),
        ),
        (
            "Halted mass deletions (R11)",
            _table([*ISSUE_HEADINGS, "action"], _issue_rows(view.halted, view, token, extra="release"), "None."),
        ),
        (
            "Conflicts (R7)",
            _table([*ISSUE_HEADINGS, "kept"], _issue_rows(view.conflicts, view, token, extra="payload"), "None."),
        ),
        (
            "Refused items (R13)",
            _table([*ISSUE_HEADINGS, "action"], _issue_rows(view.refused, view, token, extra="retry"), "None."),
        ),
        (
            "Users that cannot be synced (R2)",
            _table(ISSUE_HEADINGS, _issue_rows(view.unsyncable, view, token), "None."),
        ),
        (
            "Failed runs and poisoned work",
            _table([*ISSUE_HEADINGS, "action"], _issue_rows(view.failed_runs, view, token, extra="retry"), "None."),
        ),
        (
            "Copies waiting for their meeting's owner (R10)",
            _table(ISSUE_HEADINGS, _issue_rows(view.waiting, view, token), "None."),
        ),
        ("Other problems", _table(ISSUE_HEADINGS, _issue_rows(view.other, view, token), "None.")),
        (
            "Subscriptions (R32)",
            _table(
                ["user", "mailbox", "expires", "subscription"],
                (
                    [
                        _e(s.user_id),
                        _e(s.mailbox),
                        when(s.expires_at, view.now),
                        f'<span class="muted">{_e(s.subscription_id)}</span>',
                    ]
                    for s in view.subscriptions
                ),
                "No subscriptions (GRAPH_NOTIFICATION_URL empty, or the hourly upkeep has not run yet).",
            ),
        ),
        (
            "Jobs",
            _table(
                ["job", "last run", "outcome", "counts"],
                (
                    [
                        _e(j.name),
                        when(j.at, view.now),
                        _outcome(j.outcome) + (f'<br><span class="muted">{_e(j.detail)}</span>' if j.detail else ""),
                        ", ".join(f"{_e(k)} {v}" for k, v in sorted(j.counts.items())),
                    ]
                    for j in view.jobs
                ),
                "No job has run yet.",
            ),
        ),
    ]
    parts += [f"<h2>{_e(title)}</h2>{content}" for title, content in sections]
    return _document("Calendar sync status", "".join(parts))
