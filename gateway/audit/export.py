"""Reading the audit out: FHIR NDJSON with its evidence, and the `read` record each read leaves.

Every reader (the officer API, `gateway audit search|export|report`) appends a `read` record
naming who read and with which filters before it answers; the filters hold a child's internal
pseudonym at most, never the number that was typed.

An export is made against a signed checkpoint of `size` records: it holds the period's records
up to that size, each AuditEvent carrying its canonical bytes and its inclusion proof in that
tree (`fhir.with_evidence`), so `offline.verify_fhir_export` checks it with the public key only.
Without any checkpoint the events carry their bytes alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, replace
from functools import partial

import orjson

from gateway.audit import merkle
from gateway.audit.chain import Entry, Query, Record, search
from gateway.audit.fhir import Inclusion, render, with_evidence
from gateway.store.db import Database, Tx

PAGE = 1000


def stored_checkpoint(tx: Tx, size: int | None = None) -> tuple[int, str] | None:
    """The stored checkpoint of `size` records (any in the history), or the latest one."""
    if size is None:
        row = tx.one("SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
    else:
        row = tx.one("SELECT size, note FROM audit_checkpoints WHERE size = ?", (size,))
    return None if row is None else (int(row[0]), str(row[1]))


class Prover:
    """Inclusion proofs in the tree of `size` leaves. A page of neighbouring leaves needs the
    nodes around them on each level (read in one range query per level, ~20 per page) and the
    tree's right edge (read once, then kept); a round trip per node would cost ~60 µs each on
    PostgreSQL."""

    _KEEP = 100_000

    def __init__(self, size: int) -> None:
        self.size = size
        self._nodes: dict[tuple[int, int], bytes] = {}

    def prefetch(self, tx: Tx, first_seq: int, last_seq: int) -> None:
        """Read the nodes the proofs of leaves `first_seq..last_seq` need, level by level."""
        if len(self._nodes) >= self._KEEP:
            self._nodes.clear()
        level = 0
        while 1 << level < self.size:
            lo, hi = ((first_seq - 1) >> level) - 1, ((last_seq - 1) >> level) + 1
            rows = tx.all(
                "SELECT idx, hash FROM audit_merkle WHERE level = ? AND idx >= ? AND idx <= ?",
                (level, max(lo, 0), hi),
            )
            self._nodes.update(((level, int(i)), bytes(h)) for i, h in rows)
            level += 1

    def prove(self, tx: Tx, seq: int) -> Inclusion:
        stored = merkle.store_lookup(tx)

        def get(level: int, index: int) -> bytes:
            node = self._nodes.get((level, index))
            if node is None:
                node = self._nodes[(level, index)] = stored(level, index)
            return node

        return Inclusion(self.size, seq - 1, tuple(merkle.inclusion_proof(get, seq - 1, self.size)))


def _search(query: Query, tx: Tx) -> list[Record]:
    return search(tx, query)


def records(db: Database, query: Query, page: int = PAGE) -> Iterator[Record]:
    """Every record matching `query` (its limit ignored), in sequence order, a page at a time."""
    q = replace(query, limit=page)
    while True:
        batch = db.read_sync(partial(_search, q))
        yield from batch
        if len(batch) < page:
            return
        q = replace(q, after=batch[-1].seq)


def ndjson_line(rec: Record, legal_basis: Mapping[str, str], proof: Inclusion | None) -> bytes:
    return orjson.dumps(with_evidence(render(rec, legal_basis), rec, proof)) + b"\n"


def _page(
    query: Query, prover: Prover | None, legal_basis: Mapping[str, str], tx: Tx
) -> tuple[list[bytes], int, bool]:
    """One page of lines (proofs read in the same transaction), the last sequence number read,
    and whether the export goes on (a full page, still inside the checkpoint's tree)."""
    found = search(tx, query)
    if prover is not None and found and found[0].seq <= prover.size:
        prover.prefetch(tx, found[0].seq, min(found[-1].seq, prover.size))
    lines: list[bytes] = []
    for rec in found:
        if prover is not None and rec.seq > prover.size:
            return lines, rec.seq, False
        proof = prover.prove(tx, rec.seq) if prover is not None else None
        lines.append(ndjson_line(rec, legal_basis, proof))
    return lines, found[-1].seq if found else query.after, len(found) == query.limit


def lines(
    db: Database, query: Query, legal_basis: Mapping[str, str], size: int | None, page: int = PAGE
) -> Iterator[bytes]:
    """The period's AuditEvents (its limit ignored) up to the checkpoint of `size` records,
    in sequence order, a page at a time."""
    prover = None if size is None else Prover(size)
    q = replace(query, limit=page)
    while True:
        batch, last, more = db.read_sync(partial(_page, q, prover, legal_basis))
        yield from batch
        if not more:
            return
        q = replace(q, after=last)


async def lines_async(
    db: Database, query: Query, legal_basis: Mapping[str, str], size: int | None, page: int = PAGE
) -> AsyncIterator[bytes]:
    prover = None if size is None else Prover(size)
    q = replace(query, limit=page)
    while True:
        batch, last, more = await db.read(partial(_page, q, prover, legal_basis))
        for line in batch:
            yield line
        if not more:
            return
        q = replace(q, after=last)


def describe(what: str, query: Query) -> str:
    """`what` and the filters that were set, for the `read` record (pseudonyms only)."""
    default = Query()
    filters = [
        f"{name}={value}"
        for name, value in asdict(query).items()
        if value != getattr(default, name) and name != "child"
    ]
    if query.child is not None:
        filters.append("child=pseudonym")  # the pseudonym itself is the record's `children`
    return " ".join([what, *filters])


def read_entry(
    what: str,
    query: Query,
    *,
    cert_fp: str = "",
    institution: str = "",
    outcome: str = "ok",
) -> Entry:
    return Entry(
        "read",
        institution=institution,
        cert_fp=cert_fp,
        outcome=outcome,
        detail=describe(what, query),
        children=(query.child,) if query.child else (),
    )
