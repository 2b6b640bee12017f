"""What the SOAP 1.1 and SOAP 1.2 transports share: the endpoint, the envelope's reading, a
contract's operations and action check, the answers and `Problems`, and the published WSDL.

What does depend on the envelope's version (its namespace, media type, faults, where the action
is read) each transport hands in as a `Version`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request, Response
from lxml import etree

from gateway.adapter import Adapter, TransportSpec
from gateway.errors import (
    ClientError,
    ContractViolation,
    GatewayError,
    NotParseable,
    Problem,
    TooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.receipts import Receipt
from gateway.transports.common import Intake, Submitter
from gateway.transports.express import express
from gateway.transports.problem import render_problem
from gateway.transports.xml import parse_xml

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD = "http://www.w3.org/2001/XMLSchema"
RECEIPT_OPERATION = "GetReceiptStatus"
DEFAULT_RETRY = Unavailable.retry_after_seconds


@dataclass(frozen=True, slots=True)
class Version:
    """What one SOAP version's transport hands the shared endpoint."""

    name: str  # "1.1", as refusals of another version's envelope say it
    kind: str  # the `TransportSpec.kind` it serves
    envelope_ns: str
    content_type: str
    prefix: str  # of the contract namespace in answers and in problem paths (README §9)
    mismatch: type[ClientError]  # the refusal of another version's envelope
    action_path: str  # where a wrong action is reported
    action: Callable[[Request], str]  # the action the request names, "" when none
    envelope: Callable[[str], tuple[etree._Element, etree._Element]]  # an envelope and its body
    fault: Callable[[GatewayError, str], Response]


def router(adapter: Adapter, pipeline: Submitter, version: Version) -> APIRouter:
    """`GET path?wsdl` (and `?xsd`), and `POST path` for the adapter's operations."""
    spec = adapter.transport
    if spec.kind != version.kind or spec.wsdl is None:
        raise ValueError(
            f"{adapter.slug}: the SOAP {version.name} transport needs kind {version.kind} "
            "and a WSDL"
        )
    api = APIRouter()
    add_description(api, adapter, version.content_type)

    @api.post(spec.path, name=f"{adapter.slug}-soap", include_in_schema=False)
    @express
    async def call(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            # The other SOAP version's media type is a 415 like any other type.
            caller, raw = await intake.read(request)
            async with intake.reporting_refusals():
                body = read_envelope(raw, spec, version.action(request), version)
                wanted = (
                    receipt_id(body, spec.namespace, version.prefix)
                    if is_receipt(body, spec)
                    else None
                )
        except (UnsupportedMediaType, TooLarge) as error:
            return render_problem(error, request.url.path)
        except GatewayError as error:
            return version.fault(error, spec.namespace)
        try:
            if wanted is not None:
                receipt = await pipeline.receipt(caller, wanted)
                return receipt_answer(receipt, spec.namespace, version)
            receipt = await pipeline.submit(adapter, raw, caller, body)
        except GatewayError as error:
            return version.fault(error, spec.namespace)
        return submit_answer(receipt, spec.namespace, spec.submit_operation, version)

    return api


def read_envelope(raw: bytes, spec: TransportSpec, action: str, version: Version) -> etree._Element:
    """The body element of an envelope of `version` whose action, if any, names its operation."""
    root = parse_xml(raw)
    envelope_ns = version.envelope_ns
    if etree.QName(root).localname == "Envelope" and etree.QName(root).namespace != envelope_ns:
        raise version.mismatch(
            f"the gateway speaks SOAP {version.name} here; the envelope is another version"
        )
    if root.tag != f"{{{envelope_ns}}}Envelope":
        raise NotParseable("the body is not a SOAP envelope", code="format")
    body = root.find(f"{{{envelope_ns}}}Body")
    parts = [] if body is None else list(body)
    if len(parts) != 1:
        raise NotParseable("the SOAP Body must hold exactly one element", code="format")
    operation = operation_of(parts[0], spec)
    check_action(action, spec, operation, version.action_path)
    return parts[0]


def submit_answer(receipt: Receipt, namespace: str, operation: str, version: Version) -> Response:
    envelope, body = version.envelope(namespace)
    add_submit_answer(body, namespace, operation, receipt)
    return xml_response(envelope, version.content_type)


def receipt_answer(receipt: Receipt, namespace: str, version: Version) -> Response:
    envelope, body = version.envelope(namespace)
    add_receipt_answer(body, namespace, receipt)
    return xml_response(envelope, version.content_type)


def fault_response(
    envelope: etree._Element, content_type: str, status: int, error: GatewayError
) -> Response:
    """A fault envelope; one the sender should retry says when (`Retry-After`)."""
    retry = getattr(error, "retry_after_seconds", DEFAULT_RETRY)
    headers = {"Retry-After": str(retry)} if error.retryable else None
    return xml_response(envelope, content_type, status, headers)


def xml_response(
    root: etree._Element,
    content_type: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(serialise(root), status_code=status, headers=headers, media_type=content_type)


def operations(spec: TransportSpec) -> dict[str, str]:
    """Body element (Clark notation) -> operation name."""
    return {
        f"{{{spec.namespace}}}{spec.submit_element}": spec.submit_operation,
        f"{{{spec.namespace}}}{RECEIPT_OPERATION}": RECEIPT_OPERATION,
    }


def operation_of(body: etree._Element, spec: TransportSpec) -> str:
    """The operation the body element calls, or a `format` problem when it calls none."""
    operation = operations(spec).get(body.tag)
    if operation is None:
        raise ContractViolation(
            [Problem("", "format", "the body element is not an operation of this endpoint")]
        )
    return operation


def check_action(action: str, spec: TransportSpec, operation: str, path: str) -> None:
    """An action (SOAPAction, or SOAP 1.2's `action` parameter), when given, must be
    `<namespace>/<operation>` of the body's operation."""
    if action and action != f"{spec.namespace}/{operation}":
        raise ContractViolation(
            [Problem(path, "conflict", f"{path} names another operation than the body")]
        )


def is_receipt(body: etree._Element, spec: TransportSpec) -> bool:
    return body.tag == f"{{{spec.namespace}}}{RECEIPT_OPERATION}"


def receipt_id(body: etree._Element, namespace: str, prefix: str) -> str:
    found = (body.findtext(f"{{{namespace}}}ReceiptId") or "").strip()
    if not found:
        path = f"/{prefix}:{RECEIPT_OPERATION}/{prefix}:ReceiptId"
        raise ContractViolation([Problem(path, "required", "ReceiptId is required")])
    return found


def add_problems(parent: etree._Element, namespace: str, error: GatewayError) -> None:
    """`<Problems>` listing every problem of `error` (one made of the error's own code when it
    has none, so a client can always read `Problem/Code`)."""
    problems = etree.SubElement(parent, f"{{{namespace}}}Problems")
    for problem in error.problems or [Problem("", error.code, error.message)]:
        entry = etree.SubElement(problems, f"{{{namespace}}}Problem")
        text(entry, namespace, "Path", problem.path)
        text(entry, namespace, "Code", problem.code)
        text(entry, namespace, "Message", problem.message)


def add_submit_answer(
    body: etree._Element, namespace: str, operation: str, receipt: Receipt
) -> None:
    answer = etree.SubElement(body, f"{{{namespace}}}{operation}Response")
    text(answer, namespace, "ReceiptId", receipt.receipt_id)
    text(answer, namespace, "Status", _status(receipt))
    text(answer, namespace, "NotificationCount", str(receipt.notification_count))
    _warnings(answer, namespace, receipt)


def add_receipt_answer(body: etree._Element, namespace: str, receipt: Receipt) -> None:
    answer = etree.SubElement(body, f"{{{namespace}}}{RECEIPT_OPERATION}Response")
    text(answer, namespace, "ReceiptId", receipt.receipt_id)
    text(answer, namespace, "Institution", receipt.institution)
    text(answer, namespace, "ReceivedAt", receipt.received_at.isoformat())
    text(answer, namespace, "Status", _status(receipt))
    for notification_id in receipt.notification_ids:
        text(answer, namespace, "NotificationId", notification_id)
    _warnings(answer, namespace, receipt)


def text(parent: etree._Element, namespace: str, name: str, value: str) -> None:
    etree.SubElement(parent, f"{{{namespace}}}{name}").text = value


def serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def add_description(api: APIRouter, adapter: Adapter, media_type: str) -> None:
    """`GET path?wsdl` (the WSDL with its schema inlined and the address that was asked) and
    `GET path?xsd`, served as `media_type`."""
    spec = adapter.transport
    wsdl = _published_wsdl(spec)
    xsd = spec.xsd.read_bytes() if spec.xsd is not None else None

    @api.get(spec.path, name=f"{adapter.slug}-wsdl", include_in_schema=False)
    async def describe(request: Request) -> Response:
        asked = {key.lower() for key in request.query_params}
        if "wsdl" in asked:
            here = str(request.url.replace(query="", fragment=""))
            return Response(serialise(_located(wsdl, here)), media_type=media_type)
        if "xsd" in asked and xsd is not None:
            return Response(xsd, media_type=media_type)
        raise HTTPException(404, "ask for ?wsdl or ?xsd")


# -- helpers ------------------------------------------------------------------------------------


def _warnings(parent: etree._Element, namespace: str, receipt: Receipt) -> None:
    for warning in receipt.warnings:
        node = etree.SubElement(parent, f"{{{namespace}}}Warning")
        text(node, namespace, "Code", warning.code)
        text(node, namespace, "Path", warning.path)


def _status(receipt: Receipt) -> str:
    return receipt.status.upper().replace("-", "_")


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
    """A copy of the WSDL whose service address (SOAP 1.1 or 1.2 binding) is the URL the client
    used."""
    served = copy.deepcopy(wsdl)
    for binding in (WSDL_SOAP, WSDL_SOAP12):
        for node in served.iterfind(f".//{{{WSDL}}}service/{{{WSDL}}}port/{{{binding}}}address"):
            node.set("location", address)
    return served
