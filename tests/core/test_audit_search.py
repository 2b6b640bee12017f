"""Search of the audit trail: by child (ЕГН typed, pseudonym derived), and the indexed filters."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import date
from functools import partial

import pytest

from gateway import audit
from gateway.audit import children
from gateway.audit.chain import COLUMNS, Entry, Query, Record, record_from_row
from gateway.crypto import Sealer
from gateway.errors import ContractViolation
from gateway.facts import Child, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.pipeline import Pipeline
from gateway.receipts import Caller, Receipt
from gateway.resources import mappings_dir
from gateway.store.db import Database
from tests.core.test_pipeline import StandIn

KEYS = Keyring((LinkageKey("k", b"1" * 32),), b"2" * 32)


def egn(prefix: str) -> str:
    """Complete a 9-digit ЕГН prefix (here: born 2005-01-01, 2007-03-12) with its check digit."""
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    digit = sum(int(d) * w for d, w in zip(prefix, weights, strict=True)) % 11 % 10
    return prefix + str(digit)


A, B = egn("054101452"), egn("074312563")


def child(number: str, index: int = 0) -> Child:
    return Child(
        f"/victims/{index}",
        "female",
        KEYS.pseudonyms("EGN", number),
        KEYS.internal_id("EGN", number),
        "2005-01-01",
    )


def record(record_key: str, kids: list[Child], **kw: object) -> SourceRecord:
    base = SourceRecord(
        message_id=str(uuid.uuid4()),
        record_key=record_key,
        source_event="first",
        incident_date=date(2021, 5, 1),
        children=kids,
        in_scope=True,
        forms=frozenset({"physical"}),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def send(pipeline: Pipeline, slug: str, rec: SourceRecord) -> Receipt:
    caller = Caller(slug, f"fp-{slug}")
    return asyncio.run(pipeline.submit(StandIn(slug=slug), b"raw", caller, rec))


def everything(db: Database) -> list[Record]:
    return [
        record_from_row(r) for r in db.read_sync(lambda tx: tx.all(f"SELECT {COLUMNS} FROM audit"))
    ]


def test_search_by_egn_finds_exactly_that_childs_records(db: Database) -> None:
    pipeline = Pipeline(db, Mappings.load(mappings_dir()), KEYS, Sealer("s", b"3" * 32))
    both = record("R-1", [child(A), child(B, 1)])
    send(pipeline, "mvr", both)  # the police report both children
    second = record("S-9", [child(A)])
    send(pipeline, "ozd", second)  # child protection reports A again
    send(pipeline, "ozd", second)  # ... and sends it twice: a duplicate
    send(pipeline, "mvr", record("R-1", [], source_event="withdraw"))  # cancels A and B
    send(pipeline, "ozd", record("T-1", [child(B)], in_scope=False))  # out of scope, B only

    a, b = children.derive(KEYS, egn=A), children.derive(KEYS, egn=B)
    found_a = db.read_sync(lambda tx: audit.search(tx, Query(child=a)))
    found_b = db.read_sync(lambda tx: audit.search(tx, Query(child=b)))
    # Exactly the records naming the child, checked against a scan of the whole trail.
    scan = everything(db)
    assert [r.seq for r in found_a] == [r.seq for r in scan if a in r.entry.children]
    assert [r.seq for r in found_b] == [r.seq for r in scan if b in r.entry.children]
    # A: the police report and its cancel (3 + 3), child protection's (3) and its duplicate (2).
    assert [(r.entry.institution, r.entry.kind) for r in found_a] == [
        ("mvr", "received"),
        ("mvr", "accepted"),
        ("mvr", "translated"),
        ("ozd", "received"),
        ("ozd", "accepted"),
        ("ozd", "translated"),
        ("ozd", "received"),
        ("ozd", "duplicate"),
        ("mvr", "received"),
        ("mvr", "accepted"),
        ("mvr", "translated"),
    ]
    assert {r.entry.institution for r in found_a} == {"mvr", "ozd"}
    assert [r.entry.kind for r in found_b] == [
        "received",
        "accepted",
        "translated",
        "received",
        "accepted",
        "translated",
        "received",
        "out-of-scope",
    ]
    # The cancel's records name both children of the case though the message named none.
    cancel = found_a[-1]
    assert cancel.entry.outcome == "cancel,cancel" and set(cancel.entry.children) == {a, b}
    # The number itself is nowhere in the trail, only the internal pseudonym.
    assert all(A not in str(r) and B not in str(r) for r in scan)
    assert db.read_sync(audit.verify).ok


def test_derive_checks_the_number_and_never_echoes_it() -> None:
    assert children.derive(KEYS, egn=A) == KEYS.internal_id("EGN", A)
    wrong = A[:9] + str((int(A[9]) + 1) % 10)
    with pytest.raises(ContractViolation) as refused:
        children.derive(KEYS, egn=wrong)
    assert [p.code for p in refused.value.problems] == ["check-digit"]
    assert wrong not in str(refused.value) and wrong not in repr(refused.value.problems)
    with pytest.raises(ContractViolation):
        children.derive(KEYS, egn=A, lnch="1000000000")
    with pytest.raises(ContractViolation):
        children.derive(KEYS)


def test_every_filter_uses_its_column(db: Database) -> None:
    def entries(i: int) -> list[Entry]:
        return [
            Entry(
                "forwarded" if i % 2 else "delivered",
                institution="mvr" if i % 3 else "ozd",
                cert_fp=f"fp{i % 4}",
                receipt_id=f"r{i}",
                notification_ids=(f"n{i}", f"n{i + 1}"),
                outcome="ok",
                children=(f"c{i % 5}",),
            )
        ]

    for i in range(20):
        db.write_sync(partial(audit.append, entries=entries(i)))

    def seqs(**kw: object) -> list[int]:
        query = Query(**kw)  # type: ignore[arg-type]
        return [r.seq for r in db.read_sync(lambda tx: audit.search(tx, query))]

    assert seqs(cert_fp="fp1") == [2, 6, 10, 14, 18]
    assert seqs(notification_id="n5") == [5, 6]  # records r4 (n4, n5) and r5 (n5, n6)
    assert seqs(child="c2") == [3, 8, 13, 18]
    assert seqs(child="c2", institution="ozd") == [13]
    assert seqs(child="c2", notification_id="n13") == [13]
    assert seqs(kind="forwarded", institution="ozd") == [4, 10, 16]
    assert seqs(after=17) == [18, 19, 20]
    assert seqs(limit=2, after=5) == [6, 7]
    assert seqs(receipt_id="r7") == [8]
    first = db.read_sync(lambda tx: audit.search(tx, Query(limit=1)))[0]
    assert seqs(since=first.at) == list(range(1, 21)) and seqs(until=first.at) == []
