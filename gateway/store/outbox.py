"""The durable queue of canonical messages waiting for the register, in per-case order.

A row is `pending` until the register answers `ok` (`delivered`) or a fatal error (`dead`).
Claiming leases a row for a while, so that a crashed forwarder's rows come back by themselves
and several replicas never send the same row at once. Only the oldest pending row of a case is
ever due, which keeps a case's updates in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.store.db import Tx


@dataclass(frozen=True, slots=True)
class Queued:
    seq: int
    notification_id: str
    case_key: str
    institution: str
    receipt_id: str
    attempts: int
    body: bytes


def enqueue(tx: Tx, rows: Sequence[tuple[str, str, str, str, str, bytes]], now: float) -> None:
    """rows: (notification_id, case_key, receipt_id, institution, event, body)."""
    tx.executemany(
        "INSERT INTO outbox (notification_id, case_key, receipt_id, institution, event, body, "
        "state, next_attempt_at) VALUES (?,?,?,?,?,?,'pending',?)",
        [(*r, now) for r in rows],
    )


def release_leases(tx: Tx) -> None:
    """Void every lease (a single-node store's forwarder starting: its predecessor is gone)."""
    tx.execute("UPDATE outbox SET lease_until = 0")


def claim(tx: Tx, limit: int, now: float, lease_seconds: float) -> list[Queued]:
    skip = " FOR UPDATE OF o SKIP LOCKED" if tx.postgres else ""
    rows = tx.all(
        "SELECT o.seq, o.notification_id, o.case_key, o.institution, o.receipt_id, o.attempts, "
        "o.body FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ? "
        "AND o.lease_until <= ? AND NOT EXISTS (SELECT 1 FROM outbox p WHERE "
        "p.case_key = o.case_key AND p.seq < o.seq AND p.state = 'pending') "
        "ORDER BY o.seq LIMIT ?" + skip,
        (now, now, limit),
    )
    if rows:
        tx.executemany(
            "UPDATE outbox SET lease_until = ? WHERE seq = ?",
            [(now + lease_seconds, r[0]) for r in rows],
        )
    return [Queued(r[0], r[1], r[2], r[3], r[4], int(r[5]), bytes(r[6])) for r in rows]


def delivered(tx: Tx, seqs: Sequence[int], at: str) -> None:
    tx.executemany(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, lease_until = 0, "
        "attempts = attempts + 1, last_error = NULL WHERE seq = ?",
        [(at, s) for s in seqs],
    )


def retry(tx: Tx, seq: int, next_attempt_at: float, reason: str) -> None:
    tx.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0, "
        "last_error = ? WHERE seq = ?",
        (next_attempt_at, reason, seq),
    )


def dead(tx: Tx, seq: int, reason: str) -> None:
    tx.execute(
        "UPDATE outbox SET state = 'dead', attempts = attempts + 1, lease_until = 0, "
        "last_error = ? WHERE seq = ?",
        (reason, seq),
    )


def counts(tx: Tx) -> dict[str, int]:
    return {str(s): int(n) for s, n in tx.all("SELECT state, COUNT(*) FROM outbox GROUP BY state")}


def next_due(tx: Tx) -> float | None:
    row = tx.one("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
    return None if row is None or row[0] is None else float(row[0])
