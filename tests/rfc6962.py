"""RFC 6962 §2.1 written out independently of the gateway: MTH, PATH, PROOF/SUBPROOF, and
verifiers that rebuild the roots by the same recursion. Imports nothing from the code under test.
"""

from __future__ import annotations

import hashlib


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return sha(b"\x00" + d[0])
    k = _k(len(d))
    return sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_root_from_path(m: int, n: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root PATH(m, D[n]) leads to, mirroring the recursion (the last hash is the top)."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = _k(n)
    top, rest = path[-1], path[:-1]
    if m < k:
        left = ref_root_from_path(m, k, leaf, rest)
        return None if left is None else sha(b"\x01" + left + top)
    right = ref_root_from_path(m - k, n - k, leaf, rest)
    return None if right is None else sha(b"\x01" + top + right)


def ref_roots_from_proof(
    m: int, n: int, proof: list[bytes], b: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """(old root, new root) that SUBPROOF(m, D[n], b) implies, mirroring the recursion."""
    if m == n:
        if b:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _k(n)
    top, rest = proof[-1], proof[:-1]
    if m <= k:
        inner = ref_roots_from_proof(m, k, rest, b, old_root)
        return None if inner is None else (inner[0], sha(b"\x01" + inner[1] + top))
    inner = ref_roots_from_proof(m - k, n - k, rest, False, old_root)
    if inner is None:
        return None
    return sha(b"\x01" + top + inner[0]), sha(b"\x01" + top + inner[1])


def ref_inclusion_ok(m: int, n: int, data: bytes, path: list[bytes], root: bytes) -> bool:
    return ref_root_from_path(m, n, sha(b"\x00" + data), path) == root


def ref_consistency_ok(m: int, n: int, proof: list[bytes], old: bytes, new: bytes) -> bool:
    return ref_roots_from_proof(m, n, proof, True, old) == (old, new)
