"""The FHIR AuditEvent export of a period verifies offline, and each tampering is named.

The evidence each event carries (its record bytes and its inclusion proof) is also checked from
the test side with the independent RFC 6962 verifier (`tests.rfc6962`), which imports nothing
from the gateway.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.R4B.auditevent import AuditEvent

from gateway import audit
from gateway.audit import checkpoint, export, fhir, note, offline
from gateway.audit.chain import Entry, Query
from gateway.store.db import Database
from tests.rfc6962 import ref_inclusion_ok

ORIGIN = "test.example/audit"
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key()
BASIS = {"mvr": "Закон за закрила на детето, чл. 7", "register": "ЗЗД, чл. 7"}
CHILD = "cd" * 32
PERIOD = Query(since="2026-11-02", until="2026-11-03")


def _day(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _message(n: int) -> list[Entry]:
    receipt, notification = f"receipt-{n}", f"6f1c0f4e-5b7a-5d0e-9a3e-{n:012d}"
    common: dict[str, Any] = {"institution": "mvr", "receipt_id": receipt, "children": (CHILD,)}
    intake = {**common, "cert_fp": "ab" * 32, "raw_sha256": "ef" * 32, "outcome": "ok"}
    return [
        Entry("received", **intake),
        Entry("accepted", **intake, notification_ids=(notification,)),
        Entry("forwarded", **common, notification_ids=(notification,), outcome="ok"),
        Entry("delivered", **common, notification_ids=(notification,), outcome="ok"),
    ]


def _fill(db: Database) -> None:
    """Records before, in and after the period; a rejection and a read inside it."""
    db.write_sync(lambda tx: audit.append(tx, _message(1), at=_day(1, 9)))
    db.write_sync(lambda tx: audit.append(tx, _message(2), at=_day(2, 8)))
    db.write_sync(lambda tx: audit.append(tx, _message(3), at=_day(2, 10)))
    rejected = Entry("rejected", institution="mvr", outcome="rejected", detail="format@/Egn")
    read = Entry("read", cert_fp="aa" * 32, outcome="ok", detail="api records kind=accepted")
    db.write_sync(lambda tx: audit.append(tx, [rejected, read], at=_day(2, 11)))
    db.write_sync(lambda tx: audit.append(tx, _message(4), at=_day(3, 9)))


@dataclass
class Exported:
    lines: list[bytes]
    note: str
    size: int

    def verify(self, lines: list[bytes] | None = None, signed: str | None = None) -> list[str]:
        report = offline.verify_any_export(
            self.lines if lines is None else lines, self.note if signed is None else signed, PUB
        )
        return report.findings

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


def _export(db: Database, key: Ed25519PrivateKey = KEY) -> Exported:
    signed = db.write_sync(lambda tx: checkpoint.sign_latest(tx, key, ORIGIN))
    assert signed is not None
    lines = list(export.lines(db, PERIOD, BASIS, signed.size, page=3))  # pages of 3: seams
    return Exported(lines, signed.text, signed.size)


def _dump(events: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) + b"\n" for e in events]


def _record_bytes(event: dict[str, Any]) -> bytes:
    [ext] = [x for x in event["extension"] if x["url"] == fhir.EXT_RECORD]
    return base64.b64decode(ext["valueBase64Binary"])


def _set_record_bytes(event: dict[str, Any], data: bytes) -> None:
    for ext in event["extension"]:
        if ext["url"] == fhir.EXT_RECORD:
            ext["valueBase64Binary"] = base64.b64encode(data).decode()


def _proof(event: dict[str, Any]) -> dict[str, Any]:
    [ext] = [x for x in event["extension"] if x["url"] == fhir.EXT_INCLUSION]
    return dict(ext)


def _seq(event: dict[str, Any]) -> int:
    return int(orjson.loads(_record_bytes(event))["seq"])


def test_a_period_export_verifies_and_its_proofs_check_independently(db: Database) -> None:
    _fill(db)
    done = _export(db)
    events = done.events()
    # the period only: messages 2 and 3, the rejection and the read (records 5..14)
    assert [_seq(e) for e in events] == list(range(5, 15))
    report = offline.verify_any_export(done.lines, done.note, PUB)
    assert report.ok, report.findings
    assert report.checked.startswith("10 AuditEvents (records 5..14), each in the signed log of 18")

    body = done.note.partition("\n\n")[0].split("\n")
    size, root = int(body[1]), base64.b64decode(body[2])
    assert size == done.size == 18
    for event in events:
        AuditEvent.model_validate(event)  # the evidence keeps it valid FHIR R4
        data = _record_bytes(event)
        assert hashlib.sha256(data).hexdigest() == event["id"]
        parts = _proof(event)["extension"]
        values = {p["url"]: p.get("valueInteger") for p in parts}
        path = [base64.b64decode(p["valueBase64Binary"]) for p in parts if p["url"] == "path"]
        assert values["tree-size"] == size and values["leaf-index"] == _seq(event) - 1
        assert ref_inclusion_ok(values["leaf-index"], size, data, path, root)


def test_an_edited_readable_field_is_named(db: Database) -> None:
    _fill(db)
    done = _export(db)
    for field, value in (
        ("outcome", "8"),
        ("recorded", "2026-11-02T08:30:00+00:00"),
        ("action", "D"),
    ):
        events = done.events()
        events[3][field] = value
        findings = done.verify(_dump(events))
        assert findings == [
            f"record 8: its readable content differs from its signed record ({field})"
        ]
    events = done.events()
    events[0]["agent"][0]["altId"] = "ozd"  # the institution, in the readable part only
    assert done.verify(_dump(events))[0] == (
        "record 5: its readable content differs from its signed record (agent)"
    )
    # The purpose of use is the configured legal basis, not part of the record: it is not
    # signed, but it must be one basis throughout the event.
    events = done.events()
    events[0]["purposeOfEvent"] = [{"text": "another basis"}]
    assert done.verify(_dump(events))[0] == (
        "record 5: its readable content differs from its signed record (agent)"
    )
    events[0]["agent"][0]["purposeOfUse"] = [{"text": "another basis"}]
    assert done.verify(_dump(events)) == []


def test_an_edited_record_payload_is_named(db: Database) -> None:
    _fill(db)
    done = _export(db)
    events = done.events()
    edited = _record_bytes(events[2]).replace(b'"institution":"mvr"', b'"institution":"ozd"')
    _set_record_bytes(events[2], edited)
    assert done.verify(_dump(events))[0] == (
        "record 7: its id is not the SHA-256 of its record bytes (edited)"
    )
    # the id (and the readable part) made to match the edited bytes: the proof still fails
    events[2] = fhir.with_evidence(
        fhir.render(offline._record(edited), BASIS), offline._record(edited), None
    ) | {"extension": [*events[2]["extension"]]}
    findings = done.verify(_dump(events))
    assert findings[0] == (
        "record 7: not in the signed log: its inclusion proof does not lead to the "
        "checkpoint's root"
    )


def test_a_deleted_event_in_the_middle_is_named(db: Database) -> None:
    _fill(db)
    done = _export(db)
    events = done.events()
    del events[4]
    assert done.verify(_dump(events)) == [
        "record 9: missing between record 8 and record 10 "
        "(the period's records must be consecutive: removed from the export)"
    ]
    del events[4:6]
    assert done.verify(_dump(events))[0].startswith("record 9..11: missing between record 8 and")


def test_reordered_events_are_named(db: Database) -> None:
    _fill(db)
    done = _export(db)
    events = done.events()
    events[3], events[4] = events[4], events[3]
    findings = done.verify(_dump(events))
    assert findings[0].startswith("record 8: missing between record 7 and record 9")
    assert "record 8: out of order (it comes after record 9)" in findings
    events = done.events()
    assert done.verify(_dump([*events[:3], events[2], *events[3:]])) == [
        "record 7: repeated (it is in the export twice)"
    ]


def test_a_proof_from_another_tree_is_named(db: Database, tmp_path: Any) -> None:
    _fill(db)
    older = db.write_sync(lambda tx: checkpoint.sign_latest(tx, KEY, ORIGIN))
    assert older is not None
    stale = list(export.lines(db, PERIOD, BASIS, older.size - 4))  # a smaller tree of the log
    db.write_sync(lambda tx: audit.append(tx, _message(5), at=_day(3, 10)))
    done = _export(db)
    assert done.verify() == []

    events = done.events()
    foreign = orjson.loads(stale[1])
    events[1]["extension"][1] = _proof(foreign)
    assert done.verify(_dump(events)) == [
        f"record 6: its inclusion proof is in a tree of {older.size - 4} records, "
        f"the checkpoint signs {done.size}"
    ]

    other = Database(str(tmp_path / "other.sqlite3"))  # another log of the same shape and size
    try:
        _fill(other)
        other.write_sync(lambda tx: audit.append(tx, _message(6), at=_day(3, 10)))
        theirs = _export(other)
    finally:
        other.close()
    assert theirs.size == done.size
    events = done.events()
    events[1]["extension"][1] = _proof(theirs.events()[1])
    assert done.verify(_dump(events))[0] == (
        "record 6: not in the signed log: its inclusion proof does not lead to the "
        "checkpoint's root"
    )


def test_a_checkpoint_signed_by_another_key_is_refused(db: Database) -> None:
    _fill(db)
    done = _export(db)
    stranger = Ed25519PrivateKey.generate()
    forged = note.sign(note.parse(done.note, PUB), stranger)
    findings = done.verify(signed=forged)
    assert len(findings) == 1 and findings[0].startswith("checkpoint: not signed by the given key")
    # the same tree signed by another key verifies with that key only
    assert offline.verify_any_export(done.lines, forged, stranger.public_key()).ok


def test_an_export_without_a_checkpoint_carries_no_proof(db: Database) -> None:
    _fill(db)
    lines = list(export.lines(db, PERIOD, BASIS, None))
    assert len(lines) == 10
    done = _export(db)
    findings = done.verify(lines)
    assert findings[0] == (
        "record 5: it carries no inclusion proof (exported without a checkpoint)"
    )


def test_the_export_ends_at_the_checkpoint(db: Database) -> None:
    """Records after the signed size are not exported against it (they are not signed yet)."""
    _fill(db)
    signed = db.write_sync(lambda tx: checkpoint.sign_latest(tx, KEY, ORIGIN))
    assert signed is not None
    cut = list(export.lines(db, Query(since="2026-11-01"), BASIS, 9, page=4))
    assert [_seq(orjson.loads(x)) for x in cut] == list(range(1, 10))


def test_the_raw_records_export_is_still_told_apart(db: Database) -> None:
    _fill(db)
    done = _export(db)
    raw = db.read_sync(lambda tx: list(audit.proofs.export_lines(tx)))
    report = offline.verify_any_export(raw, done.note, PUB)
    assert report.ok and report.checked.startswith("18 records;")


def test_a_line_that_is_not_an_audit_event_is_named(db: Database) -> None:
    _fill(db)
    done = _export(db)
    lines = [*done.lines[:2], b'{"resourceType": "Patient"}\n', *done.lines[2:]]
    assert done.verify(lines)[0] == "line 3: not an AuditEvent"
    events = done.events()
    events[0]["extension"] = events[0]["extension"][1:]
    assert done.verify(_dump(events))[0] == "line 1: it carries no record bytes"


@pytest.mark.parametrize("kind", sorted(audit.chain.KINDS))
def test_every_kind_re_renders_exactly(db: Database, kind: str) -> None:
    """The readable comparison holds for every kind (no false alarm on any)."""
    entry = Entry(kind, institution="mvr", receipt_id="r", children=(CHILD,))
    if kind == "read":
        entry = Entry(kind, cert_fp="aa" * 32, outcome="ok", children=(CHILD,))
    db.write_sync(lambda tx: audit.append(tx, [entry], at=_day(2, 9)))
    done = _export(db)
    assert done.verify() == []
