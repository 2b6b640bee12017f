"""Health facilities end to end over real mutual TLS: FHIR messages → gateway → register, as the
national health information system sends them (an httpx FHIR client with its certificate)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.codes import source_system
from gateway.devstack import Stack
from tests.e2e.checks import files_containing, personal_values, queue_counts, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "health" / "samples"
PATH = "/fhir/$process-message"
FHIR = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}
ICD10 = "http://hl7.org/fhir/sid/icd-10"
STATUS = "https://nhis.bg/fhir/CodeSystem/gateway-status"


def message(name: str = "health-message.json", encounter: str | None = None) -> dict[str, Any]:
    """A sample with a fresh MessageHeader.id and, when asked, a fresh Encounter identifier."""
    document: dict[str, Any] = json.loads((SAMPLES / name).read_text("utf-8"))
    document["entry"][0]["resource"]["id"] = str(uuid.uuid4())
    if encounter is not None:
        for entry in document["entry"]:
            if entry["resource"]["resourceType"] == "Encounter":
                entry["resource"]["identifier"] = [
                    {"system": "https://nhis.bg/fhir/sid/encounter", "value": encounter}
                ]
    return document


def post(client: httpx.Client, document: dict[str, Any], **kw: Any) -> httpx.Response:
    body = json.dumps(document, ensure_ascii=False).encode()
    return client.post(PATH, content=body, headers=kw.pop("headers", FHIR), **kw)


def answer(response: httpx.Response) -> tuple[str, str, list[str]]:
    """(status, receipt id, warning codes) of a response message, validated as R4B."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)
    header, outcome = (e["resource"] for e in body["entry"])
    assert header["response"]["code"] == "ok"
    info, *warnings = outcome["issue"]
    [coding] = info["details"]["coding"]
    assert coding["system"] == STATUS
    return (
        coding["code"],
        info["diagnostics"],
        [w["details"]["coding"][0]["code"] for w in warnings],
    )


def errors(response: httpx.Response, status: int) -> list[tuple[str | None, str]]:
    assert response.status_code == status, response.text
    body = response.json()
    OperationOutcome.model_validate(body)
    return [
        ((i.get("expression") or [None])[0], i["details"]["coding"][0]["code"])
        for i in body["issue"]
    ]


def received(stack: Stack, reference: str, count: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        rows = [n for n in stack.register_notifications() if n["incident_reference"] == reference]
        return rows if len(rows) >= count else None

    rows = wait_until(found)
    assert rows, f"the register did not receive {count} notification(s) of {reference}"
    return list(rows)


def linkage_pseudonym(stack: Stack, kind: str, digits: str) -> str:
    key = bytes.fromhex((stack.layout.root / "keys" / "linkage-2026-1.key").read_text().strip())
    return hmac.new(key, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()


def test_a_message_reaches_the_register(stack: Stack) -> None:
    document = message()
    message_id = document["entry"][0]["resource"]["id"]
    with stack.client("health") as client:
        response = post(client, document)
        status, receipt_id, warnings = answer(response)
        assert (status, warnings) == ("accepted", [])
        header = response.json()["entry"][0]["resource"]
        assert header["response"]["identifier"] == message_id
        assert header["source"]["endpoint"] == f"{stack.gateway_url}/fhir"
        assert header["eventCoding"] == document["entry"][0]["resource"]["eventCoding"]
        receipt = client.get(f"/api/v1/receipts/{receipt_id}").json()
    assert receipt["institution"] == "health" and receipt["status"] == "accepted"
    [row] = received(stack, f"health:1622111001/{message_id}", 1)
    assert row["notification_id"] == receipt["notificationIds"][0]
    assert (row["event"], row["institution"]) == ("new", "health")
    assert row["child_pseudonyms"] == [
        {"key_id": "linkage-2026-1", "value": linkage_pseudonym(stack, "EGN", "1151126926")}
    ]
    assert (row["birth_date"], row["sex"], row["incident_date"]) == (
        "2011-11-12",
        "male",
        "2021-06-02",
    )
    assert (row["forms"], row["outcome"], row["attempted"]) == (["physical"], "injured", False)
    assert (row["relationships"], row["setting"], row["case_stage"]) == (
        ["unknown"],
        "unknown",
        "reported",
    )
    assert (row["place_kind"], row["ekatte"], row["region"]) == ("residence", "56784", "BG-16")
    codes = {(c["system"], c["code"]) for c in row["source_codes"]}
    assert {(ICD10, "T74.1"), (ICD10, "S52.5")} <= codes
    assert (source_system("health", "eventCoding"), "suspected-maltreatment") in codes


def test_a_repeated_message_id_gets_the_first_answer_as_duplicate(stack: Stack) -> None:
    document = message()
    with stack.client("health") as client:
        first = answer(post(client, document))
        document["entry"][3]["resource"]["period"]["start"] = "bogus"  # content does not matter
        # ... once it is an R4 message Bundle: the structure is checked before duplicates.
        assert post(client, document).status_code == 400
        document["entry"][3]["resource"]["period"]["start"] = "2021-06-02"
        document["entry"][2]["resource"]["gender"] = "female"
        duplicate = answer(post(client, document))
    assert duplicate == ("duplicate", first[1], first[2])


def test_an_encounter_lives_new_update_then_cancel_when_refuted(stack: Stack) -> None:
    encounter = f"E2E-{uuid.uuid4().hex[:8]}"
    reference = f"health:1622111001/https://nhis.bg/fhir/sid/encounter|{encounter}"
    with stack.client("health") as client:
        assert answer(post(client, message("encounter-first.json", encounter)))[0] == "accepted"
        assert answer(post(client, message("encounter-first.json", encounter)))[0] == "accepted"
        refuted = message("encounter-refuted.json", encounter)
        assert answer(post(client, refuted))[0] == "accepted"  # its cancel was forwarded
        assert answer(post(client, message("encounter-refuted.json", encounter)))[0] == (
            "out-of-scope"
        )
    rows = received(stack, reference, 3)
    assert [r["event"] for r in rows] == ["new", "update", "cancel"]
    assert rows[0]["forms"] == ["sexual"] and len({r["case_key"] for r in rows}) == 1


def test_out_of_scope_and_warnings(stack: Stack) -> None:
    with stack.client("health") as client:
        status, receipt_id, _ = answer(post(client, message("injury-only.json")))
        assert status == "out-of-scope"
        assert client.get(f"/api/v1/receipts/{receipt_id}").json()["notificationIds"] == []
        document = message("mismatches-conflicting-settings.json", f"E2E-{uuid.uuid4().hex}")
        status, _, warnings = answer(post(client, document))
    assert status == "accepted"
    assert warnings == ["conflicting-implied-settings", "birthdate-mismatch", "sex-mismatch"]


def test_errors_are_operation_outcomes(stack: Stack) -> None:
    with stack.client("health") as client:
        document = message()
        document["entry"][2]["resource"]["identifier"][0]["value"] = "1151126927"
        document["entry"][0]["resource"]["eventCoding"]["code"] = "discharge"
        assert errors(post(client, document), 422) == [
            ("Bundle.entry[0].resource.eventCoding", "closed-list"),
            ("Bundle.entry[2].resource.identifier[0].value", "check-digit"),
        ]
        assert "1151126927" not in post(client, document).text
        # The same id again, corrected: ids of rejected messages are not remembered.
        document["entry"][2]["resource"]["identifier"][0]["value"] = "1151126926"
        document["entry"][0]["resource"]["eventCoding"]["code"] = "suspected-maltreatment"
        assert answer(post(client, document))[0] == "accepted"
        assert errors(client.post(PATH, content=b"{", headers=FHIR), 400) == [(None, "not-json")]
        xml = {"content-type": "application/fhir+xml"}
        assert errors(client.post(PATH, content=b"<Bundle/>", headers=xml), 415) == [
            (None, "media-type")
        ]
        big = b"{" + b" " * (5 << 20) + b"}"
        assert errors(client.post(PATH, content=big, headers=FHIR), 413) == [(None, "too-large")]
        assert errors(post(client, message(), params={"async": "true"}), 422) == [(None, "format")]
        assert client.get(PATH).status_code == 405
    with stack.client("ozd") as other:
        assert errors(post(other, message()), 403) == [(None, "forbidden")]


def test_no_personal_data_anywhere(fresh_stack: Stack) -> None:
    stack = fresh_stack
    values = personal_values()
    listed = (SAMPLES / "personal-data.txt").read_text("utf-8").split("\n")
    assert {v for v in listed if v} <= values
    with stack.client("health") as client:
        for sample in sorted(SAMPLES.glob("*.json")):
            document = json.loads(sample.read_text("utf-8"))
            assert answer(post(client, document))[0] in {"accepted", "out-of-scope"}, sample.name
        broken = message("lnch-partial-birthdate.json")
        broken["entry"][2]["resource"]["identifier"][0]["value"] = "1002003009"
        assert errors(post(client, broken), 422)
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"})
    stack.stop()
    assert files_containing(stack.root, values) == {}
