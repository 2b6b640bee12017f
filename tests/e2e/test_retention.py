"""Retention on a serving gateway: `gateway audit purge` shreds old months, `gateway audit verify`
still passes, and neither the store nor the exports hold a personal number or name."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import audit
from gateway.audit import Entry
from gateway.devstack import Stack
from gateway.receipts import Receipt
from gateway.settings import Settings
from gateway.store import state
from gateway.store.db import Database, Tx
from gateway.store.payload_keys import PayloadGone, PayloadKeys, open_payload
from tests.e2e.checks import files_containing, personal_values, queue_counts, wait_until
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.messages import MVR_SAMPLES, mvr_envelope, submit

RAW = (MVR_SAMPLES / "mvr-incident.xml").read_bytes()
KEEP_ALL = {**FAST_RETRIES, "GATEWAY_PAYLOAD_RETENTION_MONTHS": "0"}


def keep_old(settings: Settings, at: datetime) -> str:
    """A police message of a month long past, stored as the gateway stored it then."""
    db = Database(settings.database)
    try:
        sha = hashlib.sha256(RAW).hexdigest()
        sealed = asyncio.run(PayloadKeys(db, settings.sealer()).seal(RAW, sha.encode(), at))
        receipt = Receipt(str(uuid.uuid4()), "mvr", at, "accepted")

        def unit(tx: Tx) -> None:
            state.save_receipt(tx, receipt, receipt.receipt_id, sha, sealed)
            entry = Entry("received", institution="mvr", receipt_id=receipt.receipt_id)
            audit.append(tx, [entry], at)

        db.write_sync(unit)
    finally:
        db.close()
    return receipt.receipt_id


def raw_of(settings: Settings, receipt_id: str) -> bytes:
    db = Database(settings.database)
    try:
        return db.read_sync(lambda tx: open_payload(tx, receipt_id, settings.sealer()))
    finally:
        db.close()


def test_purge_then_verify_and_no_personal_data_left(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path, register_args=["--test-hooks"])
    settings = Settings.load(stack.config)
    assert settings.payload_retention_months == 24  # the development configuration's
    old = [keep_old(settings, datetime(2023, 2, day, tzinfo=UTC)) for day in (1, 28)]
    assert raw_of(settings, old[0]) == RAW
    with stack:
        stack.start_register()
        stack.start_gateway(KEEP_ALL)  # this gateway purges nothing: the operator does
        answer = submit(stack.soap_client("mvr", "/soap/mvr"), mvr_envelope())
        assert wait_until(lambda: queue_counts(stack) == {"delivered": 1})

        dry = stack.gateway_cli("audit", "purge", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would purge period 2023-02: 2 payloads deleted, key destroyed" in dry.stdout
        assert raw_of(settings, old[1]) == RAW
        done = stack.gateway_cli("audit", "purge")
        assert done.returncode == 0, done.stderr
        assert "purged period 2023-02: 2 payloads deleted, key destroyed" in done.stdout
        for receipt_id in old:
            with pytest.raises(PayloadGone):
                raw_of(settings, receipt_id)
        assert b"0443056096" in raw_of(settings, answer.ReceiptId)  # this month's is kept
        verified = stack.gateway_cli("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "audit chain intact" in verified.stdout
        purged = stack.audit_search("--kind", "purged")
        assert [p["detail"] for p in purged] == [
            "period 2023-02: 2 payloads deleted, key destroyed"
        ]

        # The serving gateway purges by itself (at start, then daily) when a retention is set.
        assert stack.gateway is not None
        stack.gateway.stop()
        later = keep_old(settings, datetime(2023, 3, 9, tzinfo=UTC))
        stack.start_gateway(FAST_RETRIES)
        assert wait_until(lambda: len(stack.audit_search("--kind", "purged")) == 2)
        with pytest.raises(PayloadGone):
            raw_of(settings, later)
        assert stack.gateway_cli("audit", "verify").returncode == 0

        everything = stack.audit_search()
        (stack.root / "audit-export.ndjson").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in everything), "utf-8"
        )
    leaks = files_containing(stack.root, personal_values())
    assert leaks == {}, f"personal data found: {leaks}"
