"""The reference ERP against docs/erp-sync-api.yaml, so the published contract and the server cannot drift apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
import yaml
from pydantic import BaseModel

from emulators.erp import DEMO_SEED, seed_store
from shared.core import activities as model
from shared.core.attachments import ActivityAttachment
from shared.erp import hook
from tests.erp.conftest import API_KEY, RunningErp

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "erp-sync-api.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))

schema = schemathesis.openapi.from_path(SPEC_PATH)
# Few examples per operation keep the whole folder fast; both valid and invalid input are generated.
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=10,
    deterministic=True,
    database="none",
    # The contract ignores query parameters it does not define, as most HTTP APIs do.
    allow_extra_parameters=False,
)


@pytest.fixture(scope="module")
def spec_erp(running_erp: RunningErp) -> RunningErp:
    """The session's reference ERP holding the demo seed, whose ids the spec's examples use."""
    httpx.post(f"{running_erp.base_url}/_erp/reset", headers={"Authorization": f"Bearer {API_KEY}"})
    seed_store(running_erp.store, json.loads(DEMO_SEED.read_text(encoding="utf-8")))
    return running_erp


@schema.parametrize()
def test_every_answer_of_the_reference_erp_matches_the_contract(case: schemathesis.Case, spec_erp: RunningErp) -> None:
    """Generated calls get documented status codes, content types, headers and bodies, and never a 5xx."""
    case.call_and_validate(
        base_url=spec_erp.base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        # Schema-valid bodies may name records the ERP does not hold; refusing those (422) is the contract.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )


# --- the models (shared/core/activities.py, shared/erp/hook.py) and the spec's schemas say the same thing -----------


def _properties(name: str) -> set[str]:
    schema_: dict[str, Any] = SPEC["components"]["schemas"][name]
    props: set[str] = set(schema_.get("properties", {}))
    for part in schema_.get("allOf", []):
        if "$ref" in part:
            props |= _properties(part["$ref"].rsplit("/", 1)[1])
        props |= set(part.get("properties", {}))
    return props


def _aliases(cls: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in cls.model_fields.items()}


@pytest.mark.parametrize(
    ("schema_name", "model_cls"),
    [
        ("ErpUser", model.ErpUser),
        ("Company", model.Company),
        ("Contact", model.Contact),
        ("Facility", model.Facility),
        ("ActivityTypeDefinition", model.ActivityTypeDefinition),
        ("Participant", model.Participant),
        ("Origin", model.Origin),
        ("ErpCapabilities", model.ErpCapabilities),
        ("RecurrencePattern", model.RecurrencePattern),
        ("RecurrenceRange", model.RecurrenceRange),
        ("Recurrence", model.Recurrence),
        ("OccurrenceException", model.OccurrenceException),
        ("ActivityFields", model.ActivityFields),
        ("Activity", model.Activity),
        ("ActivityPatch", model.ActivityPatch),
        ("ActivityAttachment", ActivityAttachment),
        ("ActivityChange", model.ActivityChange),
        ("LeaveRequest", model.LeaveRequest),
        ("LeaveRequestChange", model.LeaveRequestChange),
        ("HookChange", hook.HookChange),
        ("HookPayload", hook.HookPayload),
    ],
)
def test_spec_schema_has_exactly_the_model_fields(schema_name: str, model_cls: type[BaseModel]) -> None:
    """Each contract schema names the same fields as the pydantic model the adapter parses it with."""
    assert _properties(schema_name) == _aliases(model_cls)


@pytest.mark.parametrize(
    ("schema_name", "enum_cls"),
    [
        ("ActivityType", model.ActivityType),
        ("ActivityState", model.ActivityState),
        ("AccessLevel", model.AccessLevel),
        ("ShowAs", model.ShowAs),
        ("ParticipantKind", model.ParticipantKind),
        ("Response", model.Response),
        ("LeaveStatus", model.LeaveStatus),
        ("PatternType", model.PatternType),
        ("RangeType", model.RangeType),
        ("DayOfWeek", model.DayOfWeek),
        ("WeekIndex", model.WeekIndex),
    ],
)
def test_spec_enum_has_exactly_the_model_values(schema_name: str, enum_cls: type[Any]) -> None:
    """Each contract enum lists the same values as the model's enum."""
    assert SPEC["components"]["schemas"][schema_name]["enum"] == [member.value for member in enum_cls]


def test_spec_read_only_states_are_the_models() -> None:
    """The states the contract calls read-only are the model's READ_ONLY_STATES (R7)."""
    described = SPEC["components"]["schemas"]["ActivityState"]["description"]
    assert {state.value for state in model.READ_ONLY_STATES} == {"released", "closed", "voided"}
    assert all(f"`{state.value}`" in described for state in model.READ_ONLY_STATES)


def _validator(name: str) -> jsonschema_rs.Draft202012Validator:
    # The spec's components ride along in the root document, so its "#/components/..." references resolve.
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    )


async def test_rich_records_on_the_wire_match_the_spec(erp_server: RunningErp) -> None:
    """A fully populated activity (a series with a moved and a cancelled occurrence, R28), its feed page, the
    capabilities and a leave request, as served, validate against the spec."""
    async with httpx.AsyncClient(
        base_url=erp_server.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as client:
        body = {
            "type": "meeting",
            "subject": "Review",
            "start": "2026-12-03T10:00:00",
            "end": "2026-12-03T11:00:00",
            "timeZone": "Europe/Oslo",
            "ownerId": "U1",
            "registeredUserIds": ["U2"],
            "contactIds": ["P1"],
            "companyId": "C1",
            "facilityIds": ["F-ROOM"],
            "categories": ["Blue"],
            "participants": [
                {"email": "frida@fabrikam.example", "kind": "contact", "refId": "P1", "response": "accepted"}
            ],
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2026-12-03", "numberOfOccurrences": 3},
            },
            "exceptions": [
                {"originalStart": "2026-12-04T10:00:00", "start": "2026-12-04T14:00:00", "end": "2026-12-04T15:00:00"},
                {"originalStart": "2026-12-05T10:00:00", "cancelled": True},
            ],
            "origin": {"system": "m365", "mailbox": "alice@contoso.example", "eventId": "AAMk1"},
        }
        created = await client.post("/activities", json=body, headers={"Idempotency-Key": "spec-1"})
        assert created.status_code == 201
        _validator("Activity").validate(created.json())
        assert [item["originalStart"] for item in created.json()["exceptions"]] == [
            "2026-12-04T10:00:00",
            "2026-12-05T10:00:00",
        ]
        _validator("ErpCapabilities").validate((await client.get("/capabilities")).json())
        feed = await client.get("/activity-changes", params={"ownerId": "U1"})
        _validator("ActivityChangePage").validate(feed.json())
        leave = await client.post(
            "/leave-requests",
            json={"userId": "U1", "leaveType": "Sick", "start": "2026-12-07T00:00:00", "end": "2026-12-08T00:00:00"},
        )
        _validator("LeaveRequest").validate(leave.json())
        _validator("LeaveRequestChangePage").validate(
            (await client.get("/leave-request-changes", params={"userId": "U1"})).json()
        )
        problem = await client.get("/activities/nope")
        _validator("Problem").validate(problem.json())
        assert problem.headers["content-type"] == "application/problem+json"


def _example(path: str, method: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]["examples"][name][
        "value"
    ]
    return value


async def test_the_series_examples_are_what_the_reference_erp_does(running_erp: RunningErp) -> None:
    """The contract's series examples (R28) hold on the reference ERP: the weekly series with a moved and a
    cancelled occurrence is created as sent, one more cancelled replaces the list, every other week drops the
    exceptions naming no occurrence any more, and ``recurrence: null`` makes a single activity."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=running_erp.base_url, headers=auth) as client:
        (await client.post("/_erp/reset")).raise_for_status()
        seed_store(running_erp.store, json.loads(DEMO_SEED.read_text(encoding="utf-8")))
        body = _example("/activities", "post", "weeklySeries")
        created = await client.post("/activities", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["exceptions"] == [
            {"start": None, "end": None, "subject": None, "description": None, "location": None, "cancelled": False}
            | item
            for item in body["exceptions"]
        ]
        path, version = f"/activities/{created.json()['id']}", created.json()["version"]
        seen: list[list[str]] = []
        for name in ("occurrenceCancelled", "patternChanged", "singleAgain"):
            answer = await client.patch(
                path, json=_example("/activities/{activityId}", "patch", name), headers={"If-Match": f'"{version}"'}
            )
            assert answer.status_code == 200, (name, answer.text)
            _validator("Activity").validate(answer.json())
            version = answer.json()["version"]
            seen.append([item["originalStart"][:10] for item in answer.json()["exceptions"]])
    assert seen == [["2026-12-10", "2026-12-24", "2027-01-07"], [], []]
