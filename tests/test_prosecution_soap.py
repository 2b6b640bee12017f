"""The prosecution over SOAP 1.2: the transport's rules in process with a fake pipeline, then the
whole gateway over real mutual TLS, called with zeep (a SOAP 1.2 client) through the WSDL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from adapters.prosecution import ProsecutionAdapter
from gateway.adapter import Adapter, TransportSpec
from gateway.errors import (
    ContractViolation,
    Forbidden,
    NotParseable,
    Problem,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.facts import DataWarning
from gateway.receipts import Receipt
from gateway.transports import soap12
from gateway.transports.problem import PROBLEM_BASE
from tests.fakes import FakePipeline, caller_for, request, transport_app
from tests.servers import InProcessGateway, in_process_gateway

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "prosecution" / "samples"
PATH = "/soap/prosecution"
NS = "urn:bg:prb:pretrial:v2"
ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SOAP_XML = {"content-type": "application/soap+xml; charset=utf-8"}
PROSECUTION = caller_for("prosecution")
MVR = caller_for("mvr")
P = {"p": NS, "env": ENV}
R = "/p:ProceedingNotification"


def sample_bytes(name: str = "prosecution-proceeding.xml") -> bytes:
    return (SAMPLES / name).read_bytes()


def envelope(body: str, namespace: str = ENV) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="{namespace}" '
        f'xmlns:p="{NS}"><env:Body>{body}</env:Body></env:Envelope>'
    ).encode()


def receipt_query(receipt_id: str = "r-1") -> bytes:
    return envelope(
        f"<p:GetReceiptStatus><p:ReceiptId>{receipt_id}</p:ReceiptId></p:GetReceiptStatus>"
    )


def action(operation: str, quoted: bool = True) -> dict[str, str]:
    value = f"{NS}/{operation}"
    return {"content-type": f'application/soap+xml; charset=utf-8; action="{value}"'}


RECEIPT = Receipt(
    receipt_id="r-1",
    institution="prosecution",
    received_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    status="accepted",
    notification_ids=("n-1", "n-2"),
    warnings=(
        DataWarning("sex-mismatch", f"{R}/p:Victim[2]/p:Gender", 1),
        DataWarning("outcome-conflict", f"{R}/p:Qualification[1]/p:Article"),
    ),
)


def call(
    pipeline: FakePipeline,
    method: str = "POST",
    path: str = PATH,
    *,
    content: bytes | None = None,
    caller: str | None = "prosecution",
    headers: dict[str, str] | None = None,
    adapter: Adapter | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    app = transport_app(soap12.router(adapter or ProsecutionAdapter(), pipeline))
    sent = SOAP_XML if headers is None else headers
    return request(
        app, method, path, caller=caller, content=content, headers=sent, params=params,
        base_url="http://gw.test",
    )  # fmt: skip


def parsed(response: httpx.Response) -> etree._Element:
    assert response.headers["content-type"] == "application/soap+xml; charset=utf-8"
    return etree.fromstring(response.content)


def fault_of(response: httpx.Response, status: int = 400) -> tuple[str, list[tuple[str, str]]]:
    """(code value, [(path, code)...]) of a SOAP 1.2 fault answer; checks both reasons."""
    assert response.status_code == status, response.text
    root = parsed(response)
    node = root.find("env:Body/env:Fault", P)
    assert node is not None
    texts = node.findall("env:Reason/env:Text", P)
    assert [t.get(XML_LANG) for t in texts] == ["bg", "en"]
    assert all(t.text for t in texts)
    problems = node.findall("env:Detail/p:Problems/p:Problem", P)
    assert problems and all(p.findtext("p:Message", namespaces=P) for p in problems)
    pairs = [
        (p.findtext("p:Path", namespaces=P) or "", p.findtext("p:Code", namespaces=P) or "")
        for p in problems
    ]
    return node.findtext("env:Code/env:Value", namespaces=P) or "", pairs


# -- in process: the router's rules, with a fake pipeline ---------------------------------------


def test_a_notification_gets_its_receipt() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=sample_bytes(), headers=action("NotifyProceeding"))
    assert response.status_code == 200
    answer = parsed(response).find("env:Body/p:NotifyProceedingResponse", P)
    assert answer is not None
    assert [etree.QName(c).localname for c in answer] == [
        "ReceiptId",
        "Status",
        "NotificationCount",
        "Warning",
        "Warning",
    ]
    assert answer.findtext("p:Status", namespaces=P) == "ACCEPTED"
    assert answer.findtext("p:NotificationCount", namespaces=P) == "2"
    warnings = [
        (w.findtext("p:Code", namespaces=P), w.findtext("p:Path", namespaces=P))
        for w in answer.findall("p:Warning", P)
    ]
    assert warnings == [(w.code, w.path) for w in RECEIPT.warnings]
    ((slug, raw, caller, document),) = pipeline.submitted
    assert (slug, raw, caller) == ("prosecution", sample_bytes(), PROSECUTION)
    assert document.tag == f"{{{NS}}}ProceedingNotification"
    assert pipeline.refusals == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/soap+xml",
        "APPLICATION/SOAP+XML; charset=UTF-8",
        f"application/soap+xml; action={NS}/NotifyProceeding",
        f'application/soap+xml;charset="windows-1251";action="{NS}/NotifyProceeding"',
        'application/soap+xml; action=""',
    ],
)
def test_the_action_parameter_is_optional_and_any_charset_is_ignored(content_type: str) -> None:
    raw = sample_bytes("prosecution-windows-1251.xml")
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=raw, headers={"content-type": content_type})
    assert response.status_code == 200
    number = pipeline.submitted[0][3].findtext(f"{{{NS}}}ProceedingNumber")
    assert number == "ДП 533/2025 РП-Плевен"


@pytest.mark.parametrize(
    "named", [f"{NS}/GetReceiptStatus", f"{NS}/Other", "NotifyProceeding", "urn:other/Notify"]
)
def test_an_action_naming_another_operation_is_a_sender_fault(named: str) -> None:
    pipeline = FakePipeline(RECEIPT)
    headers = {"content-type": f'application/soap+xml; action="{named}"'}
    response = call(pipeline, content=sample_bytes(), headers=headers)
    assert fault_of(response) == ("env:Sender", [("action", "conflict")])
    assert pipeline.submitted == []
    ((caller, slug, error, raw),) = pipeline.refusals
    assert (caller, slug, type(error), raw) == (
        PROSECUTION,
        "prosecution",
        ContractViolation,
        sample_bytes(),
    )


@pytest.mark.parametrize(
    ("caller", "status", "error"),
    [("mvr", 403, Forbidden), (None, 401, Unauthenticated)],
)
def test_another_institutions_certificate_gets_a_fault(
    caller: str | None, status: int, error: type[Exception]
) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=sample_bytes(), caller=caller, headers={})
    assert fault_of(response, status) == ("env:Sender", [("", "forbidden")])
    ((who, slug, refused, raw),) = pipeline.refusals
    assert (who, slug, type(refused), raw) == (
        {"mvr": MVR}.get(caller or ""),
        "prosecution",
        error,
        None,
    )


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/xml; charset=utf-8"}, {"content-type": "application/xml"}, {}],
)
def test_other_media_types_are_415_problem_json(headers: dict[str, str]) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=sample_bytes(), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + "media-type"
    assert isinstance(pipeline.refusals[0][2], UnsupportedMediaType)


def test_too_large_is_413_before_parsing() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=b"<" * (5 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too-large"
    ((_, _, error, raw),) = pipeline.refusals
    assert isinstance(error, TooLarge) and raw is None


def test_exactly_the_limit_is_read() -> None:
    document = sample_bytes().rstrip()
    padded = document + b" " * (5 * 1024 * 1024 - len(document))
    assert call(FakePipeline(RECEIPT), content=padded).status_code == 200


XXE = (
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    + envelope("<p:ProceedingNotification>&e;</p:ProceedingNotification>").split(b"?>", 1)[1]
)


@pytest.mark.parametrize("raw", [XXE, b"<env:Envelope", b"", b"\xff\xfe\x00<"])
def test_unreadable_xml_and_a_dtd_are_sender_faults_with_a_format_problem(raw: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=raw)
    assert fault_of(response) == ("env:Sender", [("", "format")])
    assert b"root:" not in response.content
    ((_, _, error, refused_raw),) = pipeline.refusals
    assert isinstance(error, NotParseable) and refused_raw == raw


def test_a_soap_11_envelope_is_a_version_mismatch_with_an_upgrade_header() -> None:
    pipeline = FakePipeline(RECEIPT)
    raw = sample_bytes().replace(ENV.encode(), SOAP11.encode())
    response = call(pipeline, content=raw)
    assert fault_of(response, 500) == ("env:VersionMismatch", [("", "format")])
    root = parsed(response)
    (supported,) = root.findall("env:Header/env:Upgrade/env:SupportedEnvelope", P)
    prefix, _, local = supported.get("qname", "").partition(":")
    assert (supported.nsmap[prefix], local) == (ENV, "Envelope")
    assert isinstance(pipeline.refusals[0][2], soap12.VersionMismatch)
    assert pipeline.submitted == []


@pytest.mark.parametrize(
    "raw",
    [
        b"<p:ProceedingNotification xmlns:p='urn:bg:prb:pretrial:v2'/>",
        envelope(""),
        envelope("<p:ProceedingNotification/><p:ProceedingNotification/>"),
        envelope("<p:IncidentReport/>"),
        envelope('<x:ProceedingNotification xmlns:x="urn:other"/>'),
        sample_bytes().replace(b"env:Body>", b"env:Bodies>"),
    ],
)
def test_envelopes_without_one_known_operation_are_sender_faults(raw: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    assert fault_of(call(pipeline, content=raw)) == ("env:Sender", [("", "format")])
    assert pipeline.submitted == [] and len(pipeline.refusals) == 1


def test_errors_of_the_pipeline_list_every_problem_and_are_not_refused_again() -> None:
    problems = [
        Problem(f"{R}/p:Ekatte", "format", "Ekatte must be 5 digits"),
        Problem(f"{R}/p:Victim[2]/p:PersonalNumber", "check-digit", "ЕГН check digit is wrong"),
    ]
    pipeline = FakePipeline(answer=ContractViolation(problems))
    response = call(pipeline, content=sample_bytes())
    assert fault_of(response) == ("env:Sender", [(p.path, p.code) for p in problems])
    reasons = parsed(response).findall("env:Body/env:Fault/env:Reason/env:Text", P)
    assert [r.text for r in reasons] == [
        "Съобщението нарушава договора на институцията",
        "2 problem(s) in the message",
    ]
    assert "retry-after" not in response.headers
    assert pipeline.refusals == []


def test_unavailable_is_a_receiver_fault_to_retry() -> None:
    response = call(FakePipeline(answer=Unavailable("the store is down")), content=sample_bytes())
    assert fault_of(response, 500) == ("env:Receiver", [("", "unavailable")])
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)


def test_get_receipt_status() -> None:
    response = call(
        FakePipeline(RECEIPT), content=receipt_query(), headers=action("GetReceiptStatus")
    )
    assert response.status_code == 200
    answer = parsed(response).find("env:Body/p:GetReceiptStatusResponse", P)
    assert answer is not None
    assert [(etree.QName(c).localname, c.text) for c in answer][:6] == [
        ("ReceiptId", "r-1"),
        ("Institution", "prosecution"),
        ("ReceivedAt", "2026-11-24T09:30:00+00:00"),
        ("Status", "ACCEPTED"),
        ("NotificationId", "n-1"),
        ("NotificationId", "n-2"),
    ]
    assert len(answer.findall("p:Warning", P)) == 2


def test_an_unknown_receipt_is_a_sender_fault() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=receipt_query("r-2"))
    assert fault_of(response) == ("env:Sender", [("", "receipt-not-found")])
    assert pipeline.refusals == []


def test_a_receipt_query_needs_a_receipt_id() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=receipt_query(" "))
    assert fault_of(response) == ("env:Sender", [("/p:GetReceiptStatus/p:ReceiptId", "required")])
    assert len(pipeline.refusals) == 1


def test_the_wsdl_names_the_address_that_was_asked_and_carries_the_schema() -> None:
    response = call(FakePipeline(RECEIPT), "GET", params={"wsdl": ""}, headers={})
    assert response.status_code == 200
    root = parsed(response)
    wsdl = {
        "w": "http://schemas.xmlsoap.org/wsdl/",
        "s12": "http://schemas.xmlsoap.org/wsdl/soap12/",
        "xs": "http://www.w3.org/2001/XMLSchema",
    }
    (address,) = root.xpath("//w:service/w:port/s12:address/@location", namespaces=wsdl)
    assert address == "http://gw.test/soap/prosecution"
    assert root.xpath("//xs:import", namespaces=wsdl) == []
    assert root.xpath("//xs:element[@name='ProceedingNotification']", namespaces=wsdl)
    actions = root.xpath("//w:binding/w:operation/s12:operation/@soapAction", namespaces=wsdl)
    assert actions == [f"{NS}/NotifyProceeding", f"{NS}/GetReceiptStatus"]
    xsd = call(FakePipeline(RECEIPT), "GET", params={"xsd": ""}, headers={})
    assert etree.fromstring(xsd.content).get("targetNamespace") == NS
    assert call(FakePipeline(RECEIPT), "GET", headers={}).status_code == 404


def test_the_router_is_for_soap_12_adapters_only() -> None:
    json = type("Json", (ProsecutionAdapter,), {"transport": TransportSpec("json", "/x", 1, ())})
    with pytest.raises(ValueError, match="soap12"):
        soap12.router(json(), FakePipeline(RECEIPT))


# -- the whole gateway over real mutual TLS, with zeep ------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessGateway]:
    with in_process_gateway(tmp_path_factory.mktemp("prosecution-gateway")) as gateway:
        yield gateway


def post(
    stack: InProcessGateway, raw: bytes, slug: str = "prosecution", **headers: str
) -> httpx.Response:
    return stack.post(PATH, raw, slug, {**SOAP_XML, **headers})


def notification(**changes: Any) -> dict[str, Any]:
    """A notification as zeep takes it: the shared sample's content, with a fresh id and record."""
    fields: dict[str, Any] = {
        "NotificationId": str(uuid.uuid4()),
        "ProceedingNumber": f"ДП {uuid.uuid4().hex[:6]}/2026 РП-Пловдив",
        "ProsecutionOffice": "Районна прокуратура Пловдив",
        "Event": "ОБРАЗУВАНО",
        "EventDate": date(2026, 5, 8),
        "OffenceDate": date(2026, 5, 5),
        "Ekatte": "56784",
        "Qualification": [{"Article": "116", "Attempt": True}],
        "Victim": [
            {
                "PersonalNumber": {"_value_1": "1345049638", "kind": "EGN"},
                "Gender": "2",
                "Deceased": False,
                "Name": "Виктория Иванова",
            }
        ],
        "AccusedRelation": ["РОДИТЕЛ"],
    }
    fields.update(changes)
    return fields


def test_zeep_notifies_reads_the_receipt_and_gets_the_duplicate(stack: InProcessGateway) -> None:
    client = stack.zeep("prosecution", PATH)
    assert client.wsdl.bindings[next(iter(client.wsdl.bindings))].__class__.__name__ == (
        "Soap12Binding"
    )
    fields = notification()
    first = client.service.NotifyProceeding(**fields)
    assert (first.Status, first.NotificationCount, first.Warning) == ("ACCEPTED", 1, [])
    again = client.service.NotifyProceeding(**fields)
    assert (again.ReceiptId, again.Status, again.NotificationCount) == (
        first.ReceiptId,
        "DUPLICATE",
        1,
    )
    status = client.service.GetReceiptStatus(ReceiptId=first.ReceiptId)
    assert (status.ReceiptId, status.Institution, status.Status) == (
        first.ReceiptId,
        "prosecution",
        "ACCEPTED",
    )
    assert len(status.NotificationId) == 1 and status.ReceivedAt.tzinfo is not None


def test_zeep_gets_a_stale_event_and_out_of_scope(stack: InProcessGateway) -> None:
    client = stack.zeep("prosecution", PATH)
    number = f"ДП {uuid.uuid4().hex[:6]}/2026"
    later = notification(
        ProceedingNumber=number, Event="ОБВИНИТЕЛЕН_АКТ", EventDate=date(2026, 9, 1)
    )
    assert client.service.NotifyProceeding(**later).NotificationCount == 1
    older = notification(ProceedingNumber=number, Event="СПРЯНО", EventDate=date(2026, 8, 1))
    stale = client.service.NotifyProceeding(**older)
    assert (stale.Status, stale.NotificationCount) == ("ACCEPTED", 0)
    assert [(w.Code, w.Path) for w in stale.Warning] == [("stale-event", f"{R}/p:EventDate")]
    theft = client.service.NotifyProceeding(**notification(Qualification=[{"Article": "194"}]))
    assert (theft.Status, theft.NotificationCount) == ("OUT_OF_SCOPE", 0)


def test_zeep_gets_every_problem_in_a_sender_fault(stack: InProcessGateway) -> None:
    from zeep.exceptions import Fault

    client = stack.zeep("prosecution", PATH)
    victim = {"PersonalNumber": {"_value_1": "1345049639", "kind": "EGN"}, "Gender": "7"}
    broken = notification(Ekatte="5678", Victim=[victim], AccusedRelation=["РОДИТЕЛ", "СЪСЕД"])
    with pytest.raises(Fault) as caught:
        client.service.NotifyProceeding(**broken)
    assert caught.value.code == "env:Sender"
    assert caught.value.message == "Съобщението нарушава договора на институцията"
    problems = caught.value.detail.findall(".//p:Problem", P)
    assert [(p.findtext(f"{{{NS}}}Path"), p.findtext(f"{{{NS}}}Code")) for p in problems] == [
        (f"{R}/p:Ekatte", "format"),
        (f"{R}/p:Victim[1]/p:PersonalNumber", "check-digit"),
        (f"{R}/p:Victim[1]/p:Gender", "closed-list"),
        (f"{R}/p:AccusedRelation[2]", "closed-list"),
    ]
    assert b"1345049639" not in etree.tostring(caught.value.detail)
    with pytest.raises(Fault) as missing:
        client.service.GetReceiptStatus(ReceiptId=str(uuid.uuid4()))
    assert missing.value.code == "env:Sender"
    assert missing.value.detail.findtext(".//p:Code", namespaces=P) == "receipt-not-found"


def test_the_shipped_samples_over_mtls(stack: InProcessGateway) -> None:
    for name in sorted(p.name for p in SAMPLES.glob("*.xml")):
        response = post(stack, sample_bytes(name))
        assert response.status_code == 200, (name, response.text)
        status = etree.fromstring(response.content).findtext(".//p:Status", namespaces=P)
        expected = "OUT_OF_SCOPE" if "out-of-scope" in name else "ACCEPTED"
        assert status == expected, name


def test_refusals_over_mtls(stack: InProcessGateway) -> None:
    forbidden = post(stack, sample_bytes(), slug="mvr")
    assert fault_of(forbidden, 403) == ("env:Sender", [("", "forbidden")])
    soap11 = post(stack, sample_bytes(), **{"content-type": "text/xml; charset=utf-8"})
    assert soap11.status_code == 415
    assert soap11.headers["content-type"] == "application/problem+json"
    dtd = post(stack, b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    assert fault_of(dtd) == ("env:Sender", [("", "format")])
