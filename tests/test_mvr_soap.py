"""МВР over SOAP 1.1: the transport's rules in process with a fake pipeline, then the whole
gateway over real mutual TLS, called with zeep through the published WSDL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from starlette.types import Receive, Scope, Send

from adapters.mvr import MvrAdapter
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
from gateway.receipts import Caller, Receipt
from gateway.transports import soap11
from gateway.transports.problem import PROBLEM_BASE
from tests.fakes import CallerFromHeader, FakePipeline, caller_for, request, transport_app
from tests.servers import InProcessGateway, in_process_gateway

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "mvr" / "samples"
PATH = "/soap/mvr"
NS = "urn:bg:mvr:child-incident:v1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XML = {"content-type": "text/xml; charset=utf-8"}
MVR = caller_for("mvr")
OZD = caller_for("ozd")
M = {"m": NS, "soap": SOAP}


def sample_bytes(name: str = "mvr-incident.xml") -> bytes:
    return (SAMPLES / name).read_bytes()


def envelope(body: str, namespace: str = SOAP) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{namespace}" '
        f'xmlns:m="{NS}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()


XXE = (
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    + envelope("<m:IncidentReport>&e;</m:IncidentReport>").split(b"?>", 1)[1]
)


def receipt_query(receipt_id: str = "r-1") -> bytes:
    return envelope(
        f"<m:GetReceiptStatus><m:ReceiptId>{receipt_id}</m:ReceiptId></m:GetReceiptStatus>"
    )


# -- in process: the router's rules, with a fake pipeline ---------------------------------------


RECEIPT = Receipt(
    receipt_id="r-1",
    institution="mvr",
    received_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    status="accepted",
    notification_ids=("n-1", "n-2"),
    warnings=(
        DataWarning("sex-mismatch", "/m:IncidentReport/m:Victim[2]/m:Sex", 1),
        DataWarning("outcome-conflict", "/m:IncidentReport/m:Victim[1]/m:InjuryCode", 0),
    ),
)


def call(
    pipeline: FakePipeline,
    method: str = "POST",
    path: str = PATH,
    *,
    content: bytes | None = None,
    caller: str | None = "mvr",
    headers: dict[str, str] | None = None,
    adapter: Adapter | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    app = transport_app(soap11.router(adapter or MvrAdapter(), pipeline))
    sent = XML if headers is None else headers
    return request(
        app, method, path, caller=caller, content=content, headers=sent, params=params,
        base_url="http://gw.test",
    )  # fmt: skip


def parsed(response: httpx.Response) -> etree._Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return etree.fromstring(response.content)


def fault_of(response: httpx.Response, status: int = 500) -> tuple[str, list[tuple[str, str]]]:
    """(faultcode, [(path, code)...]) of a SOAP 1.1 fault answer."""
    assert response.status_code == status
    root = parsed(response)
    node = root.find("soap:Body/soap:Fault", M)
    assert node is not None
    assert node.findtext("faultstring")
    problems = node.findall("detail/m:Problems/m:Problem", M)
    assert all(p.findtext("m:Message", namespaces=M) for p in problems)
    pairs = [
        (p.findtext("m:Path", namespaces=M) or "", p.findtext("m:Code", namespaces=M) or "")
        for p in problems
    ]
    return node.findtext("faultcode") or "", pairs


def test_a_submitted_report_gets_its_receipt() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(
        pipeline,
        content=sample_bytes(),
        headers={**XML, "SOAPAction": f'"{NS}/SubmitIncidentReport"'},
    )
    assert response.status_code == 200
    answer = parsed(response).find("soap:Body/m:SubmitIncidentReportResponse", M)
    assert answer is not None
    assert [etree.QName(c).localname for c in answer] == [
        "ReceiptId",
        "Status",
        "NotificationCount",
        "Warning",
        "Warning",
    ]
    assert answer.findtext("m:ReceiptId", namespaces=M) == "r-1"
    assert answer.findtext("m:Status", namespaces=M) == "ACCEPTED"
    assert answer.findtext("m:NotificationCount", namespaces=M) == "2"
    warnings = [
        (w.findtext("m:Code", namespaces=M), w.findtext("m:Path", namespaces=M))
        for w in answer.findall("m:Warning", M)
    ]
    assert warnings == [
        ("sex-mismatch", "/m:IncidentReport/m:Victim[2]/m:Sex"),
        ("outcome-conflict", "/m:IncidentReport/m:Victim[1]/m:InjuryCode"),
    ]
    ((slug, raw, caller, document),) = pipeline.submitted
    assert (slug, raw, caller) == ("mvr", sample_bytes(), MVR)
    assert document.tag == f"{{{NS}}}IncidentReport"
    assert pipeline.refusals == []


@pytest.mark.parametrize(
    ("status", "written"),
    [("accepted", "ACCEPTED"), ("duplicate", "DUPLICATE"), ("out-of-scope", "OUT_OF_SCOPE")],
)
def test_receipt_statuses_are_written_as_the_contract_says(status: Any, written: str) -> None:
    pipeline = FakePipeline(Receipt("r-1", "mvr", datetime(2026, 1, 1, tzinfo=UTC), status))
    root = parsed(call(pipeline, content=sample_bytes()))
    assert (
        root.findtext("soap:Body/m:SubmitIncidentReportResponse/m:Status", namespaces=M) == written
    )
    assert (
        root.findtext("soap:Body/m:SubmitIncidentReportResponse/m:NotificationCount", namespaces=M)
        == "0"
    )


@pytest.mark.parametrize(
    "action",
    [
        None,
        "",
        '""',
        f"{NS}/SubmitIncidentReport",
        f'"{NS}/SubmitIncidentReport"',
        f' " {NS}/SubmitIncidentReport" ',
    ],
)
def test_soap_action_quoted_unquoted_or_empty(action: str | None) -> None:
    headers = dict(XML) if action is None else {**XML, "SOAPAction": action}
    assert call(FakePipeline(RECEIPT), content=sample_bytes(), headers=headers).status_code == 200


@pytest.mark.parametrize(
    "action", [f"{NS}/GetReceiptStatus", f'"{NS}/Other"', "SubmitIncidentReport"]
)
def test_soap_action_naming_another_operation_is_a_client_fault(action: str) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=sample_bytes(), headers={**XML, "SOAPAction": action})
    assert fault_of(response) == ("soap:Client", [("SOAPAction", "conflict")])
    assert pipeline.submitted == []
    ((caller, slug, error, raw),) = pipeline.refusals
    assert (caller, slug, type(error), raw) == (MVR, "mvr", ContractViolation, sample_bytes())


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "TEXT/XML",
        "text/xml; charset=utf-8",
        'text/xml; charset="windows-1251"',
        "text/xml;charset=ISO-8859-1",
    ],
)
def test_any_charset_parameter_is_ignored(content_type: str) -> None:
    raw = sample_bytes("mvr-incident-windows-1251.xml")
    pipeline = FakePipeline(RECEIPT)
    assert call(pipeline, content=raw, headers={"content-type": content_type}).status_code == 200
    document = pipeline.submitted[0][3]
    assert document.findtext(f"{{{NS}}}RegistrationNumber") == "ЗМ-1180/2026 ОДМВР Бургас"


@pytest.mark.parametrize(
    ("caller", "status", "error"),
    [("ozd", 403, Forbidden), (None, 401, Unauthenticated)],
)
def test_another_institutions_certificate_gets_a_fault(
    caller: str | None, status: int, error: type[Exception]
) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(
        pipeline, content=sample_bytes(), caller=caller, headers={"content-type": "text/plain"}
    )
    assert fault_of(response, status) == ("soap:Client", [("", "forbidden")])
    ((who, slug, refused, raw),) = pipeline.refusals
    assert (who, slug, type(refused), raw) == ({"ozd": OZD}.get(caller or ""), "mvr", error, None)
    assert pipeline.submitted == []


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/soap+xml; charset=utf-8"},
        {"content-type": "application/xml"},
        {},
    ],
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
    big = b"<" * (5 * 1024 * 1024 + 1)
    response = call(pipeline, content=big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too-large"
    ((_, _, error, raw),) = pipeline.refusals
    assert isinstance(error, TooLarge) and raw is None


def test_exactly_the_limit_is_read() -> None:
    document = sample_bytes().rstrip()
    padded = document + b" " * (5 * 1024 * 1024 - len(document))
    assert call(FakePipeline(RECEIPT), content=padded).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        XXE,
        b"<soap:Envelope",
        b"",
        b"\xff\xfe\x00<",
    ],
)
def test_unreadable_xml_is_a_client_fault_with_a_format_problem(raw: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=raw)
    assert fault_of(response) == ("soap:Client", [("", "format")])
    assert b"root:" not in response.content
    ((_, _, error, refused_raw),) = pipeline.refusals
    assert isinstance(error, NotParseable) and refused_raw == raw


def test_a_soap_12_envelope_is_a_version_mismatch() -> None:
    pipeline = FakePipeline(RECEIPT)
    raw = sample_bytes().replace(SOAP.encode(), SOAP12.encode())
    response = call(pipeline, content=raw)
    code, problems = fault_of(response)
    assert code == "soap:VersionMismatch" and problems == [("", "format")]
    assert isinstance(pipeline.refusals[0][2], soap11.VersionMismatch)


@pytest.mark.parametrize(
    "raw",
    [
        b"<m:IncidentReport xmlns:m='urn:bg:mvr:child-incident:v1'/>",
        envelope(""),
        envelope("<m:IncidentReport/><m:IncidentReport/>"),
        envelope("<m:CancelEverything/>"),
        envelope('<x:IncidentReport xmlns:x="urn:other"/>'),
        sample_bytes().replace(b"soap:Body>", b"soap:Bodies>"),
    ],
)
def test_envelopes_without_one_known_operation_are_client_faults(raw: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    assert fault_of(call(pipeline, content=raw)) == ("soap:Client", [("", "format")])
    assert pipeline.submitted == [] and len(pipeline.refusals) == 1


def test_errors_of_the_pipeline_list_every_problem_and_are_not_refused_again() -> None:
    problems = [
        Problem("/m:IncidentReport/m:Ekatte", "format", "Ekatte must be 5 digits"),
        Problem("/m:IncidentReport/m:Victim[2]/m:Egn", "check-digit", "ЕГН check digit is wrong"),
    ]
    pipeline = FakePipeline(answer=ContractViolation(problems))
    response = call(pipeline, content=sample_bytes())
    assert fault_of(response) == ("soap:Client", [(p.path, p.code) for p in problems])
    assert "ЕГН check digit is wrong" in response.content.decode()
    assert pipeline.refusals == []


def test_unavailable_is_a_server_fault_to_retry() -> None:
    response = call(FakePipeline(answer=Unavailable("the store is down")), content=sample_bytes())
    assert fault_of(response) == ("soap:Server", [("", "unavailable")])
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)


def test_get_receipt_status() -> None:
    response = call(
        FakePipeline(RECEIPT),
        content=receipt_query(),
        headers={**XML, "SOAPAction": f"{NS}/GetReceiptStatus"},
    )
    assert response.status_code == 200
    answer = parsed(response).find("soap:Body/m:GetReceiptStatusResponse", M)
    assert answer is not None
    assert [(etree.QName(c).localname, c.text) for c in answer][:6] == [
        ("ReceiptId", "r-1"),
        ("Institution", "mvr"),
        ("ReceivedAt", "2026-11-24T09:30:00+00:00"),
        ("Status", "ACCEPTED"),
        ("NotificationId", "n-1"),
        ("NotificationId", "n-2"),
    ]
    assert [w.findtext("m:Code", namespaces=M) for w in answer.findall("m:Warning", M)] == [
        "sex-mismatch",
        "outcome-conflict",
    ]


def test_an_unknown_receipt_is_a_client_fault() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(pipeline, content=receipt_query("r-2"))
    assert fault_of(response) == ("soap:Client", [("", "receipt-not-found")])
    assert pipeline.refusals == []


def test_a_receipt_query_needs_a_receipt_id() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = call(
        pipeline,
        content=envelope("<m:GetReceiptStatus><m:ReceiptId> </m:ReceiptId></m:GetReceiptStatus>"),
    )
    assert fault_of(response) == ("soap:Client", [("/m:GetReceiptStatus/m:ReceiptId", "required")])
    assert len(pipeline.refusals) == 1


def test_the_wsdl_names_the_address_that_was_asked_and_carries_the_schema() -> None:
    response = call(FakePipeline(RECEIPT), "GET", params={"wsdl": ""}, headers={})
    assert response.status_code == 200
    root = parsed(response)
    wsdl = {
        "w": "http://schemas.xmlsoap.org/wsdl/",
        "s": "http://schemas.xmlsoap.org/wsdl/soap/",
        "xs": "http://www.w3.org/2001/XMLSchema",
    }
    (address,) = root.xpath("//w:service/w:port/s:address/@location", namespaces=wsdl)
    assert address == "http://gw.test/soap/mvr"
    assert root.xpath("//xs:import", namespaces=wsdl) == []
    assert root.xpath("//xs:element[@name='IncidentReport']", namespaces=wsdl)
    xsd = call(FakePipeline(RECEIPT), "GET", params={"xsd": ""}, headers={})
    assert etree.fromstring(xsd.content).get("targetNamespace") == NS
    assert call(FakePipeline(RECEIPT), "GET", headers={}).status_code == 404


def test_the_router_is_generic_over_soap_11_adapters() -> None:
    class Other(MvrAdapter):
        slug = "schools"
        transport = TransportSpec(
            kind="soap11",
            path="/soap/other",
            max_bytes=4096,
            media_types=("text/xml",),
            namespace="urn:other",
            submit_element="Thing",
            submit_operation="SendThing",
            wsdl=MvrAdapter.transport.wsdl,
        )

    class Schools(CallerFromHeader):
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("state", {})["caller"] = Caller("schools", "fp")
            await self.app(scope, receive, send)

    pipeline = FakePipeline(RECEIPT)
    app = FastAPI()
    app.include_router(soap11.router(Other(), pipeline))
    app.add_middleware(Schools)
    raw = (
        f'<e:Envelope xmlns:e="{SOAP}"><e:Body><t:Thing xmlns:t="urn:other"/></e:Body></e:Envelope>'
    ).encode()

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw"
        ) as c:
            return await c.post(
                "/soap/other", content=raw, headers={**XML, "SOAPAction": "urn:other/SendThing"}
            )

    response = asyncio.run(go())
    assert response.status_code == 200
    assert parsed(response).find("soap:Body/{urn:other}SendThingResponse", M) is not None
    assert pipeline.submitted[0][3].tag == "{urn:other}Thing"
    with pytest.raises(ValueError, match="soap11"):
        soap11.router(
            type("Json", (MvrAdapter,), {"transport": TransportSpec("json", "/x", 1, ())})(),
            pipeline,
        )


# -- the whole gateway over real mutual TLS, with zeep ------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessGateway]:
    with in_process_gateway(tmp_path_factory.mktemp("mvr-gateway")) as gateway:
        yield gateway


def post(stack: InProcessGateway, raw: bytes, slug: str = "mvr", **headers: str) -> httpx.Response:
    return stack.post(PATH, raw, slug, {**XML, **headers})


def report(**changes: Any) -> dict[str, Any]:
    """A report as zeep takes it: the shared sample's content, with a fresh id and record."""
    fields: dict[str, Any] = {
        "ReportId": str(uuid.uuid4()),
        "RegistrationNumber": f"ЗМ-{uuid.uuid4().hex[:8]}/2026 02 РУ-СДВР",
        "ReportType": "NEW",
        "Unit": "02 РУ-СДВР",
        "IncidentDate": date(2026, 7, 21),
        "Ekatte": "68134",
        "SettingCode": "1",
        "Offence": [{"Article": "129", "Attempt": False}, {"Article": "143"}],
        "Victim": [{"Egn": "1243151230", "Sex": "Ж", "FirstName": "Виктория", "InjuryCode": "2"}],
        "Perpetrator": [{"RelationCode": "1"}],
    }
    fields.update(changes)
    return fields


def test_zeep_submits_reads_the_receipt_and_gets_the_duplicate(stack: InProcessGateway) -> None:
    client = stack.zeep("mvr", PATH)
    fields = report()
    first = client.service.SubmitIncidentReport(**fields)
    assert (first.Status, first.NotificationCount, first.Warning) == ("ACCEPTED", 1, [])
    again = client.service.SubmitIncidentReport(**fields)
    assert (again.ReceiptId, again.Status, again.NotificationCount) == (
        first.ReceiptId,
        "DUPLICATE",
        1,
    )
    status = client.service.GetReceiptStatus(ReceiptId=first.ReceiptId)
    assert (status.ReceiptId, status.Institution, status.Status) == (
        first.ReceiptId,
        "mvr",
        "ACCEPTED",
    )
    assert len(status.NotificationId) == 1 and status.ReceivedAt.tzinfo is not None


def test_zeep_gets_warnings_and_out_of_scope(stack: InProcessGateway) -> None:
    client = stack.zeep("mvr", PATH)
    mismatch = report(
        Victim=[
            {"Egn": "1243151230", "BirthDate": date(2012, 3, 16), "Sex": "M", "InjuryCode": "0"}
        ]
    )
    answer = client.service.SubmitIncidentReport(**mismatch)
    assert answer.Status == "ACCEPTED"
    assert [(w.Code, w.Path) for w in answer.Warning] == [
        ("birthdate-mismatch", "/m:IncidentReport/m:Victim[1]/m:BirthDate"),
        ("sex-mismatch", "/m:IncidentReport/m:Victim[1]/m:Sex"),
    ]
    theft = client.service.SubmitIncidentReport(**report(Offence=[{"Article": "194"}]))
    assert (theft.Status, theft.NotificationCount) == ("OUT_OF_SCOPE", 0)


def test_zeep_gets_every_problem_in_a_client_fault(stack: InProcessGateway) -> None:
    from zeep.exceptions import Fault

    client = stack.zeep("mvr", PATH)
    broken = report(Ekatte="6813", Victim=[{"Egn": "1243151231", "Sex": "Ж", "InjuryCode": "7"}])
    with pytest.raises(Fault) as caught:
        client.service.SubmitIncidentReport(**broken)
    assert caught.value.code == "soap:Client"
    problems = caught.value.detail.findall(".//m:Problem", M)
    assert [(p.findtext(f"{{{NS}}}Path"), p.findtext(f"{{{NS}}}Code")) for p in problems] == [
        ("/m:IncidentReport/m:Ekatte", "format"),
        ("/m:IncidentReport/m:Victim[1]/m:Egn", "check-digit"),
        ("/m:IncidentReport/m:Victim[1]/m:InjuryCode", "closed-list"),
    ]
    assert b"1243151231" not in etree.tostring(caught.value.detail)
    with pytest.raises(Fault) as missing:
        client.service.GetReceiptStatus(ReceiptId=str(uuid.uuid4()))
    assert missing.value.code == "soap:Client"
    assert missing.value.detail.findtext(".//m:Code", namespaces=M) == "receipt-not-found"


def test_the_shipped_samples_over_mtls(stack: InProcessGateway) -> None:
    for name in (
        "mvr-incident-update-two-victims.xml",
        "mvr-incident-cancel.xml",
        "mvr-incident-windows-1251.xml",
        "mvr-incident-unknown-elements.xml",
    ):
        response = post(stack, sample_bytes(name), SOAPAction="")
        assert response.status_code == 200, (name, response.text)
        status = etree.fromstring(response.content).findtext(".//m:Status", namespaces=M)
        assert status == "ACCEPTED", name


def test_refusals_over_mtls(stack: InProcessGateway) -> None:
    forbidden = post(stack, sample_bytes(), slug="ozd")
    assert fault_of(forbidden, 403) == ("soap:Client", [("", "forbidden")])
    soap12 = post(stack, sample_bytes(), **{"content-type": "application/soap+xml"})
    assert (
        soap12.status_code == 415 and soap12.headers["content-type"] == "application/problem+json"
    )
    dtd = post(stack, b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    assert fault_of(dtd) == ("soap:Client", [("", "format")])
