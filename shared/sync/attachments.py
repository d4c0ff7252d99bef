"""R18: a run's file pass — after the run's plan is written, the files of the links whose event or activity
changed are made the same on both sides (``core.attachment_plan`` decides; this module reads, copies, records).

Only for a person whose ERP setting ``sync_attachments`` is on, with an ERP that holds files. Costs nothing for
anyone else. A link's event files are listed only when Graph says the event has attachments or the link has
files already; its activity's files come with the activity. Bytes move as chunks: ERP to Outlook they stream
through; Outlook to ERP they are held once (the ERP wants their SHA-256 before the body), never twice.

A failure on one link's files (throttling, an outage) is recorded as an issue for the admin and that link's
files are tried again on every run while it is open (R31); what was copied before the failure is recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace

from shared.core import attachment_plan as files_plan
from shared.core.activities import Activity, ActivityChange
from shared.core.attachment_plan import (
    CompletePair,
    CopyToErp,
    CopyToOutlook,
    FileAction,
    ForgetPair,
    LinkFiles,
    PairFiles,
    RefuseFile,
    RemoveFromErp,
    RemoveFromOutlook,
)
from shared.core.attachments import GRAPH_UPLOAD_SESSION_LIMIT, AttachmentPair, EventAttachment, FileMeta
from shared.core.items import Side
from shared.core.links import Link
from shared.core.m365 import DeltaEntry
from shared.errors import ErpError, ErpNotFound, ErpTooLarge, GraphError, GraphNotFound, GraphTooLarge
from shared.state.model import IssueKind
from shared.sync import issues
from shared.sync.context import RunContext

ISSUE_PREFIX = "file|"


def issue_key(link: Link, suffix: str = "") -> str:
    """One admin row per link's file trouble (``file|<link>|`` for a failure, ``…|<side>:<file>`` for a refusal)."""
    return f"{ISSUE_PREFIX}{link.link_id}|{suffix}"


async def sync_attachments(
    run: RunContext, links: Sequence[Link], m365: Sequence[DeltaEntry], erp: Sequence[ActivityChange]
) -> None:
    """The file pass of one run (see the module docstring)."""
    if not run.user.sync_attachments:
        return
    has_files = _changed_events(m365)
    activities = {c.activity_id: c.activity for c in erp if c.activity is not None and not c.deleted}
    retried = {key.split("|")[1] for key in run.open_issue_keys if key.startswith(ISSUE_PREFIX)}
    current = {link.link_id: link for link in links} | run.links
    todo = [
        link
        for link in current.values()
        if files_plan.syncs_files(link) and _changed(link, has_files, activities, retried)
    ]
    if not todo:
        return
    capabilities = await run.ports.erp.capabilities()
    if not capabilities.attachments:
        return
    for link in todo:
        await _sync_link(
            run,
            link,
            has_files.get(link.event_id or ""),
            activities.get(link.activity_id or ""),
            capabilities.max_attachment_bytes,
        )


def _changed_events(m365: Sequence[DeltaEntry]) -> dict[str, bool]:
    """Event id → whether Graph says it has attachments, for every event the run saw changed. An occurrence's
    change also names its series' master (R28): a calendar-view delta reports a master's change, a file added
    to the series among them, through its occurrences only."""
    found: dict[str, bool] = {}
    for entry in m365:
        if entry.event is None:
            continue
        found[entry.event_id] = found.get(entry.event_id, False) or entry.event.has_attachments
        master = entry.event.series_master_id
        if master:
            found[master] = found.get(master, False) or entry.event.has_attachments
    return found


def _changed(link: Link, has_files: Mapping[str, bool], activities: Mapping[str, Activity], retried: set[str]) -> bool:
    """Whether the link's files may differ now: its event changed and has (or had) files, or its activity's files
    are not exactly the paired ones (an ERP change; the sync's own copies are paired), or an issue is open."""
    event_has_files, activity = has_files.get(link.event_id or ""), activities.get(link.activity_id or "")
    paired = {pair.activity_attachment_id for pair in link.attachments}
    return (
        link.link_id in retried
        or (event_has_files is not None and (event_has_files or bool(link.attachments)))
        or (activity is not None and {f.id for f in activity.attachments} != paired)
    )


async def _sync_link(
    run: RunContext, link: Link, event_has_files: bool | None, activity: Activity | None, erp_limit: int
) -> None:
    ports, event_id, activity_id = run.ports, link.event_id or "", link.activity_id or ""  # both set: syncs_files
    try:
        if activity is None:
            activity = await ports.erp.get_activity(activity_id)
        # An event the run did not see change may have files nobody told it about: it is listed.
        listed = event_has_files is None or event_has_files or bool(link.attachments)
        event_files = tuple(await ports.calendar.event_attachments(run.mailbox, event_id)) if listed else ()
    except (GraphNotFound, ErpNotFound):
        return  # the item itself is gone: the run's plan (or the next one) deals with the link
    except (GraphError, ErpError) as error:
        await _failed(run, link, error)
        return
    to_erp, to_outlook = files_plan.file_ways(ports.policy, link, mailbox=run.mailbox, user_id=run.user.id)
    files = LinkFiles(
        link=link,
        event_files=event_files,
        activity_files=activity.attachments,
        to_erp=to_erp and not activity.read_only,
        to_outlook=to_outlook,
        erp_limit=erp_limit,
    )
    copier = _Copier(run, link, erp_limit, activity)
    try:
        hashes = {f.id: await copier.event_file_hash(f) for f in files_plan.files_to_compare(files)}
        actions = files_plan.plan_files(replace(files, event_hashes=hashes))
        for action in actions:
            await copier.apply(action)
        if copier.replayed_gone:  # planned again with the pairs learnt: the lost file's removal is applied now
            known = replace(files, link=link.evolve({"attachments": tuple(copier.pairs)}), event_hashes=hashes)
            for action in files_plan.plan_files(known):
                await copier.apply(action)
    except (GraphNotFound, ErpNotFound):
        pass  # the item went away meanwhile; what was copied is recorded below
    except (GraphError, ErpError) as error:
        await _failed(run, link, error)
    else:
        await _resolve_settled(run, link, copier.refused)
    await copier.record(change_key=await _change_key_after(run, event_id) if copier.wrote_event else None)


async def _change_key_after(run: RunContext, event_id: str) -> str | None:
    """The event's changeKey after the sync's own file writes (one read), so Graph's notification of them is
    known as an echo and queues no run (R5); None when the read fails (the run after is then a quiet one)."""
    try:
        return (await run.ports.calendar.get_event(run.mailbox, event_id)).change_key
    except GraphError:
        return None


class _Copier:
    """Applies one link's file actions, keeping the pairs and the activity versions its writes produced. Before a
    copy it writes the copy down as a pending pair (one link save), so a run that dies before learning the copy's
    id leaves a trace the next run settles (``attachment_plan._completed``)."""

    def __init__(self, run: RunContext, link: Link, erp_limit: int, activity: Activity) -> None:
        self.run, self.link, self.erp_limit, self.seen_version = run, link, erp_limit, activity.version
        self.activity_file_ids = {f.id for f in activity.attachments}
        self.replayed_gone = False  # an upload answered from an earlier run's, whose file the ERP lost since
        self.event_id, self.activity_id = link.event_id or "", link.activity_id or ""
        self.pairs: list[AttachmentPair] = list(link.attachments)
        self.versions: list[int] = []
        self.refused: set[str] = set()
        self.wrote_event = False  # a file added to or removed from the event: its changeKey moved

    async def record(self, *, change_key: str | None = None) -> None:
        """Store the link with the pairs as they are now (nothing when nothing changed)."""
        stored = self.run.current(self.link)
        after = files_plan.after_files(
            stored,
            self.pairs,
            seen_version=self.seen_version,
            versions=self.versions,
            now=self.run.now(),
            change_key=change_key,
        )
        if after != stored:
            await self.run.save(after)

    def _swap(self, old: AttachmentPair | None, new: AttachmentPair | None) -> None:
        if old is not None and old in self.pairs:
            self.pairs.remove(old)
        if new is not None:
            self.pairs.append(new)

    async def event_file_hash(self, event_file: EventAttachment) -> str:
        digest = hashlib.sha256()
        async for chunk in self._event_bytes(event_file):
            digest.update(chunk)
        return digest.hexdigest()

    def _event_bytes(self, event_file: EventAttachment) -> AsyncIterator[bytes]:
        return self.run.ports.calendar.read_event_attachment(self.run.mailbox, self.event_id, event_file.id)

    async def apply(self, action: FileAction) -> None:
        ports, report = self.run.ports, self.run.report
        if isinstance(action, PairFiles):
            self._swap(None, files_plan.paired(action.event_file, action.activity_file))
        elif isinstance(action, CompletePair):
            self._swap(action.pending, action.pair)
        elif isinstance(action, ForgetPair):
            self._swap(action.pair, None)
        elif isinstance(action, RemoveFromErp):
            file_id = action.pair.activity_attachment_id or ""
            self.versions.append(await ports.erp.remove_activity_attachment(self.activity_id, file_id))
            self._swap(action.pair, None)
            report.count("erp file removed")
        elif isinstance(action, RemoveFromOutlook):
            file_id = action.pair.event_attachment_id or ""
            await ports.calendar.remove_event_attachment(self.run.mailbox, self.event_id, file_id)
            self.run.wrote_m365 = self.wrote_event = True
            self._swap(action.pair, None)
            report.count("m365 file removed")
        elif isinstance(action, RefuseFile):
            await self._refuse(action)
        elif isinstance(action, CopyToErp):
            await self._to_erp(action)
        else:
            await self._to_outlook(action)

    async def _write_ahead(self, replaces: AttachmentPair | None, pending: AttachmentPair) -> None:
        self._swap(replaces, pending)
        await self.record()

    async def _to_erp(self, action: CopyToErp) -> None:
        """Outlook to ERP: the bytes are held once (chunks, never joined) to learn their hash, then streamed."""
        source = action.event_file
        chunks, digest = [], hashlib.sha256()
        async for chunk in self._event_bytes(source):
            chunks.append(chunk)
            digest.update(chunk)
        sha = digest.hexdigest()
        pending = files_plan.pending_to_erp(source, sha)
        await self._write_ahead(action.replaces, pending)
        # The same key for a retry of this copy (the ERP answers with its first upload); a copy that puts back a
        # file the ERP lost since is another upload, so another key.
        again = action.replaces.activity_attachment_id or "" if action.replaces is not None else ""
        key = hashlib.sha256(f"{self.link.link_id}|{source.id}|{sha}|{again}".encode()).hexdigest()[:40]
        meta = FileMeta(name=source.name, content_type=source.content_type, size=source.size)
        try:
            stored, version = await self.run.ports.erp.add_activity_attachment(
                self.activity_id, meta, _replay(chunks), sha256=sha, idempotency_key=key
            )
        except ErpTooLarge:
            self._swap(pending, None)
            await self._refuse(RefuseFile(Side.ERP, source.id, source.name, source.size, self.erp_limit))
            return
        del chunks
        self._swap(pending, files_plan.paired(source, stored))
        if stored.id not in self.activity_file_ids and version <= self.seen_version:
            # The ERP answered with an upload of an earlier run whose answer was lost, and that file is gone
            # from the activity since (a person removed it): the pair is known now, and so is its removal.
            self.replayed_gone = True
            return
        self.versions.append(version)
        self.run.report.count("erp file added")

    async def _to_outlook(self, action: CopyToOutlook) -> None:
        """ERP to Outlook: the bytes stream from the ERP's answer into Graph's request (or upload session)."""
        source, ports = action.activity_file, self.run.ports
        pending = files_plan.pending_to_outlook(source)
        await self._write_ahead(action.replaces, pending)
        content = ports.erp.read_activity_attachment(self.activity_id, source.id)
        meta = FileMeta(name=source.name, content_type=source.content_type, size=source.size)
        try:
            made = await ports.calendar.add_event_attachment(self.run.mailbox, self.event_id, meta, content)
        except GraphTooLarge:
            self._swap(pending, None)
            limit = GRAPH_UPLOAD_SESSION_LIMIT
            await self._refuse(RefuseFile(Side.M365, source.id, source.name, source.size, limit))
            return
        self.run.wrote_m365 = self.wrote_event = True
        self.run.report.count("m365 file added")
        self._swap(pending, files_plan.paired(made, source))

    async def _refuse(self, refusal: RefuseFile) -> None:
        where = "the ERP" if refusal.to is Side.ERP else "Outlook"
        reason = (
            f"the file '{refusal.name}' is {_mib(refusal.size)} ({refusal.size:,} bytes), more than {where} takes"
            f" ({_mib(refusal.limit)}): not copied; remove it or raise the limit (R18)"
        )
        key = issue_key(self.link, refusal.key_suffix)
        self.refused.add(key)
        await issues.record(
            self.run,
            key,
            IssueKind.REFUSED_ITEM,
            reason,
            event_id=self.link.event_id,
            activity_id=self.link.activity_id,
        )


def _mib(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MiB"


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _failed(run: RunContext, link: Link, error: Exception) -> None:
    reason = f"files not synced yet ({type(error).__name__}); tried again on the next run (R18)"
    await issues.record(
        run, issue_key(link), IssueKind.FAILURE, reason, event_id=link.event_id, activity_id=link.activity_id
    )


async def _resolve_settled(run: RunContext, link: Link, refused: set[str]) -> None:
    """Open file issues of the link that this pass did not raise again are settled (the file went, the limit
    grew, the outage ended)."""
    prefix = issue_key(link)
    for key in sorted(k for k in run.open_issue_keys if k.startswith(prefix) and k not in refused):
        await run.ports.state.resolve_issue(run.user.id, key, now=run.now())
        run.open_issue_keys.discard(key)
