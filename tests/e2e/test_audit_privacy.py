"""The audit trail shows tampering, and no personal number or name is kept or logged anywhere."""

from __future__ import annotations

import json
import sqlite3

from gateway.devstack import Stack
from tests.e2e.checks import files_containing, personal_values, post_ozd, queue_counts, wait_until
from tests.e2e.messages import (
    MVR_SAMPLES,
    OZD_SAMPLES,
    mvr_bytes,
    mvr_envelope,
    ozd_signal,
    set_text,
    soap_headers,
    submit,
)


def tamper(stack: Stack, sql: str) -> None:
    with sqlite3.connect(stack.root / "gateway.sqlite3") as conn:
        conn.execute(sql)


def test_audit_verify_names_the_tampered_record(fresh_stack: Stack) -> None:
    stack = fresh_stack
    client = stack.soap_client("mvr", "/soap/mvr")
    for _ in range(2):
        submit(client, mvr_envelope())
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 2})
    assert stack.gateway is not None
    stack.gateway.stop()
    ok = stack.gateway_cli("audit", "verify")
    assert ok.returncode == 0 and "audit chain intact" in ok.stdout

    tamper(stack, "UPDATE audit SET outcome = 'out-of-scope' WHERE seq = 2")
    edited = stack.gateway_cli("audit", "verify")
    assert edited.returncode == 1
    assert "record 2 edited" in edited.stdout

    tamper(stack, "UPDATE audit SET outcome = 'accepted' WHERE seq = 2")  # put it back
    assert stack.gateway_cli("audit", "verify").returncode == 0
    tamper(stack, "DELETE FROM audit WHERE seq = 4")
    deleted = stack.gateway_cli("audit", "verify")
    assert deleted.returncode == 1 and "record 4 missing (deleted)" in deleted.stdout


def test_no_personal_data_in_logs_audit_or_stores(fresh_stack: Stack) -> None:
    stack = fresh_stack
    values = personal_values()
    assert len(values) > 20  # the samples carry numbers and names: the scan has work to do
    with stack.client("mvr") as police:
        for sample in sorted(MVR_SAMPLES.glob("*.xml")):
            response = police.post("/soap/mvr", content=sample.read_bytes(), headers=soap_headers())
            assert response.status_code == 200, (sample.name, response.text)
        # rejected messages too: their personal data must not reach the log or the audit
        broken = set_text(mvr_envelope(), "Victim[1]/Egn", "0443056097")
        assert (
            police.post("/soap/mvr", content=mvr_bytes(broken), headers=soap_headers()).status_code
            == 500
        )
    with stack.client("ozd") as child_protection:
        for sample in sorted(OZD_SAMPLES.glob("*.json")):
            body = json.loads(sample.read_text("utf-8"))
            response = post_ozd(child_protection, body)
            assert response.status_code in (202, 409), (sample.name, response.text)
        bad = ozd_signal(child={"egn": "1046122292", "firstName": "Елена", "sex": "female"})
        assert post_ozd(child_protection, bad).status_code == 422
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"})
    stack.stop()  # logs flushed, WAL files as they are on disk
    leaks = files_containing(stack.root, values)
    assert leaks == {}, f"personal data found: {leaks}"
    # the scan itself finds what it looks for
    (stack.root / "canary.log").write_text(sorted(values)[0], "utf-8")
    assert "canary.log" in files_containing(stack.root, values)
