"""The prosecution end to end over real mutual TLS: SOAP 1.2 into the gateway, canonical
notifications into the register, and no personal value kept anywhere."""

from __future__ import annotations

import copy
import hashlib
import hmac
import uuid
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from gateway.devstack import Stack
from tests.e2e.checks import files_containing, queue_counts, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "prosecution" / "samples"
NS = "urn:bg:prb:pretrial:v2"
ENV = "http://www.w3.org/2003/05/soap-envelope"
P = {"p": NS, "env": ENV}
PATH = "/soap/prosecution"
R = "/p:ProceedingNotification"
HEADERS = {"content-type": f'application/soap+xml; charset=utf-8; action="{NS}/NotifyProceeding"'}


def message(
    sample: str = "prosecution-proceeding.xml", *, proceeding: str | None = None, **fields: str
) -> tuple[bytes, str]:
    """A sample with a fresh NotificationId and ProceedingNumber (or `proceeding`), and `fields`
    (element name -> text) replaced; answers (bytes, proceeding number)."""
    tree = etree.parse(str(SAMPLES / sample))
    body = tree.find(f".//{{{NS}}}ProceedingNotification")
    assert body is not None
    number = proceeding or f"ДП {uuid.uuid4().hex[:8]}/2026 РП-Пловдив"
    changes = {"NotificationId": str(uuid.uuid4()), "ProceedingNumber": number, **fields}
    for name, value in changes.items():
        element = body.find(f"{{{NS}}}{name}")
        assert element is not None, name
        element.text = value
    return etree.tostring(copy.deepcopy(tree), xml_declaration=True, encoding="utf-8"), number


def post(client: httpx.Client, raw: bytes) -> tuple[int, etree._Element]:
    response = client.post(PATH, content=raw, headers=HEADERS)
    assert response.headers["content-type"].startswith("application/soap+xml"), response.text
    return response.status_code, etree.fromstring(response.content)


def answer(root: etree._Element) -> tuple[str, str, int, list[tuple[str, str]]]:
    """(receipt id, status, notification count, warnings) of a NotifyProceedingResponse."""
    node = root.find("env:Body/p:NotifyProceedingResponse", P)
    assert node is not None, etree.tostring(root)
    warnings = [
        (w.findtext("p:Code", namespaces=P) or "", w.findtext("p:Path", namespaces=P) or "")
        for w in node.findall("p:Warning", P)
    ]
    return (
        node.findtext("p:ReceiptId", namespaces=P) or "",
        node.findtext("p:Status", namespaces=P) or "",
        int(node.findtext("p:NotificationCount", namespaces=P) or -1),
        warnings,
    )


def received(stack: Stack, reference: str, count: int) -> list[dict[str, Any]]:
    def rows() -> list[dict[str, Any]] | None:
        found = [n for n in stack.register_notifications() if n["incident_reference"] == reference]
        return found if len(found) >= count else None

    found = wait_until(rows)
    assert found, f"the register did not receive {count} notification(s) of {reference}"
    return list(found)


def pseudonym(stack: Stack, kind: str, digits: str) -> str:
    key = bytes.fromhex((stack.layout.root / "keys" / "linkage-2026-1.key").read_text().strip())
    return hmac.new(key, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()


def test_a_proceeding_reaches_the_register_with_its_event_date(stack: Stack) -> None:
    client = stack.soap_client("prosecution", PATH)
    number = f"ДП {uuid.uuid4().hex[:8]}/2021 РП-Пловдив"
    first = client.service.NotifyProceeding(
        NotificationId=str(uuid.uuid4()),
        ProceedingNumber=number,
        ProsecutionOffice="Районна прокуратура Пловдив",
        Event="ОБРАЗУВАНО",
        EventDate="2021-05-08",
        OffenceDate="2021-05-05",
        Ekatte="56784",
        PoliceRef="ЗМ-77/2021",
        Qualification=[{"Article": "116", "Attempt": True}, {"Article": "128"}],
        Victim=[
            {"PersonalNumber": {"_value_1": "1345049638", "kind": "EGN"}, "Gender": "2"},
            {"BirthDate": "1990-01-01", "Gender": "1"},
        ],
        AccusedRelation=["РОДИТЕЛ", "НЕУСТАНОВЕН"],
    )
    assert (first.Status, first.NotificationCount, first.Warning) == ("ACCEPTED", 1, [])
    [row] = received(stack, f"prosecution:{number}", 1)
    assert (row["event"], row["institution"], row["event_date"]) == (
        "new",
        "prosecution",
        "2021-05-08",
    )
    assert row["child_pseudonyms"] == [
        {"key_id": "linkage-2026-1", "value": pseudonym(stack, "EGN", "1345049638")}
    ]
    assert (row["birth_date"], row["sex"], row["incident_date"]) == (
        "2013-05-04",
        "female",
        "2021-05-05",
    )
    assert row["forms"] == ["physical"] and row["attempted"] is False
    assert row["outcome"] == "injured"
    assert (row["relationships"], row["setting"]) == (["parent"], "family")
    assert (row["case_stage"], row["place_kind"], row["ekatte"]) == (
        "criminal-proceedings",
        "incident",
        "56784",
    )
    assert row["references"] == {"mvr": "ЗМ-77/2021"} and row["warnings"] == []
    system = "https://child-register.bg/fhir/source/prosecution/"
    assert row["source_codes"] == [
        {"system": system + "Event", "code": "ОБРАЗУВАНО"},
        {"system": system + "Article", "code": "116"},
        {"system": system + "Article", "code": "128"},
        {"system": system + "AccusedRelation", "code": "РОДИТЕЛ"},
        {"system": system + "AccusedRelation", "code": "НЕУСТАНОВЕН"},
    ]
    status = client.service.GetReceiptStatus(ReceiptId=first.ReceiptId)
    assert (status.Institution, status.Status, len(status.NotificationId)) == (
        "prosecution",
        "ACCEPTED",
        1,
    )


def test_duplicate_update_stale_event_and_withdrawal(stack: Stack) -> None:
    with stack.client("prosecution") as client:
        raw, number = message("prosecution-indictment-two-victims.xml")
        status, root = post(client, raw)
        receipt, state, count, _ = answer(root)
        assert (status, state, count) == (200, "ACCEPTED", 2)
        # the first news of the proceeding is an indictment: a later event never seen before
        again = answer(post(client, raw)[1])
        assert again[:3] == (receipt, "DUPLICATE", 2)
        later, _ = message(
            "prosecution-indictment-two-victims.xml",
            proceeding=number,
            Event="ОСЪДИТЕЛНА_ПРИСЪДА",
            EventDate="2026-06-01",
        )
        assert answer(post(client, later)[1])[1:3] == ("ACCEPTED", 2)
        older, _ = message(
            "prosecution-indictment-two-victims.xml",
            proceeding=number,
            Event="СПРЯНО",
            EventDate="2026-01-10",
        )
        stale = answer(post(client, older)[1])
        assert stale[1:] == ("ACCEPTED", 0, [("stale-event", f"{R}/p:EventDate")])
        withdrawal, _ = message(
            "prosecution-withdrawal.xml", proceeding=number, EventDate="2026-01-01"
        )
        assert answer(post(client, withdrawal)[1])[1:3] == ("ACCEPTED", 2)
    rows = received(stack, f"prosecution:{number}", 6)
    assert [r["event"] for r in rows] == ["new", "new", "update", "update", "cancel", "cancel"]
    assert [r["warnings"] for r in rows[:2]] == [
        [{"code": "source-event-mismatch", "path": f"{R}/p:Event"}]
    ] * 2
    assert [r["case_stage"] for r in rows] == ["indicted"] * 2 + ["convicted"] * 2 + [None] * 2
    assert [r["event_date"] for r in rows] == ["2026-03-17"] * 2 + ["2026-06-01"] * 2 + [None] * 2
    assert {r["case_key"] for r in rows[:2]} == {r["case_key"] for r in rows[4:]}


def test_homicide_outcomes_and_warnings(stack: Stack) -> None:
    with stack.client("prosecution") as client:
        one, fatal_number = message("prosecution-homicide-one-victim.xml")
        conflict, conflict_number = message("prosecution-homicide-conflict.xml")
        adult, adult_number = message("prosecution-adult-and-child.xml")
        assert answer(post(client, one)[1])[1:] == ("ACCEPTED", 1, [])
        assert answer(post(client, conflict)[1])[1:] == (
            "ACCEPTED",
            1,
            [("outcome-conflict", f"{R}/p:Qualification[1]/p:Article")],
        )
        assert answer(post(client, adult)[1])[1:] == (
            "ACCEPTED",
            1,
            [
                ("source-event-mismatch", f"{R}/p:Event"),  # the first news is a termination
                ("birthdate-mismatch", f"{R}/p:Victim[2]/p:BirthDate"),
                ("sex-mismatch", f"{R}/p:Victim[2]/p:Gender"),
            ],
        )
    [fatal] = received(stack, f"prosecution:{fatal_number}", 1)
    assert (fatal["outcome"], fatal["relationships"], fatal["setting"]) == (
        "fatal",
        ["other-relative"],
        "family",
    )
    [dropped] = received(stack, f"prosecution:{conflict_number}", 1)
    assert dropped["outcome"] == "unknown"
    assert dropped["warnings"] == [
        {"code": "outcome-conflict", "path": f"{R}/p:Qualification[1]/p:Article"}
    ]
    [child] = received(stack, f"prosecution:{adult_number}", 1)
    assert (child["birth_date"], child["sex"], child["case_stage"]) == (
        "2011-04-19",
        "male",
        "closed",
    )
    assert child["place_kind"] is None and child["setting"] == "family"


def test_out_of_scope_errors_and_another_certificate(stack: Stack) -> None:
    with stack.client("prosecution") as client:
        theft, _ = message("prosecution-out-of-scope.xml")
        assert answer(post(client, theft)[1])[1:] == ("OUT_OF_SCOPE", 0, [])
        broken, _ = message(Ekatte="5678", Event="ЗАВЕДЕНО", OffenceDate="2021-13-01")
        status, root = post(client, broken)
        assert status == 400
        assert root.findtext("env:Body/env:Fault/env:Code/env:Value", namespaces=P) == "env:Sender"
        problems = [
            (p.findtext("p:Path", namespaces=P), p.findtext("p:Code", namespaces=P))
            for p in root.findall(".//p:Problem", P)
        ]
        assert problems == [
            (f"{R}/p:Event", "closed-list"),
            (f"{R}/p:OffenceDate", "date"),
            (f"{R}/p:Ekatte", "format"),
        ]
        text_xml = client.post(PATH, content=broken, headers={"content-type": "text/xml"})
        assert text_xml.status_code == 415
    with stack.client("mvr") as police:
        raw, _ = message()
        status, root = post(police, raw)
        assert status == 403
        assert root.findtext(".//p:Problem/p:Code", namespaces=P) == "forbidden"


def test_no_personal_value_of_the_samples_is_kept_anywhere(fresh_stack: Stack) -> None:
    stack = fresh_stack
    listed = (SAMPLES / "personal-data.txt").read_text("utf-8").splitlines()
    values = {line.strip() for line in listed if line.strip()}
    assert len(values) > 10
    with stack.client("prosecution") as client:
        for sample in sorted(SAMPLES.glob("*.xml")):
            status, _ = post(client, sample.read_bytes())
            assert status == 200, sample.name
        # a rejected message: its personal data must not reach the log or the audit either
        broken, _ = message(Event="?")
        assert post(client, broken)[0] == 400
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"})
    stack.stop()
    assert files_containing(stack.root, values) == {}
