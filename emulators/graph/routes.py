"""Graph v1.0 handlers: users, events, calendar views, delta, instances, responses, subscriptions, $batch."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from emulators.graph import delta
from emulators.graph.attachments import Attachments
from emulators.graph.dispatch import Call, Dispatcher, Reply, Router, decode_path
from emulators.graph.errors import GraphError, bad_request, error_body
from emulators.graph.events import Instance, Prefer, parse_prefer, render
from emulators.graph.model import StoredEvent, User
from emulators.graph.state import EmulatorState
from emulators.graph.subscriptions import Subscriptions
from emulators.graph.subscriptions import render as render_subscription
from emulators.graph.timezones import parse_query_moment
from emulators.graph.uploads import Uploads

U = r"/users/(?P<user>[^/]+)"
EVENTS = U + r"(?:/calendar)?/events"
EVENT = EVENTS + r"/(?P<event>[^/]+)"
VIEW = U + r"(?:/calendar)?/calendarView"
DELTA = VIEW + r"/(?:delta|delta\(\)|microsoft\.graph\.delta\(\))"
# Page "Get singleValueLegacyExtendedProperty" (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get):
# `eq` on the id, then on a string value one of `eq`, `ne`, `contains(ep/value, …)`, `startswith(ep/value, …)`.
_EXT_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'"
    r"(?:\s+and\s+(?:\1/value\s+(eq|ne)\s+'((?:[^']|'')*)'"
    r"|(contains|startswith)\(\s*\1/value\s*,\s*'((?:[^']|'')*)'\s*\)))?\s*\)$",
    re.IGNORECASE,
)
_EXT_EXPAND = re.compile(
    r"^singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*\))?$", re.IGNORECASE
)
_SIMPLE_FILTER = re.compile(r"^(subject|iCalUId|transactionId)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)
_MAX_BATCH = 20
WEB_BASE = "https://outlook.office365.com/owa/"


class GraphApi:
    """Registers the Graph routes on a router; all handlers work on the shared state."""

    def __init__(self, state: EmulatorState, subscriptions: Subscriptions) -> None:
        self.state = state
        self.subs = subscriptions
        self.router = Router()
        self.dispatcher = Dispatcher(state, self.router)
        r = self.router
        r.add("POST", r"/\$batch", self.batch)
        r.add("GET", r"/users", self.list_users)
        r.add("GET", U, self.get_user)
        r.add("GET", U + r"/calendar", self.get_calendar)
        r.add("GET", EVENTS, self.list_events)
        r.add("POST", EVENTS, self.create_event)
        r.add("GET", EVENTS + r"/(?:delta|delta\(\)|microsoft\.graph\.delta\(\))", self.events_delta)
        r.add("GET", EVENT, self.get_event)
        r.add("PATCH", EVENT, self.update_event)
        r.add("DELETE", EVENT, self.delete_event)
        r.add("GET", EVENT + r"/instances", self.instances)
        r.add("POST", EVENT + r"/(?P<action>accept|decline|tentativelyAccept|cancel)", self.respond)
        r.add("GET", DELTA, self.view_delta)
        r.add("GET", VIEW, self.calendar_view)
        r.add("GET", r"/subscriptions", self.list_subscriptions)
        r.add("POST", r"/subscriptions", self.create_subscription)
        r.add("GET", r"/subscriptions/(?P<sub>[^/]+)", self.get_subscription)
        r.add("PATCH", r"/subscriptions/(?P<sub>[^/]+)", self.renew_subscription)
        r.add("DELETE", r"/subscriptions/(?P<sub>[^/]+)", self.delete_subscription)
        r.add("POST", r"/subscriptions/(?P<sub>[^/]+)/reauthorize", self.reauthorize_subscription)
        Uploads(state, self.dispatcher).register(r)
        Attachments(state, self.dispatcher).register(r)

    # ----- helpers -----
    def _prefer(self, call: Call) -> Prefer:
        return parse_prefer(call.prefer)

    def _reply(self, status: int, body: Any, prefer: Prefer | None = None) -> Reply:
        headers = {}
        if prefer is not None and prefer.applied():
            headers["Preference-Applied"] = prefer.applied()
        return Reply(status=status, body=body, headers=headers)

    def _render(self, inst: Instance, prefer: Prefer, call: Call) -> dict[str, Any]:
        expand = _expand(call)
        select = {s.strip() for s in call.query["$select"].split(",")} if call.query.get("$select") else None
        return render(inst, prefer=prefer, base_web=WEB_BASE, expand_extended=expand, select=select)

    def _context(self, call: Call, user: str, what: str) -> str:
        return f"{call.base_url}/$metadata#users('{quote(user, safe='')}')/{what}"

    def _page(self, call: Call, items: list[dict[str, Any]], context: str, prefer: Prefer, path: str) -> dict[str, Any]:
        top = _int(call.query.get("$top"), self.state.config.default_list_page_size, "$top")
        if prefer.max_page_size and "$top" not in call.query:
            top = prefer.max_page_size
        skip = _int(call.query.get("$skip"), 0, "$skip")
        body: dict[str, Any] = {"@odata.context": context, "value": items[skip : skip + top]}
        if skip + top < len(items):
            query = {k: v for k, v in call.query.items() if k != "$skip"}
            query["$skip"] = str(skip + top)
            encoded = urlencode(query, safe="$(),:/'")
            body["@odata.nextLink"] = f"{call.base_url}{path}?{encoded}"
        return body

    # ----- users -----
    def _user_json(self, u: User) -> dict[str, Any]:
        return {
            "id": u.id,
            "displayName": u.display_name,
            "mail": u.mail,
            "userPrincipalName": u.mail,
            "businessPhones": [],
        }

    async def list_users(self, call: Call, p: dict[str, str]) -> Reply:
        values = [self._user_json(u) for u in self.state.users.values()]
        return Reply(status=200, body={"@odata.context": f"{call.base_url}/$metadata#users", "value": values})

    async def get_user(self, call: Call, p: dict[str, str]) -> Reply:
        try:
            u = self.state.user(p["user"])
        except GraphError:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{p['user']}' does not exist or one of its queried "
                "reference-property objects are not present.",
            ) from None
        return Reply(
            status=200, body={"@odata.context": f"{call.base_url}/$metadata#users/$entity", **self._user_json(u)}
        )

    async def get_calendar(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        return Reply(
            status=200,
            body={
                "@odata.context": self._context(call, p["user"], "calendar/$entity"),
                "id": "AAMkCal" + u.id.replace("-", ""),
                "name": "Calendar",
                "canEdit": True,
                "isDefaultCalendar": True,
                "owner": {"name": u.display_name, "address": u.mail},
            },
        )

    # ----- events -----
    async def list_events(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        events = list(self.state.events_of(u).values())
        events = _filter_events(self.state, events, call.query.get("$filter"))
        events.sort(key=lambda e: e.created)
        items = [self._render(self.state.as_instance(e), prefer, call) for e in events]
        path = urlsplit(call.path).path
        return self._reply(200, self._page(call, items, self._context(call, p["user"], "events"), prefer, path), prefer)

    async def create_event(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        if not isinstance(call.body, dict):
            raise GraphError(400, "RequestBodyRead", "A request body with an event is required.")
        ev, _created = self.state.create_event(u, call.body)
        data = self._render(self.state.as_instance(ev), prefer, call)
        data = {"@odata.context": self._context(call, p["user"], "events/$entity"), **data}
        return self._reply(201, data, prefer)

    async def events_delta(self, call: Call, p: dict[str, str]) -> Reply:
        """``/events/delta`` exists only in beta; v1.0 tracks changes on a calendar view."""
        raise GraphError(400, "BadRequest", "Resource not found for the segment 'delta'.")

    async def get_event(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        inst = self.state.instance(u, p["event"])
        data = {"@odata.context": self._context(call, p["user"], "events/$entity"), **self._render(inst, prefer, call)}
        return self._reply(200, data, prefer)

    async def update_event(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        if not isinstance(call.body, dict):
            raise GraphError(400, "RequestBodyRead", "A request body with event properties is required.")
        _check_if_match(self.state, u, p["event"], call.headers.get("if-match"))
        inst = self.state.update_event(u, p["event"], call.body)
        data = {"@odata.context": self._context(call, p["user"], "events/$entity"), **self._render(inst, prefer, call)}
        return self._reply(200, data, prefer)

    async def delete_event(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        _check_if_match(self.state, u, p["event"], call.headers.get("if-match"))
        self.state.delete_event(u, p["event"])
        return Reply(status=204)

    async def respond(self, call: Call, p: dict[str, str]) -> Reply:
        """accept / tentativelyAccept / decline / cancel (pages "event: accept", "event: decline", "event: cancel").

        ``sendResponse`` defaults to true; with false no response reaches the organizer, so their attendee
        status stays as it was (only a response message updates the organizer's tracking). ``proposedNewTime``
        needs ``sendResponse`` true (page "event: decline": otherwise 400).
        """
        u = self.state.mailbox_user(p["user"])
        raw = call.body if isinstance(call.body, dict) else {}
        # Action parameter names are matched case-insensitively: msgraph-sdk sends "SendResponse", "Comment".
        body = {str(k).lower(): v for k, v in raw.items()}
        unknown = sorted(str(k) for k in raw if str(k).lower() not in {"comment", "sendresponse", "proposednewtime"})
        if unknown:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The parameter '{unknown[0]}' in the request payload is not a valid parameter for the operation.",
            )
        send = body.get("sendresponse", True)
        if send is None:
            send = True
        if not isinstance(send, bool):
            raise GraphError(
                400, "RequestBodyRead", f"Cannot convert the literal '{send}' to the expected type 'Edm.Boolean'."
            )
        if body.get("proposednewtime") is not None and not send:
            raise bad_request("Your request can't be completed. A proposed new time requires sendResponse to be true.")
        action = p["action"].lower()
        if action == "cancel":
            self.state.cancel_event(u, p["event"])
        else:
            response = {"accept": "accepted", "decline": "declined", "tentativelyaccept": "tentativelyAccepted"}
            self.state.respond(u, p["event"], response[action], send_response=send)
        return Reply(status=202)

    async def instances(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        start, end = _window(call)
        inst = self.state.instance(u, p["event"])
        found: list[Instance] = []
        if inst.kind == "seriesMaster":
            found = sorted(self.state.series_instances(inst.event, start, end), key=lambda i: i.start_utc)
        items = [self._render(i, prefer, call) for i in found]
        path = urlsplit(call.path).path
        return self._reply(200, self._page(call, items, self._context(call, p["user"], "events"), prefer, path), prefer)

    async def calendar_view(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        start, end = _window(call)
        view = self.state.calendar_view(u, start, end)
        items = [self._render(i, prefer, call) for i in view]
        if call.query.get("$filter"):
            wanted = {e.id for e in _filter_events(self.state, [i.event for i in view], call.query["$filter"])}
            items = [it for it, i in zip(items, view, strict=True) if i.event.id in wanted]
        path = urlsplit(call.path).path
        return self._reply(
            200, self._page(call, items, self._context(call, p["user"], "calendarView"), prefer, path), prefer
        )

    async def view_delta(self, call: Call, p: dict[str, str]) -> Reply:
        u = self.state.mailbox_user(p["user"])
        prefer = self._prefer(call)
        for option in ("$select", "$filter", "$orderby", "$expand", "$search", "$top", "$skip"):
            if option in call.query:
                raise bad_request(
                    f"The query parameter '{option}' is not supported with change tracking over the "
                    "'CalendarView' resource."
                )
        skip, dtoken = call.query.get("$skiptoken"), call.query.get("$deltatoken")
        if skip is not None or dtoken is not None:
            st = delta.lookup(self.state, skip if skip is not None else str(dtoken))
            if st.mailbox_id != u.id:
                raise delta.sync_state_not_found()
            fresh = skip is None
        else:
            start, end = _window(call)
            st = delta.start(self.state, u, p["user"], start, end)
            fresh = True
        size = prefer.max_page_size or st.page_size or self.state.config.default_delta_page_size
        plain = Prefer(time_zone=prefer.time_zone, body_type=prefer.body_type, immutable_id=prefer.immutable_id)
        items, kind, token = delta.page(
            self.state, u, st, fresh=fresh, page_size=size, render=lambda i: render(i, prefer=plain, base_web=WEB_BASE)
        )
        link = f"{call.base_url}/users/{quote(p['user'], safe='@')}/calendarView/delta?${kind}={token}"
        body: dict[str, Any] = {"@odata.context": f"{call.base_url}/$metadata#Collection(event)", "value": items}
        body["@odata.nextLink" if kind == "skiptoken" else "@odata.deltaLink"] = link
        return self._reply(200, body, prefer)

    # ----- subscriptions -----
    async def list_subscriptions(self, call: Call, p: dict[str, str]) -> Reply:
        current = self.state.now()
        mine = [s for s in self.state.subscriptions.values() if s.app_id == call.app_id and s.is_active(current)]
        values = [render_subscription(s, self.state.config.tenant_id) for s in mine]
        for v in values:
            v.pop("@odata.context")
        return Reply(status=200, body={"@odata.context": f"{call.base_url}/$metadata#subscriptions", "value": values})

    async def create_subscription(self, call: Call, p: dict[str, str]) -> Reply:
        if not isinstance(call.body, dict):
            raise GraphError(400, "InvalidRequest", "A subscription body is required.")
        sub = await self.subs.create(call.app_id, call.body)
        return Reply(status=201, body=render_subscription(sub, self.state.config.tenant_id))

    async def get_subscription(self, call: Call, p: dict[str, str]) -> Reply:
        return Reply(status=200, body=render_subscription(self.subs.get(p["sub"]), self.state.config.tenant_id))

    async def renew_subscription(self, call: Call, p: dict[str, str]) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        sub = self.subs.renew(p["sub"], body)
        return Reply(status=200, body=render_subscription(sub, self.state.config.tenant_id))

    async def delete_subscription(self, call: Call, p: dict[str, str]) -> Reply:
        self.subs.delete(p["sub"])
        return Reply(status=204)

    async def reauthorize_subscription(self, call: Call, p: dict[str, str]) -> Reply:
        self.subs.reauthorize(p["sub"])
        return Reply(status=204)

    # ----- $batch (page "Combine multiple requests in one HTTP call using JSON batching") -----
    async def batch(self, call: Call, p: dict[str, str]) -> Reply:
        requests = call.body.get("requests") if isinstance(call.body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > _MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Number of batch request steps exceeds the maximum of {_MAX_BATCH}.")
        ids_seen: set[str] = set()
        for item in requests:
            if not isinstance(item, dict) or not item.get("id") or not item.get("method") or not item.get("url"):
                raise GraphError(400, "BadRequest", "Each batch request needs an id, a method and a url.")
            if str(item["id"]) in ids_seen:
                raise GraphError(400, "BadRequest", f"Batch request id '{item['id']}' is not unique.")
            ids_seen.add(str(item["id"]))
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            if item.get("body") is not None and "content-type" not in headers:
                raise GraphError(
                    400, "BadRequest", f"Content-Type header must be specified for the body of request '{item['id']}'."
                )
            for dep in item.get("dependsOn") or []:
                if str(dep) not in {str(r.get("id")) for r in requests}:
                    raise GraphError(400, "BadRequest", f"Request '{item['id']}' depends on unknown id '{dep}'.")
        status_of: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        pending = list(requests)
        while pending:
            ready = [r for r in pending if all(str(d) in status_of for d in r.get("dependsOn") or [])]
            if not ready:  # a dependency cycle
                raise GraphError(400, "BadRequest", "The dependsOn graph of the batch has a cycle.")
            for item in ready:
                pending.remove(item)
            # Requests without a pending dependency run side by side, in no set order (page "Combine multiple
            # requests in one HTTP call using JSON batching", https://learn.microsoft.com/en-us/graph/json-batching),
            # and each counts against the mailbox's limits, 4 concurrent requests among them (page "Microsoft
            # Graph throttling limits", Outlook service): a fifth side by side is a 429 of its own.
            answers = await asyncio.gather(*(self._batch_item(call, item, status_of) for item in ready))
            for item, answer in zip(ready, answers, strict=True):
                status_of[str(item["id"])] = answer["status"]
                responses.append(answer)
        return Reply(status=200, body={"responses": responses})

    async def _batch_item(self, call: Call, item: dict[str, Any], status_of: dict[str, int]) -> dict[str, Any]:
        rid = str(item["id"])
        failed = [d for d in item.get("dependsOn") or [] if status_of[str(d)] >= 400]
        if failed:
            message = f"The request depends on '{failed[0]}', which failed."
            return {"id": rid, "status": 424, "headers": {}, "body": error_body("FailedDependency", message)}
        if urlsplit(str(item["url"])).scheme:
            # An item's url is relative to the version (page "JSON batching": "/users", not
            # "https://graph.microsoft.com/v1.0/users"); an absolute one is not found (msgraph-sdk-python#1015).
            segment = str(item["url"]).split("/")[0]
            message = f"Resource not found for the segment '{segment}'."
            return {"id": rid, "status": 400, "headers": {}, "body": error_body("BadRequest", message)}
        reply = await self.dispatcher.run(self._inner(call, item), hold=True)
        out_headers = dict(reply.headers)
        body = reply.body
        if isinstance(body, bytes):
            # Page "JSON batching": a body that is not JSON comes back base64-encoded.
            body = base64.b64encode(body).decode("ascii")
        elif body is not None:
            out_headers.setdefault("Content-Type", "application/json")
        return {"id": rid, "status": reply.status, "headers": out_headers, "body": body}

    def _inner(self, outer: Call, item: dict[str, Any]) -> Call:
        url = str(item["url"])
        parts = urlsplit(url)
        path = parts.path
        if "/v1.0" in path:
            path = path.split("/v1.0", 1)[1]
        if not path.startswith("/"):
            path = "/" + path
        from urllib.parse import parse_qsl

        headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        prefer = [headers["prefer"]] if "prefer" in headers else []
        return Call(
            method=str(item["method"]).upper(),
            path=decode_path(path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            prefer=prefer,
            body=item.get("body"),
            app_id=outer.app_id,
            base_url=outer.base_url,
        )


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option {name}.")
    return int(raw)


def _window(call: Call) -> tuple[Any, Any]:
    start, end = call.query.get("startDateTime"), call.query.get("endDateTime")
    if not start or not end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and "
            "EndDateTime.",
        )
    s, e = parse_query_moment(start), parse_query_moment(end)
    if e <= s:
        raise GraphError(400, "ErrorInvalidParameter", "The parameter 'EndDateTime' must be after 'StartDateTime'.")
    return s, e


def _expand(call: Call) -> str | None:
    raw = call.query.get("$expand")
    if not raw:
        return None
    m = _EXT_EXPAND.match(raw.strip())
    if not m:
        raise GraphError(400, "BadRequest", f"Parsing OData Select and Expand failed: could not find '{raw}'.")
    return (m.group(1) or "").replace("''", "'")


def _filter_events(state: EmulatorState, events: list[StoredEvent], raw: str | None) -> list[StoredEvent]:
    if not raw:
        return events
    text = raw.strip()
    m = _EXT_FILTER.match(text)
    if m:
        prop_id = m.group(2).replace("''", "'")
        op = (m.group(3) or m.group(5) or "").lower()
        raw_value = m.group(4) if m.group(4) is not None else m.group(6)
        value = raw_value.replace("''", "'") if raw_value is not None else None
        return [e for e in events if _extended_matches(e, prop_id, op, value)]
    s = _SIMPLE_FILTER.match(text)
    if s:
        field, value = s.group(1).lower(), s.group(2).replace("''", "'")
        getters: dict[str, Callable[[StoredEvent], str | None]] = {
            "subject": lambda e: e.props.get("subject") or "",
            "icaluid": lambda e: e.ical_uid,
            "transactionid": lambda e: e.transaction_id,
        }
        return [e for e in events if getters[field](e) == value]
    raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")


def _same_property(stored: str, asked: str) -> bool:
    """Property ids compare case-insensitively except the ``Name`` part, which is case-sensitive (page "Get
    singleValueLegacyExtendedProperty": "Filtering the string name (Name) in the id … is case-sensitive")."""
    head_s, sep_s, name_s = stored.partition(" Name ")
    head_a, sep_a, name_a = asked.partition(" Name ")
    return head_s.lower() == head_a.lower() and sep_s.lower() == sep_a.lower() and name_s == name_a


def _extended_matches(ev: StoredEvent, prop_id: str, op: str, value: str | None) -> bool:
    """One event against an extended-property filter; values compare case-insensitively (same page)."""
    for p in ev.extended:
        if not _same_property(str(p["id"]), prop_id):
            continue
        have, want = str(p["value"]).lower(), (value or "").lower()
        if value is None or (op == "eq" and have == want) or (op == "ne" and have != want):
            return True
        if (op == "contains" and want in have) or (op == "startswith" and have.startswith(want)):
            return True
    return False


def _check_if_match(state: EmulatorState, user: User, event_id: str, if_match: str | None) -> None:
    if not if_match or if_match.strip() == "*":
        return
    inst = state.instance(user, event_id)
    if if_match.strip() != f'W/"{inst.change_key}"':
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the "
            "change key passed in the request does not match the current change key for the item.",
        )
