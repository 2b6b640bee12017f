"""The store's group commit and the audit chain, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gateway import audit
from gateway.audit import Entry
from gateway.audit import children as audit_children
from gateway.errors import Unavailable
from gateway.store import outbox
from gateway.store.db import Database, Tx


def _append(db: Database, n: int, kind: str = "received") -> None:
    db.write_sync(
        lambda tx: audit.append(
            tx, [Entry(kind, institution="mvr", receipt_id=f"r{i}") for i in range(n)]
        )
    )


def test_chain_verifies_and_search_filters(db: Database) -> None:
    _append(db, 5)
    _append(db, 2, "accepted")
    verdict = db.read_sync(audit.verify)
    assert verdict.ok and verdict.records == 7
    found = db.read_sync(lambda tx: audit.search(tx, audit.Query(kind="accepted")))
    assert [r.entry.receipt_id for r in found] == ["r0", "r1"]
    found = db.read_sync(lambda tx: audit.search(tx, audit.Query(receipt_id="r3")))
    assert [r.seq for r in found] == [4]


def _tamper(db: Database, sql: str) -> list[str]:
    db.write_sync(lambda tx: tx.execute(sql))
    return db.read_sync(audit.verify).findings


def test_edit_is_named(db: Database) -> None:
    _append(db, 5)
    findings = _tamper(db, "UPDATE audit SET outcome = 'x' WHERE seq = 3")
    assert findings == ["record 3 edited: its hash does not match its content"]


def test_delete_is_named(db: Database) -> None:
    _append(db, 5)
    findings = _tamper(db, "DELETE FROM audit WHERE seq = 2")
    assert findings[0] == "record 2 missing (deleted)"
    assert "record 3 out of place" in findings[1]


def test_reorder_is_named(db: Database) -> None:
    _append(db, 4)
    db.write_sync(lambda tx: tx.execute("UPDATE audit SET seq = 100 WHERE seq = 2"))
    db.write_sync(lambda tx: tx.execute("UPDATE audit SET seq = 2 WHERE seq = 3"))
    findings = _tamper(db, "UPDATE audit SET seq = 3 WHERE seq = 100")
    assert any(f.startswith("record 2 edited") for f in findings)
    assert any(f.startswith("record 3 edited") for f in findings)


def test_truncated_tail_is_found(db: Database) -> None:
    _append(db, 4)
    findings = _tamper(db, "DELETE FROM audit WHERE seq = 4")
    assert findings == [
        "the log ends at record 3 but the head says 4: records were removed from the end "
        "or the head was changed"
    ]


def test_a_failing_unit_does_not_undo_its_group(db: Database) -> None:
    def bad(tx: Tx) -> None:
        audit.append(tx, [Entry("received", receipt_id="bad")])
        raise ValueError("boom")

    async def both() -> list[object]:
        return await asyncio.gather(
            db.write(lambda tx: audit.append(tx, [Entry("received", receipt_id="good")])),
            db.write(bad),
            return_exceptions=True,
        )

    results = asyncio.run(both())
    assert results[0] is None and isinstance(results[1], ValueError)
    rows = db.read_sync(lambda tx: audit.search(tx, audit.Query()))
    assert [r.entry.receipt_id for r in rows] == ["good"]
    assert db.read_sync(audit.verify).ok


def test_one_group_chains_its_units_records_in_order_and_later_units_see_them(
    db: Database,
) -> None:
    """A commit group chains every unit's records at its end; a duplicate in the same group as
    its first message still finds that message's children."""
    started, release = threading.Event(), threading.Event()

    def hold(_: Tx) -> None:
        started.set()
        release.wait(10)

    def first(tx: Tx) -> None:
        audit.append(tx, [Entry("received", receipt_id="r1", children=("c1",))])

    def again(tx: Tx) -> tuple[str, ...]:
        kids = audit_children.of_receipt(tx, "r1")
        audit.append(tx, [Entry("duplicate", receipt_id="r1", children=kids)])
        return kids

    held = db.enqueue(hold)
    assert started.wait(10)
    # Both queued while the writer is busy: the next group takes them together.
    futures = [db.enqueue(first), db.enqueue(again)]
    release.set()
    held.result(10)
    assert futures[1].result(10) == ("c1",)
    rows = db.read_sync(lambda tx: audit.search(tx, audit.Query(receipt_id="r1")))
    assert [(r.entry.kind, r.entry.children) for r in rows] == [
        ("received", ("c1",)),
        ("duplicate", ("c1",)),
    ]
    assert db.read_sync(audit.verify).ok


def test_outbox_keeps_case_order_and_leases(db: Database) -> None:
    rows = [
        ("n1", "case-a", "r", "mvr", "new", b"{}"),
        ("n2", "case-b", "r", "mvr", "new", b"{}"),
        ("n3", "case-a", "r", "mvr", "update", b"{}"),
    ]
    db.write_sync(lambda tx: outbox.enqueue(tx, rows, 0.0))
    first = db.write_sync(lambda tx: outbox.claim(tx, 10, 1.0, 60))
    assert [q.notification_id for q in first] == ["n1", "n2"]  # n3 waits behind n1
    assert db.write_sync(lambda tx: outbox.claim(tx, 10, 2.0, 60)) == []  # leased
    db.write_sync(lambda tx: outbox.delivered(tx, [first[0].seq], "now"))
    db.write_sync(lambda tx: outbox.retry(tx, first[1].seq, 5.0, "down"))
    second = db.write_sync(lambda tx: outbox.claim(tx, 10, 3.0, 60))
    assert [q.notification_id for q in second] == ["n3"]
    assert [q.notification_id for q in db.write_sync(lambda tx: outbox.claim(tx, 10, 6.0, 60))] == [
        "n2"
    ]
    assert db.read_sync(outbox.counts) == {"delivered": 1, "pending": 2}


def test_full_disk_is_unavailable_and_recovers(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "s.sqlite3"))
    try:
        # SQLITE_FULL, the error a full disk gives: the store may not grow past its pages.
        pages = database.write_sync(lambda tx: tx.one("PRAGMA page_count"))
        assert pages is not None
        database.write_sync(lambda tx: tx.one(f"PRAGMA max_page_count = {pages[0]}"))
        big = [Entry("received", detail="x" * 5000) for _ in range(50)]
        with pytest.raises(Unavailable):
            database.write_sync(lambda tx: audit.append(tx, big))
        database.write_sync(lambda tx: tx.one("PRAGMA max_page_count = 1000000"))
        database.write_sync(lambda tx: audit.append(tx, big))
        assert database.read_sync(audit.verify).records == 50
    finally:
        database.close()


def test_sqlite_units_undo_logs_stay_in_memory(tmp_path: Path) -> None:
    """Each unit's savepoint keeps its undo log in memory, not in a temporary file that a
    commit group would write a page of per page it touches (measured: 55 KiB a message)."""
    database = Database(str(tmp_path / "s.sqlite3"))
    try:
        # 2 = MEMORY; SQLite's default, 0, puts statement journals in files.
        assert database.write_sync(lambda tx: tx.one("PRAGMA temp_store")) == (2,)
    finally:
        database.close()


def test_replicas_starting_together_create_the_schema_once(url: str) -> None:
    """Gateways started at the same moment on a new store (workers, replicas): no catalogue
    race (PostgreSQL's `IF NOT EXISTS` alone is not safe against a concurrent creator)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Database(url), range(4)))
    for store in stores:
        assert store.read_sync(audit.verify).ok
        store.close()


def test_sqlite_writers_of_several_processes_take_turns_on_the_lock_file(tmp_path: Path) -> None:
    """`workers = N` on SQLite: a writer waits for the lock file beside the database (and is
    woken when it is released), not in SQLite's sleeping busy handler."""
    import fcntl
    import threading

    path = tmp_path / "s.sqlite3"
    database = Database(str(path))
    try:
        done = threading.Event()
        with open(f"{path}-writers", "a+b") as other_process:
            fcntl.flock(other_process, fcntl.LOCK_EX)
            writer = threading.Thread(target=lambda: (_append(database, 1), done.set()))
            writer.start()
            assert not done.wait(0.5)  # another writer's turn: nothing is committed meanwhile
            assert database.read_sync(audit.verify).records == 0
            fcntl.flock(other_process, fcntl.LOCK_UN)
            assert done.wait(10)
            writer.join()
        assert database.read_sync(audit.verify).records == 1
    finally:
        database.close()
