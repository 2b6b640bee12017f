"""Per-month data keys for the sealed raw messages (envelope encryption): months can be shredded.

Each calendar month (UTC, of the receipt time) has its own random AES-256 data key. The database
holds it only wrapped (AES-GCM) under the configured master storage key, in `payload_keys`;
destroying that one row makes every payload of the month unreadable, wherever copies of the
ciphertext may linger. A payload's `key_id` is `<period>:<master key id>`, and that id is part
of its authenticated data, so a sealed payload cannot be moved to another month's key.

Sealing stays outside the writer transaction: `PayloadKeys` caches the few months in use and
creates a month's key race-safely (replicas on one PostgreSQL: insert-or-nothing, read back).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from cryptography.exceptions import InvalidTag

from gateway.crypto import Sealer
from gateway.errors import Unavailable
from gateway.store.db import Database, Tx

log = logging.getLogger(__name__)

_CACHED_MONTHS = 3  # the current month, the one before (around midnight of the 1st), one spare


class PayloadGone(LookupError):
    """The payload was purged, or its month's key was destroyed: it can never be read again."""


@dataclass(frozen=True, slots=True)
class SealedPayload:
    period: str
    key_id: str
    blob: bytes


def period_of(at: datetime) -> str:
    """The retention period (`YYYY-MM`, UTC) a moment belongs to."""
    return at.astimezone(UTC).strftime("%Y-%m")


def key_id_for(period: str, master_id: str) -> str:
    return f"{period}:{master_id}"


def _wrap_aad(key_id: str) -> bytes:
    return b"payload-key|" + key_id.encode()


def _payload_aad(key_id: str, aad: bytes) -> bytes:
    return key_id.encode() + b"|" + aad


def ensure_key(
    tx: Tx, period: str, key_id: str, wrapped: bytes, now: datetime
) -> tuple[str, bytes] | None:
    """The month's key id and wrapped key: `(key_id, wrapped)` if this call created it, else the
    ones already stored (another replica or call won the race, or the month began under an
    earlier storage key); None if the month's key was destroyed."""
    tx.execute(
        "INSERT INTO payload_keys (period, key_id, wrapped, created_at) VALUES (?,?,?,?) "
        "ON CONFLICT (period) DO NOTHING",
        (period, key_id, wrapped, now.isoformat()),
    )
    row = tx.one("SELECT key_id, wrapped FROM payload_keys WHERE period = ?", (period,))
    assert row is not None, "inserted or already there"
    return None if row[1] is None else (str(row[0]), bytes(row[1]))


def _master_for(key_id: str, masters: dict[str, Sealer]) -> Sealer:
    """The storage key a month's key is wrapped under. A month keeps the storage key it began
    with, so after a rotation the previous key stays configured (`retired_storage_keys`) until
    its months are purged."""
    master_id = key_id.split(":", 1)[1]
    found = masters.get(master_id)
    if found is None:
        log.error(
            "storage key %r is needed for payload key %s: configure it as retired",
            master_id,
            key_id,
        )
        raise Unavailable(
            f"the storage key {master_id!r} of payload key {key_id} is not configured"
        )
    return found


#: Up to this size AES-GCM costs less on the event loop (≈ 40 µs at 64 KiB) than a hand-off to
#: a worker thread; a large batch is sealed in a thread so that it does not stall other senders.
_INLINE_BYTES = 64 * 1024


class PayloadKeys:
    """Seals raw messages under their month's data key (cached; created on first use)."""

    def __init__(self, db: Database, master: Sealer, retired: Sequence[Sealer] = ()) -> None:
        self.db = db
        self.master = master
        self._masters = {k.key_id: k for k in (*retired, master)}
        self._cache: OrderedDict[str, Sealer] = OrderedDict()

    async def seal(self, raw: bytes, aad: bytes, at: datetime) -> SealedPayload:
        period = period_of(at)
        sealer = self._cache.get(period) or await self._load(period)
        aad = _payload_aad(sealer.key_id, aad)
        if len(raw) <= _INLINE_BYTES:
            blob = sealer.seal(raw, aad)
        else:
            blob = await asyncio.to_thread(sealer.seal, raw, aad)
        return SealedPayload(period, sealer.key_id, blob)

    async def _load(self, period: str) -> Sealer:
        key_id = key_id_for(period, self.master.key_id)
        fresh = self.master.seal(os.urandom(32), _wrap_aad(key_id))
        now = datetime.now(UTC)
        stored = await self.db.write(
            partial(ensure_key, period=period, key_id=key_id, wrapped=fresh, now=now)
        )
        if stored is None:
            log.error("a message of %s arrived after that month was purged", period)
            raise Unavailable("the storage key of this period was destroyed")
        stored_id, wrapped = stored
        master = _master_for(stored_id, self._masters)
        sealer = Sealer(stored_id, master.open(wrapped, _wrap_aad(stored_id)))
        self._cache[period] = sealer
        while len(self._cache) > _CACHED_MONTHS:
            self._cache.popitem(last=False)
        return sealer


def open_payload(tx: Tx, receipt_id: str, master: Sealer, retired: Sequence[Sealer] = ()) -> bytes:
    """The raw message of a receipt, or PayloadGone once its month was purged."""
    row = tx.one(
        "SELECT p.key_id, p.sealed, k.wrapped, r.raw_sha256 FROM payloads p "
        "JOIN receipts r ON r.receipt_id = p.receipt_id "
        "LEFT JOIN payload_keys k ON k.period = p.period WHERE p.receipt_id = ?",
        (receipt_id,),
    )
    if row is None:
        raise PayloadGone(f"no stored payload for receipt {receipt_id}")
    key_id, sealed, wrapped, raw_sha = str(row[0]), bytes(row[1]), row[2], str(row[3])
    if wrapped is None:
        raise PayloadGone(f"the key of receipt {receipt_id}'s period was destroyed")
    try:
        masters = {k.key_id: k for k in (*retired, master)}
        data_key = _master_for(key_id, masters).open(bytes(wrapped), _wrap_aad(key_id))
    except InvalidTag as exc:
        raise PayloadGone(f"receipt {receipt_id}: its key is not this storage key's") from exc
    return Sealer(key_id, data_key).open(sealed, _payload_aad(key_id, raw_sha.encode()))
