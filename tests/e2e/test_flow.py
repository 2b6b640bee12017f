"""The whole flow over real mutual TLS: institutions → gateway → register, as each sends."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
import zeep
from lxml import etree

from gateway.devstack import Stack
from tests.e2e.checks import post_ozd, wait_until
from tests.e2e.messages import (
    NS,
    mvr_bytes,
    mvr_envelope,
    ozd_signal,
    set_text,
    soap_headers,
    submit,
)


def linkage_pseudonym(stack: Stack, kind: str, digits: str) -> str:
    key = bytes.fromhex((stack.layout.root / "keys" / "linkage-2026-1.key").read_text().strip())
    return hmac.new(key, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()


def received(stack: Stack, reference: str, count: int) -> list[dict[str, Any]]:
    rows = wait_until(
        lambda: (
            r
            if len(
                r := [
                    n
                    for n in stack.register_notifications()
                    if n["incident_reference"] == reference
                ]
            )
            >= count
            else None
        )
    )
    assert rows, f"the register did not receive {count} notification(s) of {reference}"
    return list(rows)


def test_police_report_reaches_the_register(stack: Stack) -> None:
    client = stack.soap_client("mvr", "/soap/mvr")
    tree = mvr_envelope(registration="ЗМ-1045/2021 02 РУ-СДВР")
    answer = submit(client, tree)
    assert answer.Status == "ACCEPTED" and answer.NotificationCount == 1
    [row] = received(stack, "mvr:ЗМ-1045/2021 02 РУ-СДВР", 1)
    assert row["event"] == "new" and row["institution"] == "mvr"
    assert row["child_pseudonyms"] == [
        {"key_id": "linkage-2026-1", "value": linkage_pseudonym(stack, "EGN", "0443056096")}
    ]
    assert (row["birth_date"], row["sex"]) == ("2004-03-05", "female")
    assert row["forms"] == ["physical", "psychological"]
    assert (row["outcome"], row["attempted"]) == ("injured", False)
    assert row["relationships"] == ["parent"] and row["setting"] == "family"
    assert (row["case_stage"], row["incident_date"], row["ekatte"]) == (
        "reported",
        "2021-07-21",
        "68134",
    )
    assert row["place_kind"] == "incident" and row["warnings"] == []
    # The provenance hash is the hash of the bytes zeep sent, which the audit trail keeps too.
    audit = wait_until(
        lambda: a if len(a := stack.audit_search("--receipt", answer.ReceiptId)) >= 5 else None
    )
    assert [a["kind"] for a in audit] == [
        "received",
        "accepted",
        "translated",
        "forwarded",
        "delivered",
    ]
    assert {a["raw_sha256"] for a in audit[:3]} == {row["raw_sha256"]}
    assert {a["cert_fp"] for a in audit[:3]} == {stack.fingerprint("mvr")}
    status = client.service.GetReceiptStatus(ReceiptId=answer.ReceiptId)
    assert status.Status == "ACCEPTED" and status.Institution == "mvr"
    assert list(status.NotificationId) == [row["notification_id"]]


def test_resend_is_a_duplicate_with_the_first_receipt(stack: Stack) -> None:
    client = stack.soap_client("mvr", "/soap/mvr")
    tree = mvr_envelope()
    first = submit(client, tree)
    again = submit(client, tree)
    assert again.Status == "DUPLICATE"
    assert (again.ReceiptId, again.NotificationCount) == (first.ReceiptId, first.NotificationCount)
    with stack.client("ozd") as http:
        signal = ozd_signal()
        one, two = post_ozd(http, signal).json(), post_ozd(http, signal).json()
    assert two["status"] == "duplicate" and two["receiptId"] == one["receiptId"]
    assert two["notificationIds"] == one["notificationIds"]


def test_a_record_lives_new_update_cancel(stack: Stack) -> None:
    client = stack.soap_client("mvr", "/soap/mvr")
    registration = "ЗМ-4410/2021 05 РУ-СДВР-e2e"
    sample = "mvr-incident-update-two-victims.xml"
    for report_type in ("NEW", "UPDATE", "CANCEL"):
        tree = mvr_envelope(sample, registration=registration, report_type=report_type)
        answer = submit(client, tree)
        assert answer.Status == "ACCEPTED" and answer.NotificationCount == 2
        assert not answer.Warning
    rows = received(stack, f"mvr:{registration}", 6)
    assert [r["event"] for r in rows] == ["new", "new", "update", "update", "cancel", "cancel"]
    assert len({r["case_key"] for r in rows}) == 2
    with stack.register_client() as register:
        cases = [
            c
            for c in register.get("/api/v1/cases").json()
            if c["case_key"] in {r["case_key"] for r in rows}
        ]
    assert [c["status"] for c in cases] == ["cancelled", "cancelled"]


def test_child_protection_signal_reaches_the_register(stack: Stack) -> None:
    signal = ozd_signal(references={"mvr": "ЗМ-1/2021", "prosecution": None, "helpline": None})
    with stack.client("ozd") as http:
        response = post_ozd(http, signal)
        assert response.status_code == 202, response.text
        body = response.json()
        assert response.headers["location"] == f"/api/v1/receipts/{body['receiptId']}"
        receipt = http.get(response.headers["location"]).json()
        assert receipt["status"] == "accepted" and receipt["institution"] == "ozd"
    [row] = received(stack, f"ozd:{signal['signalNumber']}", 1)
    assert row["forms"] == ["physical", "psychological"]
    assert (row["setting"], row["case_stage"], row["outcome"]) == (
        "family",
        "under-assessment",
        "unknown",
    )
    assert row["references"] == {"mvr": "ЗМ-1/2021"} and row["place_kind"] == "residence"
    with stack.client("ozd") as http:
        stale = post_ozd(http, {**signal, "eventId": "5d1f1a6e-0f0a-4a4b-9d7e-5b8f1e1c2d3e"})
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")


def test_out_of_scope_and_receipts_of_others(stack: Stack) -> None:
    client = stack.soap_client("mvr", "/soap/mvr")
    answer = submit(client, mvr_envelope("mvr-incident-out-of-scope.xml"))
    assert answer.Status == "OUT_OF_SCOPE" and answer.NotificationCount == 0
    with stack.client("ozd") as http:
        assert http.get(f"/api/v1/receipts/{answer.ReceiptId}").status_code == 404
    with pytest.raises(zeep.exceptions.Fault) as fault:
        stack.soap_client("mvr", "/soap/mvr").service.GetReceiptStatus(ReceiptId="nope")
    assert "receipt-not-found" in etree.tostring(fault.value.detail, encoding="unicode")


def test_every_problem_is_listed_with_its_path(stack: Stack) -> None:
    tree = set_text(mvr_envelope(), "Victim[1]/Egn", "0443056097")
    tree = set_text(tree, "SettingCode", "7")
    with stack.client("mvr") as http:
        response = http.post("/soap/mvr", content=mvr_bytes(tree), headers=soap_headers())
    assert response.status_code == 500
    fault = etree.fromstring(response.content)
    assert fault.findtext(".//faultcode") == "soap:Client"
    problems = {
        (p.findtext(f"{{{NS}}}Path"), p.findtext(f"{{{NS}}}Code"))
        for p in fault.iter(f"{{{NS}}}Problem")
    }
    assert problems == {
        ("/m:IncidentReport/m:Victim[1]/m:Egn", "check-digit"),
        ("/m:IncidentReport/m:SettingCode", "closed-list"),
    }
    assert b"0443056097" not in response.content


def test_hostile_and_wrong_bodies_are_refused(stack: Stack) -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:m="' + NS.encode() + b'"><soap:Body><m:IncidentReport><m:ReportId>&e;'
        b"</m:ReportId></m:IncidentReport></soap:Body></soap:Envelope>"
    )
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b"]><l>&j;</l>"
    )
    with stack.client("mvr") as http:
        for hostile in (xxe, laughs, b"<not-xml", b"\xff\xfe\x00garbage"):
            response = http.post("/soap/mvr", content=hostile, headers=soap_headers())
            assert response.status_code == 500
            assert b"soap:Client" in response.content and b"root:" not in response.content
        wrong_type = http.post(
            "/soap/mvr",
            content=mvr_bytes(mvr_envelope()),
            headers={"content-type": "application/soap+xml"},
        )
        assert wrong_type.status_code == 415
        too_big = http.post(
            "/soap/mvr", content=b"<" * (5 * 1024 * 1024 + 1), headers=soap_headers()
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"].startswith("application/problem+json")
    with stack.client("ozd") as http:
        assert (
            http.post(
                "/api/v1/ozd/signals",
                content=b"{nope",
                headers={"content-type": "application/json"},
            ).status_code
            == 400
        )
        assert (
            http.post(
                "/api/v1/ozd/signals", content=b"{}", headers={"content-type": "text/plain"}
            ).status_code
            == 415
        )
        invalid = post_ozd(http, ozd_signal(child={"egn": "1046122292", "sex": "female"}))
        assert invalid.status_code == 422
        assert {(e["pointer"], e["code"]) for e in invalid.json()["errors"]} == {
            ("#/child/egn", "check-digit")
        }
