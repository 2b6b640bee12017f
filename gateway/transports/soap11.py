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

from gateway.adapter import Adapter
from gateway.errors import ClientError, Forbidden, GatewayError, Unauthenticated
from gateway.transports import soap_shared as shared
from gateway.transports.common import Submitter

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPE = "text/xml; charset=utf-8"
#: The prefix of the contract namespace in answers and in problem paths (README §9).
PREFIX = "m"


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
    # A certificate refusal keeps its HTTP status (README §1: 403 with a fault body).
    status = error.status if isinstance(error, Forbidden | Unauthenticated) else 500
    return shared.fault_response(envelope, CONTENT_TYPE, status, error)


def soap_action(request: Request) -> str:
    """The SOAPAction header, unquoted; "" when absent."""
    return (request.headers.get("soapaction") or "").strip().strip('"').strip()


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`GET path?wsdl` (and `?xsd`), and `POST path` for the adapter's operations."""
    return shared.router(adapter, pipeline, VERSION)


# -- helpers ------------------------------------------------------------------------------------


def _envelope(namespace: str) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, PREFIX: namespace})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


VERSION = shared.Version(
    name="1.1",
    kind="soap11",
    envelope_ns=SOAP_ENV,
    content_type=CONTENT_TYPE,
    prefix=PREFIX,
    mismatch=VersionMismatch,
    action_path="SOAPAction",
    action=soap_action,
    envelope=_envelope,
    fault=fault,
)
