"""Every kind of audit record renders as a FHIR R4 AuditEvent (IHE BALP) that validates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from pydantic import ValidationError

from gateway import audit
from gateway.audit import fhir
from gateway.audit.chain import KINDS, Entry, Query, Record
from gateway.store.db import Database
from gateway.tls import GATEWAY_URI

BASIS = {
    "mvr": "Закон за закрила на детето, чл. 7",
    "register": "ЗЗД, чл. 7 (регистър)",
    "security-officer": "GDPR art. 32",
}
FP = "ab" * 32
CHILD = "cd" * 32
NOTIFICATION = "6f1c0f4e-5b7a-5d0e-9a3e-6b2b1a0c9d11"


def entry(kind: str) -> Entry:
    if kind == "read":
        return Entry("read", cert_fp=FP, outcome="ok", detail="api search", children=(CHILD,))
    if kind not in fhir.STEPS or fhir.STEPS[kind].direction == "self":
        return Entry(kind, outcome=kind, detail="2026-01: 12 payloads")
    intake = kind in ("received", "rejected", "duplicate", "out-of-scope", "accepted", "translated")
    return Entry(
        kind,
        institution="mvr",
        cert_fp=FP if intake else "",
        receipt_id="" if kind == "rejected" else "3f0e4c52-5a43-4d39-9b57-0e2a4d2b1c77",
        notification_ids=() if kind in ("received", "rejected") else (NOTIFICATION,),
        outcome={"rejected": "rejected", "dead-lettered": "fatal-error"}.get(kind, "ok"),
        detail="format: check-digit@/Victim[1]/Egn" if kind == "rejected" else "",
        raw_sha256="ef" * 32 if intake else "",
        children=() if kind == "rejected" else (CHILD,),
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Record]:
    """One record of each kind, written through the real chain and read back."""
    db = Database(str(Path(tmp_path_factory.mktemp("fhir")) / "s.sqlite3"))
    try:
        db.write_sync(lambda tx: audit.append(tx, [entry(k) for k in sorted(KINDS)]))
        records = db.read_sync(lambda tx: audit.search(tx, Query()))
    finally:
        db.close()
    return {r.entry.kind: r for r in records}


def identifiers(event: dict[str, Any], system: str) -> list[str]:
    return [
        e["what"]["identifier"]["value"]
        for e in event.get("entity", [])
        if "what" in e and e["what"]["identifier"]["system"] == system
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_renders_and_validates(stored: dict[str, Record], kind: str) -> None:
    rec = stored[kind]
    event = fhir.render(rec, BASIS)
    AuditEvent.model_validate(event)  # raises on any structural error
    assert event["id"] == rec.hash and event["recorded"] == rec.at
    assert {"system": fhir.STEP, "code": kind} in event["subtype"]
    step = fhir.STEPS.get(kind)
    if step is None or step.direction == "self":  # the gateway's own step (retention)
        assert [a["who"]["identifier"]["value"] for a in event["agent"]] == [GATEWAY_URI]
        return
    assert (event["type"]["code"], event["action"]) == (step.type[1], step.action)
    failures = {"rejected": "4", "retried": "4", "dead-lettered": "8"}
    assert event["outcome"] == failures.get(kind, "0")
    requestor = [a for a in event["agent"] if a["requestor"]]
    assert len(requestor) == 1
    if kind == "read":
        assert requestor[0]["who"]["identifier"] == {"system": fhir.CERTIFICATE, "value": FP}
        assert event["purposeOfEvent"] == [{"text": BASIS["security-officer"]}]
        query = [e for e in event["entity"] if e["role"]["code"] == "24"]
        assert query[0]["description"] == "api search"
    elif step.direction == "out":
        # The gateway discloses to the register, on the register's legal basis.
        assert requestor[0]["who"]["identifier"]["value"] == GATEWAY_URI
        assert fhir.REGISTER_URI in [a["who"]["identifier"]["value"] for a in event["agent"]]
        assert event["purposeOfEvent"] == [{"text": BASIS["register"]}]
        assert identifiers(event, fhir.URI) == [f"urn:uuid:{NOTIFICATION}"]
    else:
        assert requestor[0]["who"]["identifier"] == {"system": fhir.CERTIFICATE, "value": FP}
        assert requestor[0]["altId"] == "mvr"
        assert event["purposeOfEvent"] == [{"text": BASIS["mvr"]}]
    if kind != "rejected":
        assert identifiers(event, fhir.CHILD) == [CHILD]
        receipts = [rec.entry.receipt_id] if rec.entry.receipt_id else []
        assert identifiers(event, fhir.RECEIPT) == receipts
    else:
        assert event["outcomeDesc"] == "rejected; format: check-digit@/Victim[1]/Egn"


def test_missing_legal_basis_is_left_out_not_invented(stored: dict[str, Record]) -> None:
    event = fhir.render(stored["accepted"], {})
    AuditEvent.model_validate(event)
    assert "purposeOfEvent" not in event
    assert all("purposeOfUse" not in a for a in event["agent"])


def test_the_validator_refuses_a_broken_event(stored: dict[str, Record]) -> None:
    """The check above can fail: a malformed instant, a missing required element, an element
    R4 does not have are each refused."""
    event = fhir.render(stored["delivered"], BASIS)
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({**event, "recorded": "yesterday"})
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({**event, "severity": "high"})
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({k: v for k, v in event.items() if k != "source"})


def test_a_command_line_read_names_the_operator() -> None:
    rec = Record(
        9,
        "2026-11-24T21:00:00+00:00",
        Entry("read", outcome="ok", detail="cli export"),
        "",
        "0" * 64,
    )
    event = fhir.render(rec, BASIS)
    AuditEvent.model_validate(event)
    [requestor] = [a for a in event["agent"] if a["requestor"]]
    assert requestor["who"]["identifier"]["value"] == fhir.OPERATOR_URI
    assert event["purposeOfEvent"] == [{"text": BASIS["security-officer"]}]
