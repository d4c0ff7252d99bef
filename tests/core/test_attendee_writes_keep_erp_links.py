"""Writing Outlook's attendees to an activity keeps what only the ERP knows (R15, R27)."""

from __future__ import annotations

from shared.core.activities import Contact, ErpUser, Participant, ParticipantKind, Response
from shared.core.directory import Directory
from shared.core.items import Attendee, Field
from shared.core.mapping import activity_patch, item_from_event
from tests.core.builders import activity, event

DIRECTORY = Directory.build(
    users=[ErpUser(id="u2", display_name="Bob", email="bob@contoso.com")],
    contacts=[Contact(id="c-eve", name="Eve", email="eve@fabrikam.example", company_id="co-fab")],
)


def test_contact_linked_in_the_erp_survives_an_attendee_change_in_outlook() -> None:
    """R15: the ERP linked contact c-old directly (no participant row); adding Eve in Outlook keeps it."""
    current = activity(contact_ids=("c-old",), company_id="co-own")
    ev = event(attendees=(Attendee(email="eve@fabrikam.example"),))
    item = item_from_event(ev, kind=current.type, conflict_category="Sync conflict")  # type: ignore[arg-type]
    patch = activity_patch(item, {Field.ATTENDEES}, owner_id="u1", directory=DIRECTORY, current=current)
    assert patch.contact_ids == ("c-eve", "c-old")
    assert patch.company_id == "co-fab"


def test_contact_removed_as_an_attendee_in_outlook_is_unlinked() -> None:
    """R15: a contact linked through its participant row goes when Outlook drops the attendee."""
    current = activity(
        contact_ids=("c-eve",),
        participants=(Participant(email="eve@fabrikam.example", kind=ParticipantKind.CONTACT, ref_id="c-eve"),),
    )
    ev = event(attendees=())
    item = item_from_event(ev, kind=current.type, conflict_category="Sync conflict")  # type: ignore[arg-type]
    patch = activity_patch(item, {Field.ATTENDEES}, owner_id="u1", directory=DIRECTORY, current=current)
    assert patch.contact_ids == ()
    assert "company_id" not in patch.model_fields_set  # the ERP's company is not cleared by an attendee change


def test_registered_users_own_answer_wins_over_the_organizers_view_of_it() -> None:
    """R27: Bob accepted through his own copy (no response mail): the organizer's event still shows him as
    not responded, and writing its attendees must not undo his answer."""
    current = activity(
        registered_user_ids=("u2",),
        participants=(
            Participant(email="bob@contoso.com", kind=ParticipantKind.USER, ref_id="u2", response=Response.ACCEPTED),
        ),
    )
    ev = event(attendees=(Attendee(email="bob@contoso.com", response="notResponded"),))
    item = item_from_event(ev, kind=current.type, conflict_category="Sync conflict")  # type: ignore[arg-type]
    patch = activity_patch(item, {Field.ATTENDEES}, owner_id="u1", directory=DIRECTORY, current=current)
    assert patch.participants is not None
    assert [p.response for p in patch.participants] == [Response.ACCEPTED]
    assert patch.registered_user_ids == ("u2",)


def test_contacts_answer_from_outlook_keeps_a_person_the_erp_removed_meanwhile_removed() -> None:
    """R27/R6: the ERP took Bob off while Eve (a contact) accepted in her mail system; the organizer's event
    still lists Bob. Writing only the changed answers puts Eve's answer on her row and never adds Bob back."""
    current = activity(
        contact_ids=("c-eve",),
        participants=(Participant(email="eve@fabrikam.example", kind=ParticipantKind.CONTACT, ref_id="c-eve"),),
    )
    ev = event(
        attendees=(
            Attendee(email="eve@fabrikam.example", response="accepted"),
            Attendee(email="bob@contoso.com", response="notResponded"),
        )
    )
    item = item_from_event(ev, kind=current.type, conflict_category="Sync conflict")  # type: ignore[arg-type]
    patch = activity_patch(item, {Field.RESPONSES}, owner_id="u1", directory=DIRECTORY, current=current)
    assert patch.participants is not None
    assert [(p.email, p.response) for p in patch.participants] == [("eve@fabrikam.example", Response.ACCEPTED)]
    assert patch.model_fields_set == {"participants"}  # no references rebuilt from the attendee list
