"""The SOAP 1.1 transport: the WSDL, envelope and SOAPAction checks, dispatch, answers and faults.

Generic over `adapter.transport`: the body namespace, the submit element and operation, and the
published WSDL/XSD are all the adapter's; `GetReceiptStatus` is common to every SOAP contract.
README §2 in order: the certificate (a fault with 403), the media type (415) and the size (413,
before parsing) as plain problem+json, then the envelope; every refusal made here is audited
through `pipeline.refused`. Faults answer HTTP 500 (SOAP 1.1 §6.2) with every problem in
`detail/m:Problems`; `soap:Server` means the sender should retry later. What does not depend on
the envelope's version (answers, Problems, WSDL) is in `soap_shared`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from lxml import etree

from gateway.adapter import Adapter, TransportSpec
from gateway.errors import (
    ClientError,
    Forbidden,
    GatewayError,
    NotParseable,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.receipts import Receipt
from gateway.transports import soap_shared as shared
from gateway.transports.common import Intake, Submitter
from gateway.transports.problem import render_problem
from gateway.transports.xml import parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPE = "text/xml; charset=utf-8"
RECEIPT_OPERATION = shared.RECEIPT_OPERATION
#: The prefix of the contract namespace in answers and in problem paths (README §9).
PREFIX = "m"
DEFAULT_RETRY = Unavailable.retry_after_seconds


class VersionMismatch(ClientError):
    """An envelope of another SOAP version (1.2, say): answered with `soap:VersionMismatch`."""

    code = "format"
    title = "Not a SOAP 1.1 envelope"


def fault(error: GatewayError, namespace: str) -> Response:
    """The SOAP 1.1 fault for `error`, listing every problem in `detail`."""
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
    shared.add_problems(etree.SubElement(node, "detail"), namespace, error)
    headers = {"Retry-After": str(getattr(error, "retry_after_seconds", DEFAULT_RETRY))}
    # A certificate refusal keeps its HTTP status (README §1: 403 with a fault body).
    status = error.status if isinstance(error, Forbidden | Unauthenticated) else 500
    return _xml(envelope, status, headers if error.retryable else None)


def submit_answer(receipt: Receipt, namespace: str, operation: str) -> Response:
    envelope, body = _envelope(namespace)
    shared.add_submit_answer(body, namespace, operation, receipt)
    return _xml(envelope)


def receipt_answer(receipt: Receipt, namespace: str) -> Response:
    envelope, body = _envelope(namespace)
    shared.add_receipt_answer(body, namespace, receipt)
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
    operation = shared.operation_of(parts[0], spec)
    action = (soap_action or "").strip().strip('"').strip()
    shared.check_action(action, spec, operation, "SOAPAction")
    return parts[0]


def receipt_id(body: etree._Element, namespace: str) -> str:
    return shared.receipt_id(body, namespace, PREFIX)


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`GET path?wsdl` (and `?xsd`), and `POST path` for the adapter's operations."""
    spec = adapter.transport
    if spec.kind != "soap11" or spec.wsdl is None:
        raise ValueError(f"{adapter.slug}: the SOAP 1.1 transport needs kind soap11 and a WSDL")
    api = APIRouter()
    shared.add_description(api, adapter, CONTENT_TYPE)

    @api.post(spec.path, name=f"{adapter.slug}-soap", include_in_schema=False)
    async def call(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            # `application/soap+xml` is SOAP 1.2: a 415 like any other type (mvr.md).
            caller, raw = await intake.read(request)
            async with intake.reporting_refusals():
                body = read_envelope(raw, spec, request.headers.get("soapaction"))
                wanted = receipt_id(body, spec.namespace) if shared.is_receipt(body, spec) else None
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


def _envelope(namespace: str) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, PREFIX: namespace})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def _xml(
    root: etree._Element, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        shared.serialise(root), status_code=status, headers=headers, media_type=CONTENT_TYPE
    )
