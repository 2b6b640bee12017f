"""The path of one message: duplicate check, adapter, methodology, profile, durable commit, audit.

Transports call `submit` with the parsed document; what comes back is a receipt that is durable
(committed with `synchronous=FULL` or PostgreSQL's commit) before anyone acknowledges it. Every
outcome, refusals included, leaves audit records written in the same transaction as the state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson

from gateway import audit, profile
from gateway.adapter import Adapter, RecordPolicy, TranslateContext
from gateway.audit import Entry
from gateway.audit import children as audit_children
from gateway.compose import Composed, Result, compose
from gateway.crypto import Sealer
from gateway.errors import (
    ContractViolation,
    GatewayError,
    ReceiptNotFound,
    StaleVersion,
    Unavailable,
)
from gateway.facts import DataWarning, SourceRecord
from gateway.identity import Keyring
from gateway.mappings import Mappings
from gateway.ordering import OrderGate
from gateway.receipts import Caller, Receipt
from gateway.store import outbox, state
from gateway.store.db import Database, Tx
from gateway.store.payload_keys import PayloadKeys, SealedPayload

log = logging.getLogger(__name__)


def _reason(error: BaseException) -> str:
    """An audit reason: the error class and the located problem codes, never values."""
    if isinstance(error, GatewayError):
        problems = ", ".join(f"{p.code}@{p.path}" for p in error.problems[:50])
        return f"{error.code}: {problems}" if problems else error.code
    return type(error).__name__


class Pipeline:
    def __init__(
        self,
        db: Database,
        mappings: Mappings,
        keyring: Keyring,
        sealer: Sealer,
        on_enqueued: Callable[[], None] = lambda: None,
        retired_sealers: Sequence[Sealer] = (),
    ) -> None:
        self.db = db
        self.mappings = mappings
        self.keyring = keyring
        # `sealer`: the master storage key, which wraps the month keys (retired ones: earlier
        # months' keys after a rotation).
        self.payloads = PayloadKeys(db, sealer, retired_sealers)
        self._on_enqueued = on_enqueued
        self._order = OrderGate()

    # -- the transports' entry points ----------------------------------------------------------

    async def submit(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt:
        # Before any await: units reach the store in the order of the calls (ordering.py).
        ticket = self._order.take()
        try:
            prepared = await self._prepare(adapter, raw, caller, document)
            if isinstance(prepared, Receipt):
                return prepared
            unit, common = prepared
            await self._order.turn(ticket)
            pending = self.db.enqueue(unit)
        finally:
            self._order.done(ticket)
        try:
            receipt = await asyncio.wrap_future(pending)
        except StaleVersion as exc:
            await self._audit(
                [
                    Entry("received", **common),
                    Entry("rejected", outcome="rejected", detail=_reason(exc), **common),
                ]
            )
            raise
        if receipt.status != "duplicate" and receipt.notification_ids:
            self._on_enqueued()
        return receipt

    async def _prepare(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt | tuple[Callable[[Tx], Receipt], dict[str, Any]]:
        """A duplicate's first receipt, or the unit to commit (raises ContractViolation)."""
        received_at = datetime.now(UTC)
        raw_sha = hashlib.sha256(raw).hexdigest()
        common: dict[str, Any] = {
            "institution": adapter.slug,
            "cert_fp": caller.fingerprint,
            "raw_sha256": raw_sha,
        }
        message_id = adapter.message_id(document)
        ctx = TranslateContext(self.keyring, self.mappings, received_at)
        try:
            record = adapter.translate(document, ctx)
        except ContractViolation as exc:
            # README §2: a resend is a duplicate whatever its content. A valid resend is found
            # inside the commit (`_commit`), so only an invalid message costs this extra read.
            if message_id is not None and adapter.policy.duplicates == "message-id":
                first = await self.db.read(
                    lambda tx: state.receipt_by_message(tx, adapter.slug, message_id)
                )
                if first is not None:
                    return await self.db.write(partial(_duplicate, first=first, common=common))
            await self._audit(
                [
                    Entry("received", **common),
                    Entry("rejected", outcome="rejected", detail=_reason(exc), **common),
                ]
            )
            raise
        sealed = await self.payloads.seal(raw, raw_sha.encode(), received_at)
        composed = compose(
            adapter, record, self.keyring, self.mappings.version, raw_sha, received_at
        )
        # A partial of module functions and data: it may run in the writer process (db.py).
        unit = partial(
            _commit, policy=adapter.policy, composed=composed, sealed=sealed, common=common
        )
        return unit, common

    async def receipt(self, caller: Caller, receipt_id: str) -> Receipt:
        found = await self.db.read(
            lambda tx: state.receipt_by_id(tx, caller.institution, receipt_id)
        )
        if found is None:
            raise ReceiptNotFound("no receipt with this id for this institution")
        return found

    async def refused(
        self, caller: Caller | None, slug: str, error: Exception, raw: bytes | None = None
    ) -> None:
        entry = Entry(
            "rejected",
            institution=caller.institution if caller else slug,
            cert_fp=caller.fingerprint if caller else "",
            outcome="refused",
            detail=f"at {slug}: {_reason(error)}",
            raw_sha256=hashlib.sha256(raw).hexdigest() if raw is not None else "",
        )
        try:
            await self._audit([entry])
        except Unavailable:
            log.error("could not audit a refusal at %s: the store is unavailable", slug)

    # -- inside the writer's transaction -------------------------------------------------------

    async def _audit(self, entries: list[Entry]) -> None:
        await self.db.write(partial(audit.append, entries=entries))


# -- inside the writer's transaction (module functions: units must pickle) ----------------------


def _duplicate(tx: Tx, first: Receipt, common: dict[str, Any]) -> Receipt:
    kids = audit_children.of_receipt(tx, first.receipt_id)
    audit.append(
        tx,
        [
            Entry("received", children=kids, **common),
            Entry(
                "duplicate",
                receipt_id=first.receipt_id,
                notification_ids=first.notification_ids,
                outcome="duplicate",
                children=kids,
                **common,
            ),
        ],
    )
    return first.as_duplicate()


def _repeat(
    tx: Tx, slug: str, policy: RecordPolicy, record: SourceRecord, current: state.RecordState
) -> Receipt | None:
    """The receipt to answer again when the record already holds this or a newer message;
    raises StaleVersion where the contract refuses older versions."""
    if (
        policy.duplicates == "latest-content"
        and current.last_message_id == record.message_id
        and current.last_receipt_id
    ):
        return state.receipt_by_id(tx, slug, current.last_receipt_id)
    if record.version is None or current.version is None:
        return None
    if policy.older_version == "duplicate":
        if record.version < current.version and current.last_receipt_id:
            return state.receipt_by_id(tx, slug, current.last_receipt_id)
        return None
    if record.version <= current.version:
        raise StaleVersion(
            f"version {record.version} is not above the accepted version {current.version}"
        )
    return None


def _commit(
    tx: Tx,
    *,
    policy: RecordPolicy,
    composed: Composed,
    sealed: SealedPayload,
    common: dict[str, Any],
) -> Receipt:
    record, slug = composed.record, composed.slug
    received_at = composed.provenance.received_at
    by_id = policy.duplicates == "message-id"
    first = state.receipt_by_message(tx, slug, record.message_id) if by_id else None
    if first is not None:  # the same message raced through another connection
        return _duplicate(tx, first, common)
    current = state.lock_record(tx, slug, record.record_key)
    repeat = _repeat(tx, slug, policy, record, current)
    if repeat is not None:
        return _duplicate(tx, repeat, common)
    stale_event = (
        record.event_date is not None
        and current.event_date is not None
        and record.event_date < current.event_date
        and record.source_event != "withdraw"
    )
    if stale_event:
        # Events arrive out of order: an older one is acknowledged and changes nothing.
        stale = DataWarning("stale-event", record.event_date_path)
        result = Result("accepted", [], [], [stale], {})
    else:
        result = composed.finish(current, content_keyed=not by_id)
    for bundle in result.bundles:
        problems = profile.validate(bundle)
        if problems:
            # Our own output breaks our profile: a defect, never the sender's fault.
            log.error("canonical message fails the profile: %s", problems[:5])
            raise Unavailable("the gateway could not translate the message")
    receipt = Receipt(
        receipt_id=str(uuid.uuid4()),
        institution=slug,
        received_at=received_at,
        status=result.status,
        notification_ids=tuple(n.notification_id for n in result.notifications),
        warnings=tuple(result.warnings),
    )
    # Content-keyed records are repeats only of their latest message (checked above), so the
    # receipt's own id keeps the message unique among the institution's receipts.
    dedupe_key = record.message_id if by_id else receipt.receipt_id
    state.save_receipt(tx, receipt, dedupe_key, common["raw_sha256"], sealed)
    if not stale_event:
        update = state.RecordUpdate(
            version=record.version,
            event_date=max(filter(None, (record.event_date, current.event_date)), default=None),
            message_id=record.message_id,
            receipt_id=receipt.receipt_id,
            live_after=result.live_after,
        )
        state.save_record(tx, slug, record.record_key, update)
    outbox.enqueue(
        tx,
        [
            (
                n.notification_id,
                n.case_key,
                receipt.receipt_id,
                slug,
                n.event,
                orjson.dumps(b),
            )
            for n, b in zip(result.notifications, result.bundles, strict=True)
        ],
        time.time(),
    )
    ids = receipt.notification_ids
    # Who the message is about: the notified children (a cancel's from its case), else
    # (out of scope, stale) every identified person of the record.
    kids = (
        audit_children.remember(tx, result.notifications)
        if result.notifications
        else tuple(sorted({c.internal_id for c in record.children if c.internal_id}))
    )
    entries = [
        Entry("received", receipt_id=receipt.receipt_id, children=kids, **common),
        Entry(
            result.status,
            receipt_id=receipt.receipt_id,
            notification_ids=ids,
            outcome=result.status,
            detail=",".join(sorted({w.code for w in receipt.warnings})),
            children=kids,
            **common,
        ),
    ]
    if ids:
        entries.append(
            Entry(
                "translated",
                receipt_id=receipt.receipt_id,
                notification_ids=ids,
                outcome=",".join(n.event for n in result.notifications),
                detail=f"mapping {composed.provenance.mapping_version}",
                children=kids,
                **common,
            )
        )
    audit.append(tx, entries, received_at)
    return receipt
