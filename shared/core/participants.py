"""An event's attendees as the ERP's participant rows and references (R15, R16, R27): who is a registered
user, a contact or a booked facility, and what each answered."""

from __future__ import annotations

from collections.abc import Iterable

from shared.core.activities import Activity, Participant, ParticipantKind, Response
from shared.core.directory import Directory
from shared.core.items import AttendeeRole, CalendarItem

ERP_RESPONSE = {
    "none": Response.NONE,
    "notResponded": Response.NONE,
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
}


def participants_from(item: CalendarItem, directory: Directory, current: Activity | None) -> tuple[Participant, ...]:
    """R15/R16/R27 from the attendees. A registered user's own answer is synced through their own copy of
    the meeting, so the answer the ERP holds for them wins over the organizer's view of it."""
    kept = {(p.kind, p.ref_id): p.response for p in current.participants} if current else {}
    participants = []
    for attendee in item.attendees:
        email = attendee.email.lower()
        if email in directory.facilities:
            kind, ref = ParticipantKind.FACILITY, directory.facilities[email].id
        elif email in directory.users:
            kind, ref = ParticipantKind.USER, directory.users[email].id
        elif email in directory.contacts:
            kind, ref = ParticipantKind.CONTACT, directory.contacts[email].id
        else:
            kind, ref = ParticipantKind.EXTERNAL, None  # R15: kept as a plain attendee, no contact created
        response = ERP_RESPONSE.get(attendee.response, Response.NONE)
        if kind is ParticipantKind.USER and kept.get((kind, ref), Response.NONE) is not Response.NONE:
            response = kept[(kind, ref)]
        participants.append(
            Participant(
                email=email,
                name=attendee.name or None,
                kind=kind,
                ref_id=ref,
                response=response,
                required=attendee.role is not AttendeeRole.OPTIONAL,
            )
        )
    return tuple(participants)


def _linked_directly(current: Activity | None, kind: ParticipantKind, ids: tuple[str, ...]) -> tuple[str, ...]:
    """References the ERP holds without a participant row for them: a person linked them in the ERP, so an
    attendee change in Outlook never drops them (R15)."""
    if current is None:
        return ()
    via_rows = {p.ref_id for p in current.participants if p.kind is kind}
    return tuple(i for i in ids if i not in via_rows)


def references_from(
    item: CalendarItem, directory: Directory, owner_id: str, current: Activity | None
) -> dict[str, object]:
    """R15/R16: registered users, contacts, their company and booked facilities from the attendees."""
    emails = [a.email.lower() for a in item.attendees]
    users = [directory.users[e].id for e in emails if e in directory.users and directory.users[e].id != owner_id]
    contacts = [directory.contacts[e] for e in emails if e in directory.contacts]
    facilities = [directory.facilities[e].id for e in emails if e in directory.facilities]
    companies = {c.company_id for c in contacts if c.company_id}
    values: dict[str, object] = {
        "registered_user_ids": _unique(
            [*users, *_linked_directly(current, ParticipantKind.USER, current.registered_user_ids if current else ())]
        ),
        "contact_ids": _unique(
            [
                *(c.id for c in contacts),
                *_linked_directly(current, ParticipantKind.CONTACT, current.contact_ids if current else ()),
            ]
        ),
        "facility_ids": _unique(
            [*facilities, *_linked_directly(current, ParticipantKind.FACILITY, current.facility_ids if current else ())]
        ),
    }
    if len(companies) == 1:
        values["company_id"] = companies.pop()
    elif current is None:
        values["company_id"] = None
    return values


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in ids if i))


def answers_only(rows: tuple[Participant, ...], current: Activity) -> tuple[Participant, ...]:
    """The ERP's participant rows, each with the answer the event's row for the same person gives."""
    by_ref = {(r.kind, r.ref_id): r.response for r in rows if r.ref_id}
    by_email = {r.email.lower(): r.response for r in rows}

    def answer_of(row: Participant) -> Response:
        if row.ref_id and (row.kind, row.ref_id) in by_ref:
            return by_ref[(row.kind, row.ref_id)]
        return by_email.get(row.email.lower(), row.response)

    return tuple(p.model_copy(update={"response": answer_of(p)}) for p in current.participants)
