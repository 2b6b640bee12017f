"""Signed checkpoints and proofs on a running deployment, checked as an inspector would: with the
`gateway` command and the public key only, and again with the independent RFC 6962 verifier."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.devstack import Stack
from tests.e2e.checks import (
    assert_canonical_store_valid,
    files_containing,
    personal_values,
    post_ozd,
    wait_until,
)
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.messages import ozd_signal
from tests.rfc6962 import ref_inclusion_ok


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A deployment that signs a checkpoint every half second while serving."""
    s = Stack.create(tmp_path_factory.mktemp("proofs"), register_args=["--test-hooks"])
    with s:
        s.start_register()
        s.start_gateway({**FAST_RETRIES, "GATEWAY_AUDIT_CHECKPOINT_SECONDS": "0.5"})
        yield s
    assert_canonical_store_valid(s)


def _send(stack: Stack) -> str:
    with stack.client("ozd") as http:
        response = post_ozd(http, ozd_signal())
    assert response.status_code == 202, response.text
    receipt = str(response.json()["receiptId"])
    wait_until(lambda: len(stack.audit_search("--receipt", receipt)) >= 5)
    return receipt


def _cli(stack: Stack, *args: str, ok: bool = True) -> str:
    done = stack.gateway_cli("audit", *args)
    assert (done.returncode == 0) == ok, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def _public_key(stack: Stack) -> str:
    return str(stack.layout.root / "audit-signing.pub")


def _published(stack: Stack) -> Path:
    return stack.layout.root / "audit-checkpoints"


def test_the_serving_gateway_signs_and_publishes_checkpoints(stack: Stack) -> None:
    _send(stack)
    size = len(stack.audit_search())
    latest = _published(stack) / "checkpoint"

    def published_size() -> int:
        return int(latest.read_text().split("\n")[1]) if latest.exists() else 0

    assert wait_until(lambda: published_size() >= size)
    text = latest.read_text()
    assert (_published(stack) / "checkpoints" / f"{published_size()}.txt").read_text() == text
    origin, _, root = text.split("\n")[:3]
    assert origin == "child-violence-gateway/audit" and len(base64.b64decode(root)) == 32
    assert not (_published(stack) / "audit-signing.key").exists()


def test_prove_a_receipt_and_verify_the_bundle_offline(stack: Stack, tmp_path: Path) -> None:
    receipt = _send(stack)
    signed = _cli(stack, "checkpoint")
    assert signed.startswith("child-violence-gateway/audit\n") and "\n\n\u2014 " in signed
    bundle = tmp_path / "bundle.json"
    _cli(stack, "prove", receipt, "--out", str(bundle))
    doc: dict[str, Any] = json.loads(bundle.read_text())
    kinds = [json.loads(r["record"])["kind"] for r in doc["records"]]
    assert kinds == ["received", "accepted", "translated", "forwarded", "delivered"]

    out = _cli(stack, "verify", "--bundle", str(bundle), "--public-key", _public_key(stack))
    assert out.startswith(f"verified: 5 records of receipt {receipt}")

    # the independent verifier: the signature with cryptography, the proofs from RFC 6962
    body, _, signature_line = doc["checkpoint"].partition("\n\n")
    blob = base64.b64decode(signature_line.split(" ")[-1])
    key = load_pem_public_key(Path(_public_key(stack)).read_bytes())
    key.verify(blob[4:], (body + "\n").encode())  # type: ignore[union-attr, call-arg]
    size, root = int(body.split("\n")[1]), base64.b64decode(body.split("\n")[2])
    for item in doc["records"]:
        proof = [bytes.fromhex(h) for h in item["inclusion"]]
        assert ref_inclusion_ok(item["seq"] - 1, size, item["record"].encode(), proof, root)

    # one byte changed in the third record: verify fails and names it
    third = doc["records"][2]
    text = bundle.read_text()
    at = text.index('"record": "', text.index(f'"seq": {third["seq"]},')) + len('"record": "{\\"')
    assert text[at : at + 2] == "at"
    bad = tmp_path / "edited.json"
    bad.write_text(text[:at] + "b" + text[at + 1 :])
    done = stack.gateway_cli(
        "audit", "verify", "--bundle", str(bad), "--public-key", _public_key(stack)
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith(f"record {third['seq']}: ")


def test_export_and_consistency_verify_offline(stack: Stack, tmp_path: Path) -> None:
    _send(stack)
    old = tmp_path / "old-checkpoint"
    old.write_text(_cli(stack, "checkpoint"))
    old_size = int(old.read_text().split("\n")[1])
    export = tmp_path / "records.ndjson"
    _cli(stack, "export-records", "--out", str(export))
    key = _public_key(stack)
    out = _cli(
        stack, "verify", "--export", str(export), "--checkpoint", str(old), "--public-key", key
    )
    assert out.startswith("verified: ")

    _send(stack)
    proof = tmp_path / "consistency.json"
    _cli(stack, "consistency", "--from-size", str(old_size), "--out", str(proof))
    new = tmp_path / "new-checkpoint"
    new.write_text(json.loads(proof.read_text())["checkpoint"])
    args = ["--checkpoint", str(old), "--checkpoint", str(new), "--consistency", str(proof)]
    out = _cli(stack, "verify", *args, "--public-key", key)
    assert out.startswith(f"verified: checkpoint {json.loads(proof.read_text())['new_size']} ")

    # a truncated export is named against its checkpoint
    lines = export.read_text().splitlines(keepends=True)
    export.write_text("".join(lines[:-2]))
    done = stack.gateway_cli(
        "audit", "verify", "--export", str(export), "--checkpoint", str(old), "--public-key", key
    )
    assert done.returncode == 1
    assert done.stdout.startswith(f"record {old_size - 1}: missing")


def test_a_period_export_of_audit_events_verifies_offline(stack: Stack, tmp_path: Path) -> None:
    """`audit export --from --to --out F` writes F and F.checkpoint; `verify --export F` checks
    every event (with the gateway's verifier and, for the proofs, the independent one), names
    an edited or removed event, and nothing in it, decoded or not, is a personal number."""
    _send(stack)  # records before the period: the export starts in the middle of the log
    since = datetime.now(UTC).isoformat()
    receipt = _send(stack)
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    out = tmp_path / "period.ndjson"
    _cli(stack, "export", "--from", since, "--to", until, "--out", str(out))
    note = Path(f"{out}.checkpoint")
    key = _public_key(stack)
    args = ["--export", str(out), "--checkpoint", str(note), "--public-key", key]
    verified = _cli(stack, "verify", *args)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    seqs = [json.loads(_record_bytes(e))["seq"] for e in events]
    assert seqs[0] > 1 and seqs == list(range(seqs[0], seqs[0] + len(events)))
    assert verified.startswith(f"verified: {len(events)} AuditEvents (records {seqs[0]}..")
    assert receipt in {json.loads(_record_bytes(e))["receipt_id"] for e in events}

    body = note.read_text().partition("\n\n")[0].split("\n")
    size, root = int(body[1]), base64.b64decode(body[2])
    assert seqs[-1] == size  # the export's own read record is in the tree it is proved in
    for event, seq in zip(events, seqs, strict=True):
        [proof] = [x for x in event["extension"] if x["url"].endswith("/audit-inclusion-proof")]
        path = [base64.b64decode(p["valueBase64Binary"]) for p in proof["extension"][2:]]
        assert ref_inclusion_ok(seq - 1, size, _record_bytes(event), path, root)

    lines = out.read_text().splitlines(keepends=True)
    edited = json.loads(lines[2])
    edited["outcome"] = "8"
    bad = tmp_path / "edited.ndjson"
    bad.write_text("".join([*lines[:2], json.dumps(edited) + "\n", *lines[3:]]))
    done = stack.gateway_cli("audit", "verify", "--export", str(bad), *args[2:])
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        f"record {seqs[2]}: its readable content differs from its signed record (outcome)"
    )
    bad.write_text("".join([*lines[:3], *lines[4:]]))
    done = stack.gateway_cli("audit", "verify", "--export", str(bad), *args[2:])
    assert done.returncode == 1
    assert done.stdout.startswith(f"record {seqs[3]}: missing between record {seqs[2]} and ")

    decoded = tmp_path / "decoded-records.ndjson"  # the record bytes, as an inspector reads them
    decoded.write_bytes(b"\n".join(_record_bytes(e) for e in events))
    values = personal_values()
    assert values and files_containing(tmp_path, values) == {}


def _record_bytes(event: dict[str, Any]) -> bytes:
    [record] = [x for x in event["extension"] if x["url"].endswith("/audit-record")]
    return base64.b64decode(record["valueBase64Binary"])


def test_store_verify_names_a_truncation_below_a_checkpoint(stack: Stack) -> None:
    """Last in the module: it stops the gateway and breaks the store."""
    _send(stack)
    signed = _cli(stack, "checkpoint")
    size = int(signed.split("\n")[1])
    assert stack.gateway is not None
    stack.gateway.stop()
    assert "audit chain intact" in _cli(stack, "verify")
    with sqlite3.connect(stack.database) as conn:  # the tail, and the head with it
        conn.execute("DELETE FROM audit WHERE seq > ?", (size - 3,))
        conn.execute(
            "UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit WHERE seq = ?)",
            (size - 3, size - 3),
        )
    out = _cli(stack, "verify", ok=False)
    assert f"checkpoint {size} (signed " in out
    assert f"records {size - 2}..{size} removed from the end (truncated)" in out
