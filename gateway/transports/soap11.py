"""The SOAP 1.1 transport: the WSDL, envelope and SOAPAction checks, dispatch, answers and faults.

Generic over `adapter.transport`: the body namespace, the submit element and operation, and the
published WSDL/XSD are all the adapter's; `GetReceiptStatus` is common to every SOAP contract.
README §2 in order: the certificate (a fault with 403), the media type (415) and the size (413,
before parsing) as plain problem+json, then the envelope; every refusal made here is audited
through `pipeline.refused`. Faults answer HTTP 500 (SOAP 1.1 §6.2) with every problem in
`detail/m:Problems`; `soap:Server` means the sender should retry later.
"""

from __future__ import annotations

import copy

from fastapi import APIRouter, HTTPException, Request, Response
from lxml import etree

from gateway.adapter import Adapter, TransportSpec
from gateway.errors import (
    ClientError,
    ContractViolation,
    Forbidden,
    GatewayError,
    NotParseable,
    Problem,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.receipts import Receipt
from gateway.transports.common import Intake, Submitter
from gateway.transports.problem import render_problem
from gateway.transports.xml import parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD = "http://www.w3.org/2001/XMLSchema"
CONTENT_TYPE = "text/xml; charset=utf-8"
RECEIPT_OPERATION = "GetReceiptStatus"
#: The prefix of the contract namespace in answers and in problem paths (README §9).
PREFIX = "m"
DEFAULT_RETRY = Unavailable.retry_after_seconds


class VersionMismatch(ClientError):
    """An envelope of another SOAP version (1.2, say): answered with `soap:VersionMismatch`."""

    code = "format"
    title = "Not a SOAP 1.1 envelope"


def fault(error: GatewayError, namespace: str) -> Response:
    """The SOAP 1.1 fault for `error`, listing every problem (one made of the error's own code
    when it has none, so a client can always read `Problem/Code`)."""
    if isinstance(error, VersionMismatch):
        kind = "VersionMismatch"
    elif isinstance(error, ClientError):
        kind = "Client"
    else:
        kind = "Server"
    envelope, body = _envelope(namespace)
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = f"soap:{kind}"
    etree.SubElement(node, "faultstring").text = error.message
    problems = etree.SubElement(etree.SubElement(node, "detail"), f"{{{namespace}}}Problems")
    for problem in error.problems or [Problem("", error.code, error.message)]:
        entry = etree.SubElement(problems, f"{{{namespace}}}Problem")
        _text(entry, namespace, "Path", problem.path)
        _text(entry, namespace, "Code", problem.code)
        _text(entry, namespace, "Message", problem.message)
    headers = {"Retry-After": str(getattr(error, "retry_after_seconds", DEFAULT_RETRY))}
    # A certificate refusal keeps its HTTP status (README §1: 403 with a fault body).
    status = error.status if isinstance(error, Forbidden | Unauthenticated) else 500
    return _xml(envelope, status, headers if error.retryable else None)


def submit_answer(receipt: Receipt, namespace: str, operation: str) -> Response:
    envelope, body = _envelope(namespace)
    answer = etree.SubElement(body, f"{{{namespace}}}{operation}Response")
    _text(answer, namespace, "ReceiptId", receipt.receipt_id)
    _text(answer, namespace, "Status", _status(receipt))
    _text(answer, namespace, "NotificationCount", str(receipt.notification_count))
    _warnings(answer, namespace, receipt)
    return _xml(envelope)


def receipt_answer(receipt: Receipt, namespace: str) -> Response:
    envelope, body = _envelope(namespace)
    answer = etree.SubElement(body, f"{{{namespace}}}{RECEIPT_OPERATION}Response")
    _text(answer, namespace, "ReceiptId", receipt.receipt_id)
    _text(answer, namespace, "Institution", receipt.institution)
    _text(answer, namespace, "ReceivedAt", receipt.received_at.isoformat())
    _text(answer, namespace, "Status", _status(receipt))
    for notification_id in receipt.notification_ids:
        _text(answer, namespace, "NotificationId", notification_id)
    _warnings(answer, namespace, receipt)
    return _xml(envelope)


def read_envelope(raw: bytes, spec: TransportSpec, soap_action: str | None) -> etree._Element:
    """The body element of a SOAP 1.1 envelope whose SOAPAction, if any, names its operation."""
    root = parse_xml(raw)
    if etree.QName(root).localname == "Envelope" and etree.QName(root).namespace != SOAP_ENV:
        raise VersionMismatch("the gateway speaks SOAP 1.1 here; the envelope is another version")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise NotParseable("the body is not a SOAP envelope", code="format")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    parts = [] if body is None else list(body)
    if len(parts) != 1:
        raise NotParseable("the SOAP Body must hold exactly one element", code="format")
    operation = _operations(spec).get(parts[0].tag)
    if operation is None:
        raise ContractViolation(
            [Problem("", "format", "the body element is not an operation of this endpoint")]
        )
    action = (soap_action or "").strip().strip('"').strip()
    if action and action != f"{spec.namespace}/{operation}":
        raise ContractViolation(
            [Problem("SOAPAction", "conflict", "SOAPAction names another operation than the body")]
        )
    return parts[0]


def receipt_id(body: etree._Element, namespace: str) -> str:
    found = (body.findtext(f"{{{namespace}}}ReceiptId") or "").strip()
    if not found:
        path = f"/{PREFIX}:{RECEIPT_OPERATION}/{PREFIX}:ReceiptId"
        raise ContractViolation([Problem(path, "required", "ReceiptId is required")])
    return found


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`GET path?wsdl` (and `?xsd`), and `POST path` for the adapter's operations."""
    spec = adapter.transport
    if spec.kind != "soap11" or spec.wsdl is None:
        raise ValueError(f"{adapter.slug}: the SOAP 1.1 transport needs kind soap11 and a WSDL")
    wsdl = _published_wsdl(spec)
    xsd = spec.xsd.read_bytes() if spec.xsd is not None else None
    api = APIRouter()

    @api.get(spec.path, name=f"{adapter.slug}-wsdl", include_in_schema=False)
    async def describe(request: Request) -> Response:
        asked = {key.lower() for key in request.query_params}
        if "wsdl" in asked:
            here = str(request.url.replace(query="", fragment=""))
            return _xml(_located(wsdl, here))
        if "xsd" in asked and xsd is not None:
            return Response(xsd, media_type=CONTENT_TYPE)
        raise HTTPException(404, "ask for ?wsdl or ?xsd")

    @api.post(spec.path, name=f"{adapter.slug}-soap", include_in_schema=False)
    async def call(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            # `application/soap+xml` is SOAP 1.2: a 415 like any other type (mvr.md).
            caller, raw = await intake.read(request)
            async with intake.reporting_refusals():
                body = read_envelope(raw, spec, request.headers.get("soapaction"))
                wanted = receipt_id(body, spec.namespace) if _is_receipt(body, spec) else None
        except (UnsupportedMediaType, TooLarge) as error:
            return render_problem(error, request.url.path)
        except GatewayError as error:
            return fault(error, spec.namespace)
        try:
            if wanted is not None:
                return receipt_answer(await pipeline.receipt(caller, wanted), spec.namespace)
            receipt = await pipeline.submit(adapter, raw, caller, body)
        except GatewayError as error:
            return fault(error, spec.namespace)
        return submit_answer(receipt, spec.namespace, spec.submit_operation)

    return api


# -- helpers ------------------------------------------------------------------------------------


def _operations(spec: TransportSpec) -> dict[str, str]:
    """Body element (Clark notation) -> operation name."""
    return {
        f"{{{spec.namespace}}}{spec.submit_element}": spec.submit_operation,
        f"{{{spec.namespace}}}{RECEIPT_OPERATION}": RECEIPT_OPERATION,
    }


def _is_receipt(body: etree._Element, spec: TransportSpec) -> bool:
    return body.tag == f"{{{spec.namespace}}}{RECEIPT_OPERATION}"


def _envelope(namespace: str) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, PREFIX: namespace})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def _text(parent: etree._Element, namespace: str, name: str, value: str) -> None:
    etree.SubElement(parent, f"{{{namespace}}}{name}").text = value


def _warnings(parent: etree._Element, namespace: str, receipt: Receipt) -> None:
    for warning in receipt.warnings:
        node = etree.SubElement(parent, f"{{{namespace}}}Warning")
        _text(node, namespace, "Code", warning.code)
        _text(node, namespace, "Path", warning.path)


def _status(receipt: Receipt) -> str:
    return receipt.status.upper().replace("-", "_")


def _xml(
    root: etree._Element, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return Response(content, status_code=status, headers=headers, media_type=CONTENT_TYPE)


def _published_wsdl(spec: TransportSpec) -> etree._Element:
    """The WSDL with the adapter's XSD inlined in place of its import, so that one GET gives a
    client the whole contract."""
    assert spec.wsdl is not None
    wsdl = parse_xml(spec.wsdl.read_bytes())
    if spec.xsd is None:
        return wsdl
    schema = parse_xml(spec.xsd.read_bytes())
    for types in wsdl.iterfind(f"{{{WSDL}}}types"):
        for imported in list(types.iterfind(f"{{{XSD}}}schema/{{{XSD}}}import[@schemaLocation]")):
            if imported.get("schemaLocation") == spec.xsd.name:
                holder = imported.getparent()
                assert holder is not None
                types.replace(holder, copy.deepcopy(schema))
    return wsdl


def _located(wsdl: etree._Element, address: str) -> etree._Element:
    """A copy of the WSDL whose service address is the URL the client used."""
    served = copy.deepcopy(wsdl)
    for node in served.iterfind(f".//{{{WSDL}}}service/{{{WSDL}}}port/{{{WSDL_SOAP}}}address"):
        node.set("location", address)
    return served
