"""Receipts, sealed raw messages and per-record state, as functions on a transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import orjson

from gateway.facts import DataWarning
from gateway.receipts import Receipt
from gateway.records import LiveChild
from gateway.store.db import Row, Tx
from gateway.store.payload_keys import SealedPayload

_RECEIPT = "receipt_id, institution, received_at, status, notification_ids, warnings"


def _receipt(row: Row) -> Receipt:
    return Receipt(
        receipt_id=row[0],
        institution=row[1],
        received_at=datetime.fromisoformat(row[2]),
        status=row[3],
        notification_ids=tuple(orjson.loads(row[4])),
        warnings=tuple(DataWarning(w["code"], w["path"]) for w in orjson.loads(row[5])),
    )


def receipt_by_message(tx: Tx, institution: str, message_id: str) -> Receipt | None:
    row = tx.one(
        f"SELECT {_RECEIPT} FROM receipts WHERE institution = ? AND message_id = ?",
        (institution, message_id),
    )
    return _receipt(row) if row else None


def receipt_by_id(tx: Tx, institution: str, receipt_id: str) -> Receipt | None:
    row = tx.one(
        f"SELECT {_RECEIPT} FROM receipts WHERE receipt_id = ? AND institution = ?",
        (receipt_id, institution),
    )
    return _receipt(row) if row else None


def save_receipt(
    tx: Tx, receipt: Receipt, message_id: str, raw_sha256: str, payload: SealedPayload
) -> None:
    tx.execute(
        "INSERT INTO receipts (receipt_id, institution, message_id, received_at, status, "
        "notification_ids, warnings, raw_sha256) VALUES (?,?,?,?,?,?,?,?)",
        (
            receipt.receipt_id,
            receipt.institution,
            message_id,
            receipt.received_at.isoformat(),
            receipt.status,
            orjson.dumps(list(receipt.notification_ids)).decode(),
            orjson.dumps([{"code": w.code, "path": w.path} for w in receipt.warnings]).decode(),
            raw_sha256,
        ),
    )
    tx.execute(
        "INSERT INTO payloads (receipt_id, period, key_id, sealed) VALUES (?,?,?,?)",
        (receipt.receipt_id, payload.period, payload.key_id, payload.blob),
    )


@dataclass(frozen=True, slots=True)
class RecordState:
    seen: bool
    version: int | None
    live: list[LiveChild]
    event_date: date | None = None
    last_message_id: str | None = None
    last_receipt_id: str | None = None


def lock_record(tx: Tx, institution: str, record_key: str) -> RecordState:
    """The record's state, locked for this transaction (PostgreSQL replicas serialise here)."""
    row = tx.one(
        "SELECT version, event_date, last_message_id, last_receipt_id FROM records "
        "WHERE institution = ? AND record_key = ?" + tx.for_update(),
        (institution, record_key),
    )
    live = [
        LiveChild(r[0], r[1])
        for r in tx.all(
            "SELECT child_key, case_key FROM record_children "
            "WHERE institution = ? AND record_key = ? ORDER BY child_key",
            (institution, record_key),
        )
    ]
    if row is None:
        return RecordState(False, None, live)
    return RecordState(
        seen=True,
        version=None if row[0] is None else int(row[0]),
        live=live,
        event_date=date.fromisoformat(row[1]) if row[1] else None,
        last_message_id=row[2],
        last_receipt_id=row[3],
    )


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """What an accepted message leaves as its record's state."""

    version: int | None
    event_date: date | None
    message_id: str
    receipt_id: str
    live_after: dict[str, str]


def save_record(tx: Tx, institution: str, record_key: str, update: RecordUpdate) -> None:
    tx.execute(
        "INSERT INTO records (institution, record_key, version, event_date, last_message_id, "
        "last_receipt_id) VALUES (?,?,?,?,?,?) ON CONFLICT (institution, record_key) DO UPDATE "
        "SET version = excluded.version, event_date = excluded.event_date, "
        "last_message_id = excluded.last_message_id, last_receipt_id = excluded.last_receipt_id",
        (
            institution,
            record_key,
            update.version,
            update.event_date.isoformat() if update.event_date else None,
            update.message_id,
            update.receipt_id,
        ),
    )
    tx.execute(
        "DELETE FROM record_children WHERE institution = ? AND record_key = ?",
        (institution, record_key),
    )
    if update.live_after:
        tx.executemany(
            "INSERT INTO record_children (institution, record_key, child_key, case_key) "
            "VALUES (?,?,?,?)",
            [(institution, record_key, k, c) for k, c in update.live_after.items()],
        )
