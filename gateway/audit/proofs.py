"""What the gateway hands an inspector: proof bundles, consistency proofs, raw record exports.

A *bundle* holds every audit record about one receipt (its own steps and the forwarder's steps
for its notifications) as the exact bytes its leaf hash covers, each with its RFC 6962
inclusion proof against one signed checkpoint, and that checkpoint. `offline` checks all three
kinds of file with nothing but the public key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from gateway.audit import merkle
from gateway.audit.chain import COLUMNS, Record, record_from_row
from gateway.store.db import Tx

BUNDLE_FORMAT = "child-violence-gateway/audit-bundle/1"
CONSISTENCY_FORMAT = "child-violence-gateway/audit-consistency/1"


def records_about(tx: Tx, receipt_id: str) -> list[Record]:
    """Every record naming the receipt, or one of the notifications made from it."""
    found = {
        r.seq: r
        for r in map(
            record_from_row,
            tx.all(f"SELECT {COLUMNS} FROM audit WHERE receipt_id = ?", (receipt_id,)),
        )
    }
    notifications = {n for r in found.values() for n in r.entry.notification_ids}
    for nid in sorted(notifications):
        rows = tx.all(f"SELECT {COLUMNS} FROM audit WHERE notification_ids LIKE ?", (f'%"{nid}"%',))
        found.update((r.seq, r) for r in map(record_from_row, rows))
    return [found[seq] for seq in sorted(found)]


def bundle(
    tx: Tx, receipt_id: str, checkpoint: str, size: int, key_fingerprint: str
) -> dict[str, Any]:
    """The bundle for `receipt_id` against the signed `checkpoint` of tree size `size`."""
    records = records_about(tx, receipt_id)
    if not records:
        raise LookupError(f"no audit record names receipt {receipt_id}")
    late = [r.seq for r in records if r.seq > size]
    if late:
        raise ValueError(f"records {late} came after the checkpoint of size {size}")
    get = merkle.store_lookup(tx)
    return {
        "format": BUNDLE_FORMAT,
        "receipt_id": receipt_id,
        "checkpoint": checkpoint,
        "public_key_sha256": key_fingerprint,
        "records": [
            {
                "seq": r.seq,
                "record": r.canonical().decode(),
                "leaf_hash": merkle.leaf_hash(r.canonical()).hex(),
                "inclusion": [h.hex() for h in merkle.inclusion_proof(get, r.seq - 1, size)],
            }
            for r in records
        ],
    }


def consistency(tx: Tx, old: int, new: int, checkpoint: str) -> dict[str, Any]:
    """Proof that the tree of `new` records (signed in `checkpoint`) extends the one of `old`."""
    proof = merkle.consistency_proof(merkle.store_lookup(tx), old, new)
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old,
        "new_size": new,
        "proof": [h.hex() for h in proof],
        "checkpoint": checkpoint,
    }


def export_lines(tx: Tx) -> Iterator[bytes]:
    """The raw export: one record per line, each line exactly its canonical bytes (its leaf)."""
    for row in tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq"):
        yield record_from_row(row).canonical() + b"\n"


def dumps(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
