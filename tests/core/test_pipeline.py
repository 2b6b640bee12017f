"""The pipeline's record rules (README §2, §5) with a stand-in adapter and a real store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.crypto import Sealer
from gateway.errors import StaleVersion
from gateway.facts import Child, Pseudonym, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.pipeline import Pipeline
from gateway.receipts import Caller, Receipt
from gateway.resources import mappings_dir
from gateway.store import outbox
from gateway.store.db import Database

CALLER = Caller("mvr", "fp")
DAY = date(2021, 5, 1)


def child(key: str, birth: str = "2010-01-01") -> Child:
    return Child(f"/v[{key}]", "female", (Pseudonym("k", key * 64),), key, birth)


def record(**kw: Any) -> SourceRecord:
    base = SourceRecord(
        message_id=str(uuid.uuid4()),
        record_key="R-1",
        source_event="first",
        incident_date=DAY,
        children=[child("a")],
        in_scope=True,
        forms=frozenset({"physical"}),
        source_event_path="/type",
        event_date_path="/eventDate",
    )
    return replace(base, **kw)


@dataclass
class StandIn:
    """An adapter whose `translate` returns the record the test hands it as the document."""

    slug: str = "mvr"  # the profile knows the institutions it publishes
    version: str = "0"
    transport: TransportSpec = field(
        default_factory=lambda: TransportSpec("json", "/x", 1, ("application/json",))
    )
    child_key: Literal["person", "record"] = "person"
    policy: RecordPolicy = field(default_factory=RecordPolicy)

    def message_id(self, document: Any) -> str | None:
        assert isinstance(document, SourceRecord)
        return document.message_id

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        assert isinstance(document, SourceRecord)
        return document


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    db = Database(str(tmp_path / "s.sqlite3"))
    keys = Keyring((LinkageKey("k", b"1" * 32),), b"2" * 32)
    yield Pipeline(db, Mappings.load(mappings_dir()), keys, Sealer("s", b"3" * 32))
    db.close()


def send(pipeline: Pipeline, rec: SourceRecord, adapter: StandIn | None = None) -> Receipt:
    return asyncio.run(pipeline.submit(adapter or StandIn(), b"raw", CALLER, rec))


def events(pipeline: Pipeline) -> list[str]:
    rows = pipeline.db.read_sync(lambda tx: tx.all("SELECT event FROM outbox ORDER BY seq"))
    return [r[0] for r in rows]


def codes(receipt: Receipt) -> list[str]:
    return [w.code for w in receipt.warnings]


def test_new_update_and_source_event_mismatch(pipeline: Pipeline) -> None:
    first = send(pipeline, record())
    assert (first.status, first.notification_count, codes(first)) == ("accepted", 1, [])
    again = send(pipeline, record(source_event="first"))  # says "first" but was seen
    assert codes(again) == ["source-event-mismatch"]
    assert events(pipeline) == ["new", "update"]
    never_seen = send(pipeline, record(record_key="R-2", source_event="later"))
    assert codes(never_seen) == ["source-event-mismatch"]


def test_two_first_messages_of_one_record_sent_at_once(pipeline: Pipeline) -> None:
    # Whether or not they share a commit group, the second finds the state the first left.
    async def both() -> list[Receipt]:
        sent = [pipeline.submit(StandIn(), b"raw", CALLER, record()) for _ in range(2)]
        return list(await asyncio.gather(*sent))

    first, second = asyncio.run(both())
    assert (codes(first), codes(second)) == ([], ["source-event-mismatch"])
    assert events(pipeline) == ["new", "update"]
    assert first.notification_ids != second.notification_ids


def test_duplicate_returns_the_first_receipt(pipeline: Pipeline) -> None:
    rec = record()
    first = send(pipeline, rec)
    again = send(pipeline, replace(rec, forms=frozenset({"sexual"})))  # whatever the content
    assert again == replace(first, status="duplicate")
    assert events(pipeline) == ["new"]


def test_child_key_changed_and_withdrawal(pipeline: Pipeline) -> None:
    send(pipeline, record(children=[child("a"), child("b")]))
    changed = send(pipeline, record(source_event="later", children=[child("a"), child("c")]))
    assert codes(changed) == ["child-key-changed"]
    withdrawn = send(pipeline, record(source_event="withdraw", children=[]))
    assert withdrawn.status == "accepted" and withdrawn.notification_count == 2
    assert events(pipeline) == ["new", "new", "update", "update", "cancel", "cancel"]
    unknown = send(pipeline, record(record_key="R-9", source_event="withdraw"))
    assert (unknown.status, unknown.notification_count) == ("accepted", 0)
    assert codes(unknown) == ["cancel-of-unknown-record"]


def test_adults_and_out_of_scope(pipeline: Pipeline) -> None:
    adult = send(pipeline, record(children=[child("a", "1990-01-01")]))
    assert (adult.status, adult.notification_count) == ("out-of-scope", 0)
    send(pipeline, record(record_key="R-3"))
    falls_out = send(pipeline, record(record_key="R-3", source_event="later", in_scope=False))
    assert (falls_out.status, falls_out.notification_count) == ("accepted", 1)
    assert events(pipeline)[-1] == "cancel"


def test_stale_version_refused_or_answered_as_duplicate(pipeline: Pipeline) -> None:
    send(pipeline, record(version=2))
    with pytest.raises(StaleVersion):
        send(pipeline, record(version=2, source_event="later"))
    helpline = StandIn(policy=RecordPolicy(older_version="duplicate"))
    latest = send(pipeline, record(record_key="H-1", version=3), helpline)
    older = send(pipeline, record(record_key="H-1", version=2), helpline)
    assert older == replace(latest, status="duplicate")
    newer = send(pipeline, record(record_key="H-1", version=4, source_event="later"), helpline)
    assert newer.status == "accepted" and newer.receipt_id != latest.receipt_id


def test_stale_event_is_acknowledged_and_changes_nothing(pipeline: Pipeline) -> None:
    send(pipeline, record(event_date=date(2021, 6, 1)))
    stale = send(pipeline, record(event_date=date(2021, 5, 1), source_event="later"))
    assert (stale.status, stale.notification_count) == ("accepted", 0)
    assert [(w.code, w.path) for w in stale.warnings] == [("stale-event", "/eventDate")]
    equal = send(pipeline, record(event_date=date(2021, 6, 1), source_event="later"))
    assert equal.notification_count == 1 and codes(equal) == []
    withdrawal = send(pipeline, record(event_date=date(2021, 1, 1), source_event="withdraw"))
    assert withdrawal.notification_count == 1
    assert events(pipeline) == ["new", "update", "cancel"]


def test_content_keyed_records_repeat_only_their_latest(pipeline: Pipeline) -> None:
    schools = StandIn(policy=RecordPolicy(duplicates="latest-content"))
    a = record(message_id="digest-a")
    first = send(pipeline, a, schools)
    assert send(pipeline, a, schools) == replace(first, status="duplicate")
    changed = send(pipeline, record(message_id="digest-b", source_event="later"), schools)
    assert changed.status == "accepted"
    back = send(pipeline, record(message_id="digest-a", source_event="later"), schools)
    assert back.status == "accepted" and back.receipt_id != first.receipt_id
    assert events(pipeline) == ["new", "update", "update"]


def test_every_accepted_notification_is_queued(pipeline: Pipeline) -> None:
    receipt = send(pipeline, record(children=[child("a"), child("b"), child("c", "1999-01-01")]))
    assert receipt.notification_count == 2
    counts = pipeline.db.read_sync(outbox.counts)
    assert counts == {"pending": 2}
    assert datetime.now(UTC) >= receipt.received_at


def test_concurrent_submits_commit_in_call_order(pipeline: Pipeline) -> None:
    async def batch() -> list[Receipt]:
        adapter = StandIn(policy=RecordPolicy(older_version="duplicate"))
        records = [
            record(record_key="B-1", version=v, source_event="first" if v == 1 else "later")
            for v in range(1, 31)
        ]
        return await asyncio.gather(*(pipeline.submit(adapter, b"raw", CALLER, r) for r in records))

    receipts = asyncio.run(batch())
    # Committed in call order, each revision meets the one before: 1 new, then 29 updates,
    # never an older revision answered as a duplicate of a later one.
    assert [r.status for r in receipts] == ["accepted"] * 30
    assert events(pipeline) == ["new"] + ["update"] * 29
    assert all(not r.warnings for r in receipts)
