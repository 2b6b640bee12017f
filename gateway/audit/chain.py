"""The append-only, hash-chained audit trail: one record per step, never a name or a number.

Each record's hash covers its fields and the previous record's hash; `audit_head` keeps the last
sequence number and hash, so an edited, deleted, reordered or truncated record is found by
`verify`, which names it. Records are written inside the same transaction as the state change
they describe, so the trail and the store never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.audit import merkle
from gateway.store.db import Row, Tx

KINDS = frozenset(
    {
        "received",
        "rejected",
        "duplicate",
        "out-of-scope",
        "accepted",
        "translated",
        "forwarded",
        "delivered",
        "retried",
        "dead-lettered",
        "read",
        "purged",
    }
)
COLUMNS = (
    "seq, at, kind, institution, cert_fp, receipt_id, notification_ids, outcome, detail, "
    "raw_sha256, prev_hash, hash, children"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a step records. `detail` is a reason built from codes and paths, never values."""

    kind: str
    institution: str = ""
    cert_fp: str = ""
    receipt_id: str = ""
    notification_ids: tuple[str, ...] = ()
    outcome: str = ""
    detail: str = ""
    raw_sha256: str = ""
    #: The children the step is about, as pseudonyms under the internal key (never rotated,
    #: never sent), so that a search by child survives a linkage-key rotation.
    children: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown audit kind {self.kind!r}")


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


def canonical(seq: int, at: str, entry: Entry, prev_hash: str) -> bytes:
    """The bytes a record stands for: its chain hash and its Merkle leaf are computed over them."""
    # Every field of the entry, flat (its values are strings and tuples of strings): what
    # `asdict` gives, without its deep copy on the writer's hot path.
    body: dict[str, object] = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    body.update(seq=seq, at=at, prev=prev_hash)
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    at: str
    entry: Entry
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        return canonical(self.seq, self.at, self.entry, self.prev_hash)


def _digest(seq: int, at: str, entry: Entry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(seq, at, entry, prev_hash)).hexdigest()


def append(tx: Tx, entries: Iterable[Entry], at: datetime | None = None) -> None:
    """Chain `entries` after the current head (locked until the transaction ends). In a
    commit group the records of all its units are chained together, in unit order, at the
    group's end: a group's units are one transaction, so none is seen without the others."""
    stamp = (at or datetime.now(UTC)).isoformat()
    stamped = [(stamp, entry) for entry in entries]
    if tx.grouped:
        tx.defer(_chain, stamped)
    else:
        _chain(tx, stamped)


def pending(tx: Tx) -> list[Entry]:
    """The entries appended in this commit group and not yet chained."""
    return [entry for _, entry in tx.deferred(_chain)]


def _chain(tx: Tx, stamped: list[tuple[str, Entry]]) -> None:
    head = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1" + tx.for_update())
    assert head is not None, "the schema creates the audit head"
    seq, prev = int(head[0]), str(head[1])
    rows = []
    leaves: list[bytes] = []
    indexed: list[tuple[int, Entry]] = []
    for stamp, entry in stamped:
        seq += 1
        indexed.append((seq, entry))
        leaf = canonical(seq, stamp, entry, prev)
        leaves.append(leaf)
        digest = hashlib.sha256(leaf).hexdigest()
        rows.append(
            (
                seq,
                stamp,
                entry.kind,
                entry.institution,
                entry.cert_fp,
                entry.receipt_id,
                orjson.dumps(list(entry.notification_ids)).decode(),
                entry.outcome,
                entry.detail,
                entry.raw_sha256,
                prev,
                digest,
                orjson.dumps(list(entry.children)).decode(),
            )
        )
        prev = digest
    if not rows:
        return
    tx.executemany(f"INSERT INTO audit ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    _index(tx, indexed)
    tx.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
    # The same records as Merkle leaves (RFC 6962), in the same transaction.
    merkle.append_leaves(tx, seq - len(rows) + 1, leaves)


def _index(tx: Tx, records: list[tuple[int, Entry]]) -> None:
    """The side tables that make search by notification id and by child an index lookup."""
    notifications = {(n, seq) for seq, e in records for n in e.notification_ids}
    children = {(c, seq) for seq, e in records for c in e.children}
    if notifications:
        tx.executemany(
            "INSERT INTO audit_notification (notification_id, seq) VALUES (?,?)",
            sorted(notifications),
        )
    if children:
        tx.executemany("INSERT INTO audit_child (child, seq) VALUES (?,?)", sorted(children))


def record_from_row(row: Row) -> Record:
    entry = Entry(
        kind=row[2],
        institution=row[3],
        cert_fp=row[4],
        receipt_id=row[5],
        notification_ids=tuple(orjson.loads(row[6])),
        outcome=row[7],
        detail=row[8],
        raw_sha256=row[9],
        children=tuple(orjson.loads(row[12])),
    )
    return Record(int(row[0]), row[1], entry, row[10], row[11])


@dataclass(slots=True)
class Verdict:
    records: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(tx: Tx) -> Verdict:
    """Walk the whole chain in sequence order and name every record that does not fit."""
    verdict = Verdict()
    expected_seq, prev = 1, ""
    for row in tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq"):
        rec = record_from_row(row)
        verdict.records += 1
        if rec.seq != expected_seq:
            verdict.findings.append(
                f"record {expected_seq}"
                + (f"..{rec.seq - 1}" if rec.seq - 1 > expected_seq else "")
                + " missing (deleted)"
            )
        if _digest(rec.seq, rec.at, rec.entry, rec.prev_hash) != rec.hash:
            verdict.findings.append(f"record {rec.seq} edited: its hash does not match its content")
        elif rec.prev_hash != prev:
            verdict.findings.append(
                f"record {rec.seq} out of place: it does not follow the record before it "
                "(reordered, or a record before it was removed or edited)"
            )
        expected_seq, prev = rec.seq + 1, rec.hash
    head = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1")
    if head is not None and (int(head[0]), str(head[1])) != (expected_seq - 1, prev):
        verdict.findings.append(
            f"the log ends at record {expected_seq - 1} but the head says {head[0]}: "
            "records were removed from the end or the head was changed"
        )
    return verdict


@dataclass(frozen=True, slots=True)
class Query:
    """Filters, all optional and combined with AND. `child` is an internal pseudonym (see
    `gateway.audit.children.derive`), never a personal number; `after` pages by sequence."""

    institution: str | None = None
    receipt_id: str | None = None
    outcome: str | None = None
    kind: str | None = None
    since: str | None = None
    until: str | None = None
    notification_id: str | None = None
    limit: int = 1000
    cert_fp: str | None = None
    child: str | None = None
    after: int = 0


_CHUNK = 500  # sequence numbers per `IN (...)` when a side table drives the search


def search(tx: Tx, q: Query) -> list[Record]:
    """Records matching every filter, in sequence order, at most `q.limit`.

    Child and notification filters read their side table first (an index range, already in
    sequence order) and fetch those records by sequence number: a plan that does not depend
    on the planner's statistics (PostgreSQL never auto-analyzes a partitioned parent, and a
    merge join over the whole chain's primary key is what it then picks)."""
    if q.child is None and not q.notification_id:
        return _select(tx, q, None, q.limit)
    candidates: list[int] | None = None
    for table, column, value in (
        ("audit_child", "child", q.child),
        ("audit_notification", "notification_id", q.notification_id),
    ):
        if value:
            rows = tx.all(
                f"SELECT seq FROM {table} WHERE {column} = ? AND seq > ? ORDER BY seq",
                (value, q.after),
            )
            seqs = [int(r[0]) for r in rows]
            candidates = seqs if candidates is None else sorted(set(candidates) & set(seqs))
    found: list[Record] = []
    candidates = candidates or []
    for i in range(0, len(candidates), _CHUNK):
        found += _select(tx, q, candidates[i : i + _CHUNK], q.limit - len(found))
        if len(found) >= q.limit:
            break
    return found


def _select(tx: Tx, q: Query, seqs: list[int] | None, limit: int) -> list[Record]:
    where: list[str] = []
    params: list[Any] = []
    # Given the sequence numbers, the other filters only check those rows: `|| ''` keeps
    # either planner from preferring, say, the institution index over the few rows named.
    plain = ""
    if seqs is not None:
        where.append(f"seq IN ({','.join('?' * len(seqs))})")
        params += seqs
        plain = " || ''"
    for column, value in (
        ("institution", q.institution),
        ("receipt_id", q.receipt_id),
        ("outcome", q.outcome),
        ("kind", q.kind),
        ("cert_fp", q.cert_fp),
    ):
        if value is not None:
            where.append(f"{column}{plain} = ?")
            params.append(value)
    if q.since:
        where.append(f"at{plain} >= ?")
        params.append(q.since)
    if q.until:
        where.append(f"at{plain} < ?")
        params.append(q.until)
    if q.after:
        where.append("seq > ?")
        params.append(q.after)
    sql = f"SELECT {COLUMNS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [record_from_row(r) for r in tx.all(sql, params)]


def as_json(rec: Record) -> dict[str, Any]:
    return {"seq": rec.seq, "at": rec.at, **asdict(rec.entry), "hash": rec.hash}


def entries_for(kind: str, ids: Sequence[str], **common: Any) -> list[Entry]:
    """One entry per notification id (forwarder steps are per notification)."""
    return [Entry(kind=kind, notification_ids=(i,), **common) for i in ids]
