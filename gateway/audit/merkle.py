"""The audit records as an RFC 6962 Merkle tree: hashes, proofs, and their verification.

Leaf `i` (0-based) is record `seq = i + 1`, its bytes `Record.canonical()`. The store keeps every
leaf hash and every *perfect* subtree hash (a node covering leaves `[i * 2**level, (i+1) *
2**level)`), written as records are appended, so a root or a proof for any tree size needs
O(log n) lookups instead of rehashing the log. Proof generation follows RFC 6962 §2.1.1–2.1.2
(PATH, PROOF/SUBPROOF); verification is RFC 9162 §2.1.3.2 and §2.1.4.2 and needs no store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from gateway.store.db import Tx

#: (level, index) -> hash of the perfect subtree there; level 0 holds the leaf hashes.
NodeLookup = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than `n` (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


EMPTY_ROOT = hashlib.sha256(b"").digest()


# -- the tree over a node lookup (the store, or a list in memory) ---------------------------------


def subtree(get: NodeLookup, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that is a subtree of some RFC 6962 tree (lo aligned)."""
    size = hi - lo
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get(level, lo >> level)
    k = split(size)
    return node_hash(get((k.bit_length() - 1), lo // k), subtree(get, lo + k, hi))


def root(get: NodeLookup, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree(get, 0, size)


def inclusion_proof(get: NodeLookup, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            path.append(subtree(get, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(get, lo, lo + k))
            lo += k
    return path[::-1]


def consistency_proof(get: NodeLookup, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[new]) = SUBPROOF(old, D[new], true), bottom-up."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    proof: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = split(hi - lo)
        if m <= k:
            proof.append(subtree(get, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(get, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(subtree(get, lo, hi))
    return proof[::-1]


# -- verification (no store: an inspector's side) ---------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` lead from the leaf hash at `index` to `expected_root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does the tree of `new` leaves extend the tree of `old` leaves?"""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# -- in memory ------------------------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree (one perfect subtree root per set bit of its size):
    a root for every prefix while streaming leaves, in O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def add(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the perfect nodes it completes as (level, index, hash)."""
        index = self.size
        done = [(0, index, leaf)]
        h, level = leaf, 0
        while index & 1:
            h = node_hash(self._stack.pop(), h)
            level, index = level + 1, index >> 1
            done.append((level, index, h))
        self._stack.append(h)
        self.size += 1
        return done

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def memory_lookup(leaves: Sequence[bytes]) -> NodeLookup:
    """A lookup over leaf hashes in memory, every perfect node computed once (tests, bench)."""
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return lambda level, index: levels[level][index]


# -- in the store ---------------------------------------------------------------------------


def store_lookup(tx: Tx) -> NodeLookup:
    def get(level: int, index: int) -> bytes:
        row = tx.one("SELECT hash FROM audit_merkle WHERE level = ? AND idx = ?", (level, index))
        if row is None:
            raise LookupError(f"the Merkle node ({level}, {index}) is missing from the store")
        return bytes(row[0])

    return get


def append_leaves(tx: Tx, first_seq: int, leaves: Iterable[bytes]) -> None:
    """Store the leaf hashes of records `first_seq…` and the perfect nodes they complete.

    Runs inside the transaction that appends the records; only the left siblings along the
    right edge (at most log2 n) are read back from the store.
    """
    get = store_lookup(tx)
    if (
        first_seq > 1
        and tx.one("SELECT 1 FROM audit_merkle WHERE level = 0 AND idx = ?", (first_seq - 2,))
        is None
    ):
        _backfill(tx, first_seq - 1)
    made: dict[tuple[int, int], bytes] = {}
    index = first_seq - 1
    for data in leaves:
        h, level, i = leaf_hash(data), 0, index
        made[(0, i)] = h
        while i & 1:
            left = made.get((level, i - 1)) or get(level, i - 1)
            h = node_hash(left, h)
            level, i = level + 1, i >> 1
            made[(level, i)] = h
        index += 1
    if made:
        # Overwrites only where someone cut the log back behind the gateway's back: the writes
        # go on, and the signed checkpoints still show the cut (`checkpoint.check_store`).
        tx.executemany(
            "INSERT INTO audit_merkle (level, idx, hash) VALUES (?, ?, ?) "
            "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
            [(level, i, h) for (level, i), h in made.items()],
        )


def _backfill(tx: Tx, count: int) -> None:
    """A store whose records predate the tree gets it once, from records 1..count."""
    from gateway.audit.chain import COLUMNS, record_from_row  # the chain module imports this one

    frontier = Frontier()
    tx.execute("DELETE FROM audit_merkle")
    rows = tx.all(f"SELECT {COLUMNS} FROM audit WHERE seq <= ? ORDER BY seq", (count,))
    for start in range(0, len(rows), 10_000):
        nodes = [
            node
            for row in rows[start : start + 10_000]
            for node in frontier.add(leaf_hash(record_from_row(row).canonical()))
        ]
        tx.executemany("INSERT INTO audit_merkle (level, idx, hash) VALUES (?, ?, ?)", nodes)
