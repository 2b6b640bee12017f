"""What the SOAP 1.1 and SOAP 1.2 transports share: a contract's operations and action check, the
answer and `Problems` bodies, and the published WSDL with its schema and address.

Everything here is independent of the envelope's version: callers hand in the element to fill.
"""

from __future__ import annotations

import copy

from fastapi import APIRouter, HTTPException, Request, Response
from lxml import etree

from gateway.adapter import Adapter, TransportSpec
from gateway.errors import ContractViolation, GatewayError, Problem
from gateway.receipts import Receipt
from gateway.transports.xml import parse_xml

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD = "http://www.w3.org/2001/XMLSchema"
RECEIPT_OPERATION = "GetReceiptStatus"


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
