"""Field mapping between an M365 event, the neutral item and an ERP activity (R12-R17, R19, R21)."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.core.activities import AccessLevel, ActivityType, Contact, ErpUser, Facility, Origin, ParticipantKind
from shared.core.directory import Directory
from shared.core.fingerprint import fingerprint
from shared.core.items import Attendee, AttendeeRole, Field, ItemKind, Sensitivity, Side
from shared.core.mapping import (
    activity_fields,
    event_write,
    item_from_activity,
    item_from_event,
    rooms_unresolved,
    with_booked_rooms,
)
from shared.core.timezones import UnknownTimeZone, to_iana, to_windows
from tests.core.builders import activity, event

USER = ErpUser(
    id="u1", display_name="Ann", email="ann@contoso.com", default_company_id="c1", default_location_id="loc1"
)
ORIGIN = Origin(mailbox="ann@contoso.com", event_id="e1")


def test_windows_zone_names_map_to_iana_and_back() -> None:
    """R12: Windows time zone names are mapped to IANA (CLDR windowsZones)."""
    assert to_iana("W. Europe Standard Time") == "Europe/Berlin"
    assert to_iana("Pacific Standard Time") == "America/Los_Angeles"
    assert to_iana("Europe/Paris") == "Europe/Paris"
    assert to_windows("Europe/Berlin") == "W. Europe Standard Time"


def test_an_unknown_zone_name_is_a_clear_error() -> None:
    """An odd time zone is refused with its name, never silently guessed."""
    with pytest.raises(UnknownTimeZone, match="Mars/Olympus"):
        to_iana("Mars/Olympus")


def test_times_are_kept_exactly_across_zones() -> None:
    """R12: an event at 08:00 UTC in Berlin becomes a 09:00 Berlin wall-clock activity."""
    ev = event(
        start=datetime.fromisoformat("2026-12-02T08:00:00+00:00"),
        end=datetime.fromisoformat("2026-12-02T09:30:00+00:00"),
        time_zone="Europe/Berlin",
    )
    fields = activity_fields(
        item_from_event(ev, kind=ItemKind.MEETING, conflict_category="Sync conflict"),
        user=USER,
        origin=ORIGIN,
        directory=Directory(),
    )
    assert (fields.start, fields.end, fields.time_zone) == (
        datetime(2026, 12, 2, 9, 0),
        datetime(2026, 12, 2, 10, 30),
        "Europe/Berlin",
    )


def test_all_day_free_becomes_no_specified_time_and_busy_becomes_all_day() -> None:
    """R13: all-day + free → no specified time; all-day + busy → an all-day activity."""
    day = {
        "is_all_day": True,
        "start": datetime.fromisoformat("2026-12-03T00:00:00+00:00"),
        "end": datetime.fromisoformat("2026-12-04T00:00:00+00:00"),
        "time_zone": "UTC",
    }
    free = activity_fields(
        item_from_event(event(show_as="free", **day), kind=ItemKind.MEETING, conflict_category="x"),
        user=USER,
        origin=ORIGIN,
        directory=Directory(),
    )
    busy = activity_fields(
        item_from_event(event(show_as="busy", **day), kind=ItemKind.MEETING, conflict_category="x"),
        user=USER,
        origin=ORIGIN,
        directory=Directory(),
    )
    assert (free.no_specified_time, free.all_day) == (True, False)
    assert (busy.no_specified_time, busy.all_day) == (False, True)


def test_multi_day_all_day_activity_keeps_its_exact_dates() -> None:
    """R14: a three-day all-day activity is midnight-to-midnight over the same dates in Outlook."""
    act = activity(all_day=True, start=datetime(2026, 12, 7), end=datetime(2026, 12, 10))
    write = event_write(item_from_activity(act), tuple(Field), origin=Side.ERP)
    assert (write.start, write.end, write.is_all_day) == (datetime(2026, 12, 7), datetime(2026, 12, 10), True)


@pytest.mark.parametrize(
    ("level", "sensitivity"),
    [(AccessLevel.PUBLIC, "normal"), (AccessLevel.PRIVATE, "private"), (AccessLevel.SHOW_AS_BUSY, "private")],
)
def test_access_level_erp_to_m365(level: AccessLevel, sensitivity: str) -> None:
    """R17: Public → normal, Private → private, Show as Busy → private."""
    write = event_write(item_from_activity(activity(access_level=level)), [Field.SENSITIVITY], origin=Side.ERP)
    assert write.sensitivity == sensitivity


@pytest.mark.parametrize(
    ("sensitivity", "level"),
    [
        ("normal", AccessLevel.PUBLIC),
        ("private", AccessLevel.SHOW_AS_BUSY),
        ("personal", AccessLevel.SHOW_AS_BUSY),
        ("confidential", AccessLevel.SHOW_AS_BUSY),
    ],
)
def test_access_level_m365_to_erp(sensitivity: str, level: AccessLevel) -> None:
    """R17: normal → Public; private, personal, confidential → Show as Busy."""
    item = item_from_event(event(sensitivity=sensitivity), kind=ItemKind.MEETING, conflict_category="x")
    assert activity_fields(item, user=USER, origin=ORIGIN, directory=Directory()).access_level is level


def test_task_event_title_and_body_link_back_to_the_erp() -> None:
    """R19: "Task: <subject>", with the contact and a link to open the activity in the body."""
    act = activity(
        type=ActivityType.TASK,
        subject="Create a quote",
        description="For the new line",
        web_url="https://erp.example.com/activities/act-1",
    )
    write = event_write(
        item_from_activity(act),
        tuple(Field),
        origin=Side.ERP,
        web_url=act.web_url,
        contact_lines=("Contact: Carla Diaz, Fabrikam, +1 555 0100, carla@fabrikam.com",),
    )
    assert write.subject == "Task: Create a quote"
    assert write.body is not None
    assert "Open activity: https://erp.example.com/activities/act-1" in write.body
    assert "Carla Diaz, Fabrikam" in write.body


def test_erp_meeting_title_names_type_and_company() -> None:
    """R21: "Meeting: <subject> – <company>"."""
    write = event_write(
        item_from_activity(activity(subject="Kick-off")), [Field.SUBJECT], origin=Side.ERP, company_name="Fabrikam"
    )
    assert write.subject == "Meeting: Kick-off – Fabrikam"


def test_outlook_born_meeting_keeps_its_own_title() -> None:
    """R21 applies to ERP-born items only: an Outlook meeting's subject is written back unchanged."""
    write = event_write(item_from_activity(activity(subject="Lunch")), [Field.SUBJECT], origin=Side.M365)
    assert write.subject == "Lunch"


def test_attendees_become_users_contacts_facilities_or_plain_attendees() -> None:
    """R15/R16: users → registered users, contacts → contact and company, rooms → facility, others kept."""
    directory = Directory.build(
        users=[USER, ErpUser(id="u2", display_name="Bob", email="bob@contoso.com")],
        contacts=[Contact(id="k1", name="Carla", email="carla@fabrikam.com", company_id="co9")],
        facilities=[Facility(id="f1", name="Room 1", room_mailbox="room1@contoso.com")],
    )
    ev = event(
        attendees=(
            Attendee(email="bob@contoso.com"),
            Attendee(email="carla@fabrikam.com"),
            Attendee(email="room1@contoso.com", role=AttendeeRole.RESOURCE),
            Attendee(email="stranger@example.org"),
        )
    )
    fields = activity_fields(
        item_from_event(ev, kind=ItemKind.MEETING, conflict_category="x"), user=USER, origin=ORIGIN, directory=directory
    )
    assert fields.registered_user_ids == ("u2",)
    assert fields.contact_ids == ("k1",)
    assert fields.company_id == "co9"
    assert fields.facility_ids == ("f1",)
    kinds = {p.email: p.kind for p in fields.participants}
    assert kinds["stranger@example.org"] is ParticipantKind.EXTERNAL


def test_conflict_marker_category_is_not_a_change() -> None:
    """R7: adding the "Sync conflict" category to an event does not count as a user edit."""
    plain = item_from_event(event(categories=("Blue",)), kind=ItemKind.MEETING, conflict_category="Sync conflict")
    marked = item_from_event(
        event(categories=("Blue", "Sync conflict")), kind=ItemKind.MEETING, conflict_category="Sync conflict"
    )
    assert fingerprint(plain) == fingerprint(marked)


def test_whitespace_reflow_of_the_body_is_not_a_change() -> None:
    """Graph reflows line endings; only real content changes are changes (vdirsyncer-style hashes)."""
    a = item_from_event(event(body="Line one\r\nLine two  "), kind=ItemKind.MEETING, conflict_category="x")
    b = item_from_event(event(body="Line one\nLine two"), kind=ItemKind.MEETING, conflict_category="x")
    assert fingerprint(a)[Field.BODY] == fingerprint(b)[Field.BODY]


def test_private_in_erp_reads_as_private_neutral_item() -> None:
    """R17: both Private and Show as Busy are private in neutral form."""
    assert item_from_activity(activity(access_level=AccessLevel.PRIVATE)).sensitivity is Sensitivity.PRIVATE


FJORD = Facility(id="F-FJORD", name="Fjord room", room_mailbox="Fjord@contoso.example")


def test_facility_booked_in_the_erp_is_a_room_attendee_and_the_location_in_outlook() -> None:
    """R16: an ERP meeting booking "Fjord room" (room mailbox fjord@…) is written to Outlook with the room as a
    resource attendee and as the location (display name and room address), as Outlook books a room."""
    act = activity(facility_ids=("F-FJORD",))
    assert rooms_unresolved(act)
    write = event_write(item_from_activity(with_booked_rooms(act, {"F-FJORD": FJORD})), tuple(Field), origin=Side.ERP)
    assert write.attendees == (Attendee(email="fjord@contoso.example", name="Fjord room", role=AttendeeRole.RESOURCE),)
    assert (write.location, write.location_email) == ("Fjord room", "fjord@contoso.example")


def test_room_rows_are_added_once_and_only_for_facilities_with_a_room_mailbox() -> None:
    """R16: resolving rooms again changes nothing (fingerprints stay put, R5); a facility without a room
    mailbox, an unknown one, or one already a participant adds no row."""
    van = Facility(id="F-VAN", name="Van")
    act = activity(facility_ids=("F-FJORD", "F-VAN", "F-GONE"))
    facilities = {"F-FJORD": FJORD, "F-VAN": van}
    once = with_booked_rooms(act, facilities)
    assert with_booked_rooms(once, facilities) == once
    assert fingerprint(item_from_activity(with_booked_rooms(once, facilities))) == fingerprint(item_from_activity(once))
    assert [(p.kind, p.ref_id) for p in once.participants] == [(ParticipantKind.FACILITY, "F-FJORD")]
    assert with_booked_rooms(activity(), facilities) == activity()
    assert not rooms_unresolved(activity())


def test_room_booked_from_outlook_reads_the_same_as_one_booked_in_the_erp() -> None:
    """R16 both ways: the activity an Outlook room booking made (facility row + facility id) and an ERP
    booking of the same room give the same attendees, so neither side sees a change."""
    directory = Directory.build(facilities=[FJORD])
    ev = event(attendees=(Attendee(email="fjord@contoso.example", name="Fjord room", role=AttendeeRole.RESOURCE),))
    fields = activity_fields(
        item_from_event(ev, kind=ItemKind.MEETING, conflict_category="x"), user=USER, origin=ORIGIN, directory=directory
    )
    from_outlook = activity(participants=fields.participants, facility_ids=fields.facility_ids)
    from_erp = with_booked_rooms(activity(facility_ids=("F-FJORD",)), {"F-FJORD": FJORD})
    assert with_booked_rooms(from_outlook, {"F-FJORD": FJORD}) == from_outlook
    assert (
        fingerprint(item_from_activity(from_outlook))[Field.ATTENDEES]
        == fingerprint(item_from_activity(from_erp))[Field.ATTENDEES]
    )
