"""Retention: raw messages are crypto-shredded month by month, and the audit chain stays whole.

A month older than the retention loses its data key (`payload_keys.wrapped` emptied, the row
kept so the month can never get a new key) and its sealed payloads, and the chain gains one
`purged` record per month, all in one transaction. Audit records hold hashes of the raw
messages, never the messages, so the chain and its proofs verify exactly as before.

While serving, `upkeep` runs daily: PostgreSQL's monthly `audit` partitions are created ahead,
and the purge runs if a retention is configured. Every function takes the time it works at.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from gateway import audit
from gateway.audit import Entry
from gateway.store.db import Database, Tx
from gateway.store.payload_keys import period_of
from gateway.store.schema import audit_partitions

log = logging.getLogger(__name__)

DAY = 86400.0
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True)
class PeriodPurge:
    """What purging one month does (or did): its payload rows, and whether a live key goes."""

    period: str
    payloads: int
    key: bool

    def detail(self) -> str:
        key = "key destroyed" if self.key else "no live key"
        return f"period {self.period}: {self.payloads} payloads deleted, {key}"


def months_before(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7]) - 1 - months
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def cutoff(now: datetime, retention_months: int) -> str | None:
    """The first month kept: every month before it is purged (None: keep everything).

    A message is kept for at least `retention_months` whole months after its own month."""
    return months_before(period_of(now), retention_months) if retention_months > 0 else None


def cutoff_for(now: datetime, retention_months: int, before: str | None) -> str | None:
    """The cutoff an operator asked for (`--before YYYY-MM`), else the configured one; the
    current month is never purged (its key is in use)."""
    if before is None:
        return cutoff(now, retention_months)
    if not PERIOD.fullmatch(before):
        raise ValueError(f"--before wants a month as YYYY-MM, not {before!r}")
    if before > period_of(now):
        raise ValueError(f"--before {before}: the current month {period_of(now)} is in use")
    return before


def due(tx: Tx, before: str) -> list[PeriodPurge]:
    """The months before `before` that still hold payloads or a live key, oldest first."""
    counts: dict[str, int] = {
        r[0]: int(r[1])
        for r in tx.all(
            "SELECT period, COUNT(*) FROM payloads WHERE period < ? GROUP BY period", (before,)
        )
    }
    live = {
        r[0]
        for r in tx.all(
            "SELECT period FROM payload_keys WHERE period < ? AND wrapped IS NOT NULL", (before,)
        )
    }
    return [PeriodPurge(p, counts.get(p, 0), p in live) for p in sorted(counts.keys() | live)]


def _execute(sql: str, tx: Tx) -> None:
    tx.execute(sql)


def purge(tx: Tx, before: str, now: datetime) -> list[PeriodPurge]:
    """Shred every month before `before` (one unit: keys, payloads and `purged` records)."""
    done = [_shred(tx, plan.period, now) for plan in due(tx, before)]
    audit.append(tx, [Entry("purged", outcome="purged", detail=d.detail()) for d in done], now)
    return done


def _shred(tx: Tx, period: str, now: datetime) -> PeriodPurge:
    if not tx.postgres:
        # SQLite zeroes the key's old row image in the file instead of just unlinking it (the
        # payloads need no such care: without the key their ciphertext is noise).
        tx.execute("PRAGMA secure_delete = ON")
    try:
        key = tx.execute(
            "UPDATE payload_keys SET wrapped = NULL, destroyed_at = ? "
            "WHERE period = ? AND wrapped IS NOT NULL",
            (now.isoformat(), period),
        )
    finally:
        if not tx.postgres:
            tx.execute("PRAGMA secure_delete = OFF")
    # A month with payloads but no key row still gets its tombstone: never a new key.
    tx.execute(
        "INSERT INTO payload_keys (period, key_id, wrapped, created_at, destroyed_at) "
        "VALUES (?, '', NULL, ?, ?) ON CONFLICT (period) DO NOTHING",
        (period, now.isoformat(), now.isoformat()),
    )
    deleted = tx.execute("DELETE FROM payloads WHERE period = ?", (period,))
    return PeriodPurge(period, deleted, key > 0)


def scrub(tx: Tx) -> None:
    """After a purge commits: drop the last copies of the old key rows the engine keeps
    (SQLite's write-ahead log; PostgreSQL's dead tuples). Needs a connection outside any
    transaction (a reader); best effort, a busy SQLite checkpoint finishes later."""
    if tx.postgres:
        tx.execute("VACUUM FULL payload_keys")
    else:
        tx.one("PRAGMA wal_checkpoint(TRUNCATE)")


def purge_now(db: Database, before: str, now: datetime, *, dry_run: bool) -> list[PeriodPurge]:
    """What `gateway audit purge` does: the plan only (`dry_run`), or the purge and the scrub."""
    if dry_run:
        return db.read_sync(lambda tx: due(tx, before))
    done = db.write_sync(lambda tx: purge(tx, before, now))
    if done:
        db.read_sync(scrub)
    return done


async def run_once(db: Database, retention_months: int, now: datetime) -> list[PeriodPurge]:
    """One day's upkeep: partitions ahead (PostgreSQL), then the purge if one is configured."""
    if db.postgres:
        await db.write(partial(_execute, audit_partitions(now.date())))
    before = cutoff(now, retention_months)
    if before is None:
        return []
    done = await db.write(partial(purge, before=before, now=now))
    if done:
        await db.read(scrub)
        for d in done:
            log.info("retention: %s", d.detail())
    return done


async def upkeep(
    db: Database,
    retention_months: int,
    *,
    every: float = DAY,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """`run_once` now and then every `every` seconds, until cancelled."""
    while True:
        try:
            await run_once(db, retention_months, clock())
        except Exception:  # the loop must outlive any one failure (logged, tried next day)
            log.exception("retention upkeep failed")
        await asyncio.sleep(every)


def start(db: Database, retention_months: int) -> asyncio.Task[None]:
    """The serving gateway's daily upkeep, as a task (cancel it to stop)."""
    return asyncio.create_task(upkeep(db, retention_months), name="retention-upkeep")
