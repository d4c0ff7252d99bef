"""Seeding the reference ERP with master data (and optionally activities) from a JSON document.

Shape (camelCase, as in the contract): ``{"users": [ErpUser...], "companies": [...], "contacts": [...],
"facilities": [...], "activityTypes": [...], "activities": [ActivityFields...], "leaveRequests": [...]}``.
Activities and leave requests go through the same rules as the API, so a seed cannot hold what the API
would refuse; an activity's optional ``"finalState"`` (confirmed, released, closed, voided) is applied
after it is created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulators.erp.store import ErpStore, LeaveRequestFields
from shared.core.activities import ActivityFields, ActivityTypeDefinition, Company, Contact, ErpUser, Facility

DEMO_SEED = Path(__file__).with_name("demo_seed.json")
_ACTION_FOR_STATE = {"released": "release", "closed": "close", "voided": "void", "confirmed": "confirm"}


def seed_store(store: ErpStore, data: dict[str, Any]) -> dict[str, list[str]]:
    """Load ``data`` into ``store``; returns the ids of the activities and leave requests created."""
    for raw in data.get("users", []):
        store.put_user(ErpUser.model_validate(raw))
    for raw in data.get("companies", []):
        store.put_company(Company.model_validate(raw))
    for raw in data.get("contacts", []):
        store.put_contact(Contact.model_validate(raw))
    for raw in data.get("facilities", []):
        store.put_facility(Facility.model_validate(raw))
    known = {kind.code for kind in store.list_activity_types()}
    for raw in data.get("activityTypes", []):
        definition = ActivityTypeDefinition.model_validate(raw)
        if definition.code not in known:
            store.create_activity_type(definition)
    created: dict[str, list[str]] = {"activities": [], "leaveRequests": []}
    for raw in data.get("activities", []):
        final_state = raw.get("finalState")
        activity = store.create_activity(ActivityFields.model_validate(raw), idempotency_key=None).activity
        if final_state in _ACTION_FOR_STATE:
            activity = store.transition_activity(activity.id, _ACTION_FOR_STATE[final_state], version=activity.version)
        created["activities"].append(activity.id)
    for raw in data.get("leaveRequests", []):
        created["leaveRequests"].append(store.create_leave_request(LeaveRequestFields.model_validate(raw)).id)
    return created


def seed_file(db_path: str, seed_path: str | Path) -> dict[str, list[str]]:
    """Seed the SQLite file at ``db_path`` from the JSON file at ``seed_path``."""
    store = ErpStore(db_path)
    try:
        return seed_store(store, json.loads(Path(seed_path).read_text(encoding="utf-8")))
    finally:
        store.close()
