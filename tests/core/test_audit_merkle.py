"""The audit log's RFC 6962 tree, checkpoints and proofs, checked against an independent verifier.

The reference side (`tests.rfc6962`) is written from RFC 6962 §2.1 and checks proofs by
rebuilding the roots recursively; it imports nothing from the code under test.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import audit
from gateway.audit import checkpoint, merkle, note, offline, proofs
from gateway.audit.chain import COLUMNS, Entry, canonical, record_from_row
from gateway.store.db import Database, Tx
from tests.rfc6962 import (
    ref_consistency_ok,
    ref_inclusion_ok,
    ref_mth,
    ref_path,
    ref_subproof,
    sha,
)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


DATA = [f"leaf {i}".encode() for i in range(70)]
SIZES = range(1, 71)


# -- the tree code against the reference, every size ------------------------------------------


def test_roots_match_rfc_6962_for_every_size() -> None:
    frontier = merkle.Frontier()
    assert frontier.root() == ref_mth([])
    for n in SIZES:
        frontier.add(merkle.leaf_hash(DATA[n - 1]))
        assert frontier.root() == ref_mth(DATA[:n])
        get = merkle.memory_lookup([merkle.leaf_hash(d) for d in DATA[:n]])
        assert merkle.root(get, n) == ref_mth(DATA[:n])


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_for_every_leaf(n: int) -> None:
    d = DATA[:n]
    root = ref_mth(d)
    get = merkle.memory_lookup([merkle.leaf_hash(x) for x in d])
    for m in range(n):
        proof = merkle.inclusion_proof(get, m, n)
        assert proof == ref_path(m, d)
        assert ref_inclusion_ok(m, n, d[m], proof, root)
        leaf = merkle.leaf_hash(d[m])
        assert merkle.verify_inclusion(leaf, m, n, proof, root)
        # what the code's verifier must refuse, the reference refuses too
        assert not merkle.verify_inclusion(merkle.leaf_hash(b"other"), m, n, proof, root)
        assert not merkle.verify_inclusion(leaf, m, n, proof, _flip(root))
        assert not merkle.verify_inclusion(leaf, m, n + 1, proof, root) or ref_inclusion_ok(
            m, n + 1, d[m], proof, root
        )
        for i in range(len(proof)):
            bad = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
            assert not merkle.verify_inclusion(leaf, m, n, bad, root)
            assert not ref_inclusion_ok(m, n, d[m], bad, root)
        if proof:
            assert not merkle.verify_inclusion(leaf, m, n, proof[:-1], root)
            assert not merkle.verify_inclusion(leaf, m, n, [*proof, proof[0]], root)
        if n > 1:
            other = (m + 1) % n
            assert merkle.verify_inclusion(leaf, other, n, proof, root) == ref_inclusion_ok(
                other, n, d[m], proof, root
            )


@pytest.mark.parametrize("n", SIZES)
def test_consistency_proofs_for_every_pair(n: int) -> None:
    d = DATA[:n]
    new_root = ref_mth(d)
    get = merkle.memory_lookup([merkle.leaf_hash(x) for x in d])
    for m in range(1, n + 1):
        old_root = ref_mth(d[:m])
        proof = merkle.consistency_proof(get, m, n)
        assert proof == ref_subproof(m, d, True)
        assert ref_consistency_ok(m, n, proof, old_root, new_root)
        assert merkle.verify_consistency(m, n, old_root, new_root, proof)
        assert not merkle.verify_consistency(m, n, _flip(old_root), new_root, proof)
        assert not merkle.verify_consistency(m, n, old_root, _flip(new_root), proof)
        for i in range(len(proof)):
            bad = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
            assert not merkle.verify_consistency(m, n, old_root, new_root, bad)
            assert not ref_consistency_ok(m, n, bad, old_root, new_root)
        if m < n:
            # a log whose first m records were rewritten does not extend the old one
            rewritten = [b"x", *d[1:]]
            get2 = merkle.memory_lookup([merkle.leaf_hash(x) for x in rewritten])
            proof2 = merkle.consistency_proof(get2, m, n)
            assert not merkle.verify_consistency(m, n, old_root, ref_mth(rewritten), proof2)
            assert not ref_consistency_ok(m, n, proof2, old_root, ref_mth(rewritten))


# -- in the store (SQLite and the real PostgreSQL) ---------------------------------------------

ORIGIN = "test.example/audit"
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key()


def _append(db: Database, n: int, receipt: str = "r") -> None:
    entries = [
        Entry("received", institution="mvr", receipt_id=f"{receipt}{i % 3}", notification_ids=())
        for i in range(n)
    ]
    db.write_sync(lambda tx: audit.append(tx, entries))


def _canonicals(tx: Tx) -> list[bytes]:
    return [
        record_from_row(r).canonical() for r in tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq")
    ]


def _sign(db: Database) -> checkpoint.Signed:
    signed = db.write_sync(lambda tx: checkpoint.sign_latest(tx, KEY, ORIGIN))
    assert signed is not None
    return signed


def _problems(db: Database) -> list[str]:
    return db.read_sync(audit.verify).findings + db.read_sync(
        lambda tx: checkpoint.check_store(tx, PUB)
    )


def test_store_tree_grows_with_the_log_and_gives_rfc_proofs(db: Database) -> None:
    for batch in (1, 2, 5, 1, 8, 3, 13):  # group commits of many sizes
        _append(db, batch)
    d = db.read_sync(_canonicals)
    n = len(d)
    assert n == 33
    get = merkle.store_lookup
    for size in range(1, n + 1):
        assert db.read_sync(lambda tx, s=size: merkle.root(get(tx), s)) == ref_mth(d[:size])
    for m in range(n):
        proof = db.read_sync(lambda tx, m=m: merkle.inclusion_proof(get(tx), m, n))
        assert ref_inclusion_ok(m, n, d[m], proof, ref_mth(d))
    for m in range(1, n + 1):
        proof = db.read_sync(lambda tx, m=m: merkle.consistency_proof(get(tx), m, n))
        assert ref_consistency_ok(m, n, proof, ref_mth(d[:m]), ref_mth(d))


def test_checkpoint_is_signed_stored_and_reused(db: Database, tmp_path: Path) -> None:
    assert db.write_sync(lambda tx: checkpoint.sign_latest(tx, KEY, ORIGIN)) is None  # empty
    _append(db, 5)
    first = _sign(db)
    assert first.new and first.size == 5
    again = _sign(db)
    assert not again.new and again.text == first.text
    cp = note.parse(first.text, PUB)
    d = db.read_sync(_canonicals)
    assert (cp.origin, cp.size, cp.root) == (ORIGIN, 5, ref_mth(d))
    assert cp.chain_head == hashlib.sha256(d[-1]).hexdigest()
    assert db.read_sync(checkpoint.latest_checkpoint) == first.text
    checkpoint.publish(tmp_path / "pub", first)
    assert (tmp_path / "pub" / "checkpoint").read_text() == first.text
    assert (tmp_path / "pub" / "checkpoints" / "5.txt").read_text() == first.text
    assert _problems(db) == []


def _tamper(db: Database, sql: str, params: tuple[object, ...] = ()) -> None:
    db.write_sync(lambda tx: tx.execute(sql, params))


def test_edit_below_a_checkpoint_is_named(db: Database) -> None:
    _append(db, 6)
    _sign(db)
    _tamper(db, "UPDATE audit SET outcome = 'x' WHERE seq = 3")
    found = _problems(db)
    assert found[0] == "record 3 edited: its hash does not match its content"
    assert any(
        f.startswith("checkpoint 6 ") and "record 3 differs from the record appended there" in f
        for f in found
    )


def test_reorder_below_a_checkpoint_is_named(db: Database) -> None:
    _append(db, 6)
    _sign(db)
    _tamper(db, "UPDATE audit SET seq = 100 WHERE seq = 2")
    _tamper(db, "UPDATE audit SET seq = 2 WHERE seq = 4")
    _tamper(db, "UPDATE audit SET seq = 4 WHERE seq = 100")
    found = _problems(db)
    assert found[0] == "record 2 edited: its hash does not match its content"
    assert found[-1].startswith("checkpoint 6 (signed ")
    assert found[-1].endswith("record 2 differs from the record appended there")


def test_delete_below_a_checkpoint_is_named(db: Database) -> None:
    _append(db, 6)
    _sign(db)
    _tamper(db, "DELETE FROM audit WHERE seq = 4")
    found = _problems(db)
    assert found[0] == "record 4 missing (deleted)"
    assert found[-1].startswith("checkpoint 6 (signed ")
    assert found[-1].endswith(
        "the log holds 5 of its 6 records: record 4 is gone (record 5 stands in its place)"
    )


def test_truncated_tail_below_a_checkpoint_is_named(db: Database) -> None:
    _append(db, 8)
    _sign(db)
    # a careful truncation: the head moved back too, so the chain alone looks intact
    _tamper(db, "DELETE FROM audit WHERE seq > 5")
    _tamper(db, "UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit WHERE seq = 5)")
    assert db.read_sync(audit.verify).ok
    found = _problems(db)
    assert len(found) == 1
    assert found[0].startswith("checkpoint 8 (signed ")
    assert "holds 5 of its 8 records: records 6..8 removed from the end (truncated)" in found[0]


def test_consistent_rewrite_below_a_checkpoint_is_named(db: Database) -> None:
    _append(db, 6)
    _sign(db)
    # rewrite record 4 and re-chain 4..6 so that the hash chain alone verifies again
    rows = db.read_sync(lambda tx: tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq"))
    prev = str(rows[2][11])
    for row in rows[3:]:
        rec = record_from_row(row)
        entry = replace(rec.entry, outcome="forged") if rec.seq == 4 else rec.entry
        digest = hashlib.sha256(canonical(rec.seq, rec.at, entry, prev)).hexdigest()
        _tamper(
            db,
            "UPDATE audit SET outcome = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (entry.outcome, prev, digest, rec.seq),
        )
        prev = digest
    _tamper(db, "UPDATE audit_head SET hash = ?", (prev,))
    assert db.read_sync(audit.verify).ok
    found = _problems(db)
    assert len(found) == 1
    assert found[0].startswith("checkpoint 6 (signed ")
    assert "record 4 differs from the record appended there" in found[0]


def test_forged_or_swapped_checkpoints_are_named(db: Database) -> None:
    _append(db, 3)
    three = _sign(db)
    _append(db, 3)
    six = _sign(db)
    other = Ed25519PrivateKey.generate()
    forged = note.sign(note.parse(six.text, PUB), other)
    _tamper(db, "UPDATE audit_checkpoints SET note = ? WHERE size = 6", (forged,))
    assert _problems(db) == [
        f"checkpoint 6 (signed {note.parse(six.text, PUB).at}): not signed by the given key "
        f"(fingerprint {note.fingerprint(PUB)[:16]}…)"
    ]
    altered = six.text.replace("\n6\n", "\n7\n", 1)
    _tamper(db, "UPDATE audit_checkpoints SET note = ? WHERE size = 6", (altered,))
    (finding,) = _problems(db)
    assert finding.startswith("checkpoint 6 ") and "the signature does not verify" in finding
    _tamper(db, "UPDATE audit_checkpoints SET note = ? WHERE size = 6", (three.text,))
    (finding,) = _problems(db)
    assert finding.startswith("checkpoint 6 ") and "(swapped)" in finding


# -- offline: bundles, exports, consistency ----------------------------------------------------


def _bundle(db: Database, receipt: str) -> bytes:
    signed = _sign(db)
    doc = db.read_sync(
        lambda tx: proofs.bundle(tx, receipt, signed.text, signed.size, note.fingerprint(PUB))
    )
    return proofs.dumps(doc)


def test_bundle_verifies_offline_and_names_the_edited_record(db: Database) -> None:
    _append(db, 9)
    data = _bundle(db, "r1")
    doc = orjson.loads(data)
    assert [r["seq"] for r in doc["records"]] == [2, 5, 8]
    for item in doc["records"]:  # the independent verifier agrees
        cp = note.parse(doc["checkpoint"], PUB)
        proof = [bytes.fromhex(h) for h in item["inclusion"]]
        assert ref_inclusion_ok(item["seq"] - 1, cp.size, item["record"].encode(), proof, cp.root)
    report = offline.verify_bundle(data, PUB)
    assert report.ok, report.findings
    edited = data.replace(b'\\"outcome\\":\\"\\"', b'\\"outcome\\":\\"x\\"', 2)
    assert edited != data
    found = offline.verify_bundle(edited, PUB).findings
    assert found[0] == "record 2: its bytes do not match its leaf hash (edited)"
    assert found[1].startswith("record 5: ")
    no_leaf = orjson.loads(edited)
    for item in no_leaf["records"]:
        del item["leaf_hash"]
    found = offline.verify_bundle(orjson.dumps(no_leaf), PUB).findings
    assert found[0].startswith("record 2: not in the signed log")


def test_bundle_with_a_swapped_or_foreign_checkpoint_fails(db: Database) -> None:
    _append(db, 4)
    early = _sign(db)
    _append(db, 4)
    doc = orjson.loads(_bundle(db, "r1"))
    swapped = {**doc, "checkpoint": early.text}  # genuine, but of the log of 4 records
    found = offline.verify_bundle(orjson.dumps(swapped), PUB).findings
    assert found == [
        "record 2: not in the signed log: its inclusion proof does not lead to the "
        "checkpoint's root",
        "record 6: not in the signed log: its inclusion proof does not lead to the "
        "checkpoint's root",
    ]
    other = Ed25519PrivateKey.generate()
    foreign = {**doc, "checkpoint": note.sign(note.parse(doc["checkpoint"], PUB), other)}
    (finding,) = offline.verify_bundle(orjson.dumps(foreign), PUB).findings
    assert finding.startswith("checkpoint: not signed by the given key")


def _export(db: Database) -> list[bytes]:
    return db.read_sync(lambda tx: list(proofs.export_lines(tx)))


def test_export_verifies_offline_and_names_the_bad_record(db: Database) -> None:
    _append(db, 7)
    cp = _sign(db).text
    lines = _export(db)
    assert offline.verify_export(lines, cp, PUB).ok
    _append(db, 2)  # records after the checkpoint are chained but not yet covered
    assert offline.verify_export(_export(db), cp, PUB).ok

    edited = [*lines]
    edited[2] = edited[2].replace(b'"outcome":""', b'"outcome":"x"')
    assert offline.verify_export(edited, cp, PUB).findings[0] == (
        "record 3: edited (record 4 does not follow it)"
    )
    last = [*lines[:6], lines[6].replace(b'"outcome":""', b'"outcome":"x"')]
    assert offline.verify_export(last, cp, PUB).findings[0] == (
        "record 7: edited (its hash is not the one signed)"
    )
    deleted = lines[:3] + lines[4:]
    assert offline.verify_export(deleted, cp, PUB).findings[0] == (
        "record 4: line 4 holds record 5 (records removed or reordered)"
    )
    reordered = [lines[0], lines[2], lines[1], *lines[3:]]
    assert offline.verify_export(reordered, cp, PUB).findings[0] == (
        "record 2: line 2 holds record 3 (records removed or reordered)"
    )
    truncated = lines[:5]
    assert offline.verify_export(truncated, cp, PUB).findings == [
        "record 6: missing: the export ends at record 5 but the checkpoint covers 7 (truncated)"
    ]


def test_consistency_between_checkpoints(db: Database) -> None:
    _append(db, 5)
    old = _sign(db)
    _append(db, 6)
    new = _sign(db)
    doc = db.read_sync(lambda tx: proofs.consistency(tx, old.size, new.size, new.text))
    proof = [bytes.fromhex(h) for h in doc["proof"]]
    o, n = note.parse(old.text, PUB), note.parse(new.text, PUB)
    assert ref_consistency_ok(5, 11, proof, o.root, n.root)
    assert offline.verify_consistency(old.text, new.text, proofs.dumps(doc), PUB).ok
    # an "old" checkpoint of a different history of 5 records is not extended
    fake = note.sign(note.Checkpoint(ORIGIN, 5, sha(b"other"), o.at, o.chain_head), KEY)
    (finding,) = offline.verify_consistency(fake, new.text, proofs.dumps(doc), PUB).findings
    assert finding.startswith("checkpoint 11 does not extend checkpoint 5")


def test_a_store_older_than_the_tree_gets_it_on_the_next_append(db: Database) -> None:
    _append(db, 5)
    db.write_sync(lambda tx: tx.execute("DELETE FROM audit_merkle"))
    _append(db, 4)
    d = db.read_sync(_canonicals)
    assert db.read_sync(lambda tx: merkle.root(merkle.store_lookup(tx), 9)) == ref_mth(d)
    _sign(db)
    assert _problems(db) == []
