"""The audit log's Merkle tree at scale: appends, roots and proofs over ~1,000,000 records.

    .venv/bin/python -m bench.audit_merkle                 # 1,000,000 records, SQLite
    .venv/bin/python -m bench.audit_merkle --records 100000 --postgres URL

Builds a store by appending records the way the gateway does (`audit.append` in group commits,
which also writes the leaf and perfect-subtree hashes), then times what the tree is for: a root
at the full size, inclusion and consistency proofs from the store (O(log n) lookups each), their
verification, and, for comparison, the full rehash of every record that `gateway audit verify`
does. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stores import scratch_url
from gateway import audit
from gateway.audit import merkle
from gateway.audit.chain import COLUMNS, Entry, record_from_row
from gateway.store.db import Database, Tx

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


_IN_MERKLE = [0.0]


def _timed_append_leaves(tx: Tx, first_seq: int, leaves: Iterable[bytes]) -> None:
    """`merkle.append_leaves`, timed: how much of an append the tree costs."""
    start = time.perf_counter()
    _append_leaves(tx, first_seq, leaves)
    _IN_MERKLE[0] += time.perf_counter() - start


_append_leaves = merkle.append_leaves
merkle.append_leaves = _timed_append_leaves  # chain.append calls it through the module


def _fill(db: Database, records: int, batch: int) -> float:
    start = time.perf_counter()
    done = 0
    while done < records:
        n = min(batch, records - done)
        entries = [
            Entry("received", institution="mvr", receipt_id=f"r{done + i}", outcome="accepted")
            for i in range(n)
        ]
        db.write_sync(partial(audit.append, entries=entries))
        done += n
        if done % (batch * 100) == 0:
            print(f"  {done:>9,} records", file=sys.stderr)
    return time.perf_counter() - start


def _rehash(tx: Tx) -> bytes:
    frontier = merkle.Frontier()
    for row in tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq"):
        frontier.add(merkle.leaf_hash(record_from_row(row).canonical()))
    return frontier.root()


def _proofs(db: Database, m: int, n: int, root: bytes) -> list[tuple[str, float, int]]:
    """Time an inclusion proof for leaf m and a consistency proof from size m + 1, and their
    verification (checked, so the figures are of proofs that hold)."""

    def inclusion(tx: Tx) -> list[bytes]:
        return merkle.inclusion_proof(merkle.store_lookup(tx), m, n)

    def consistency(tx: Tx) -> list[bytes]:
        return merkle.consistency_proof(merkle.store_lookup(tx), m + 1, n)

    leaf = db.read_sync(lambda tx: merkle.store_lookup(tx)(0, m))
    old_root = db.read_sync(lambda tx: merkle.root(merkle.store_lookup(tx), m + 1))
    path, t_inc = _timed(lambda: db.read_sync(inclusion))
    ok, t_vinc = _timed(lambda: merkle.verify_inclusion(leaf, m, n, path, root))
    assert ok
    proof, t_con = _timed(lambda: db.read_sync(consistency))
    ok, t_vcon = _timed(lambda: merkle.verify_consistency(m + 1, n, old_root, root, proof))
    assert ok
    return [
        ("inc", t_inc, len(path)),
        ("vinc", t_vinc, len(path)),
        ("con", t_con, len(proof)),
        ("vcon", t_vcon, len(proof)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="records per group commit")
    parser.add_argument("--proofs", type=int, default=200, help="proofs to time")
    parser.add_argument("--postgres", help="a fresh schema on this PostgreSQL server instead")
    args = parser.parse_args()
    with scratch_url(args.postgres, "bench_merkle") as url:
        measure(Database(url), args)


def measure(db: Database, args: argparse.Namespace) -> None:
    n = args.records
    try:
        print(f"appending {n:,} records in commits of {args.batch} …", file=sys.stderr)
        fill = _fill(db, n, args.batch)
        print(f"append (chain + Merkle nodes): {fill:.1f} s, {n / fill:,.0f} records/s")
        print(
            f"  of which Merkle leaf + node hashes (merkle.append_leaves): {_IN_MERKLE[0]:.1f} s, "
            f"{_IN_MERKLE[0] / n * 1e6:.1f} µs/record"
        )

        db.read_sync(lambda tx: merkle.root(merkle.store_lookup(tx), n))  # the reader warm
        root, t_root = _timed(
            lambda: db.read_sync(lambda tx: merkle.root(merkle.store_lookup(tx), n))
        )
        print(f"root at {n:,} leaves from the store: {t_root * 1000:.2f} ms")

        rng = random.Random(6962)
        times: dict[str, list[float]] = {k: [] for k in ("inc", "vinc", "con", "vcon")}
        sizes: dict[str, int] = {}
        for m in (rng.randrange(n) for _ in range(args.proofs)):
            for name, seconds, length in _proofs(db, m, n, root):
                times[name].append(seconds)
                sizes[name] = length

        def ms(xs: list[float]) -> str:
            return f"median {statistics.median(xs) * 1000:.2f} ms, max {max(xs) * 1000:.2f} ms"

        print(f"inclusion proof from the store ({sizes['inc']} hashes): {ms(times['inc'])}")
        print(f"inclusion proof verification: {ms(times['vinc'])}")
        print(f"consistency proof from the store ({sizes['con']} hashes): {ms(times['con'])}")
        print(f"consistency proof verification: {ms(times['vcon'])}")

        rehashed, t_full = _timed(lambda: db.read_sync(_rehash))
        assert rehashed == root
        print(f"full rehash of {n:,} records (what `audit verify` does): {t_full:.1f} s")
    finally:
        db.close()


if __name__ == "__main__":
    main()
