"""Which child an audit record is about, as the internal pseudonym, never the number.

The pipeline knows the child of every new and updated notification; a cancel and the
forwarder's steps only know the case, so the first notification of a case remembers its child
(`remember`) and later steps look it up (`of_cases`). An officer's typed ЕГН/ЛНЧ becomes the
same pseudonym locally (`derive`) and is dropped at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from gateway.audit import chain
from gateway.errors import ContractViolation, Problem
from gateway.facts import Notification
from gateway.identity import Keyring, Located, check_egn, check_lnch
from gateway.store.db import Tx


def derive(keyring: Keyring, *, egn: str | None = None, lnch: str | None = None) -> str:
    """The internal pseudonym of the child with this ЕГН (or ЛНЧ); the problem names the field
    and the rule, never the value."""
    if (egn is None) == (lnch is None):
        raise ContractViolation([Problem("#", "conflict", "give exactly one of egn and lnch")])
    kind, value, check = ("EGN", egn, check_egn) if egn is not None else ("LNCH", lnch, check_lnch)
    assert value is not None
    problem = check(Located(value.strip(), "#/" + kind.lower()))
    if problem is not None:
        raise ContractViolation([problem])
    return keyring.internal_id(kind, value.strip())


def remember(tx: Tx, notifications: Sequence[Notification]) -> tuple[str, ...]:
    """The children of `notifications` (new/update: their own; cancel: the case's), recording
    each case's child (the latest: a re-keyed child moves its case along)."""
    known = [
        (n.case_key, n.child.internal_id)
        for n in notifications
        if n.child is not None and n.child.internal_id
    ]
    if known:
        tx.executemany(
            "INSERT INTO audit_case_child (case_key, child) VALUES (?,?) "
            "ON CONFLICT (case_key) DO UPDATE SET child = excluded.child",
            known,
        )
    cancelled = of_cases(tx, [n.case_key for n in notifications if n.child is None])
    return tuple(sorted({c for _, c in known} | set(cancelled.values())))


def of_cases(tx: Tx, case_keys: Iterable[str]) -> dict[str, str]:
    """case key → child, for the cases whose child is known."""
    keys = sorted(set(case_keys))
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    rows = tx.all(f"SELECT case_key, child FROM audit_case_child WHERE case_key IN ({marks})", keys)
    return {str(r[0]): str(r[1]) for r in rows}


def of_receipt(tx: Tx, receipt_id: str) -> tuple[str, ...]:
    """The children the records of an earlier receipt are about (for its duplicates)."""
    # The records' own column, by the receipt index (the side table is indexed by child only).
    rows = tx.all("SELECT children FROM audit WHERE receipt_id = ?", (receipt_id,))
    found = {str(c) for r in rows for c in orjson.loads(r[0])}
    # An earlier unit of the same commit group: its records are not written yet.
    found.update(c for e in chain.pending(tx) if e.receipt_id == receipt_id for c in e.children)
    return tuple(sorted(found))
