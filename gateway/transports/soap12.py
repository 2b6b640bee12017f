"""The SOAP 1.2 transport: the WSDL, envelope and `action` checks, dispatch, answers and faults.

Generic over `adapter.transport` like the SOAP 1.1 transport, with what SOAP 1.2 changes: the
media type is `application/soap+xml` (its optional `action` parameter, when given, must be
`<namespace>/<Operation>` and agree with the body; `text/xml` is a 415), a SOAP 1.1 envelope gets
`env:VersionMismatch` with an `env:Upgrade` header, and faults carry their own HTTP status:
`env:Sender` 400 (every problem in `env:Detail/p:Problems`), `env:Receiver` 500 (retry later),
a certificate refusal 401/403. `env:Reason` is given in Bulgarian and in English.
README §2 in order as in `soap11`; every refusal made here is audited through `pipeline.refused`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from lxml import etree

from gateway.adapter import Adapter
from gateway.errors import (
    ClientError,
    ContractViolation,
    Forbidden,
    GatewayError,
    NotParseable,
    ReceiptNotFound,
    Unauthenticated,
)
from gateway.transports import soap_shared as shared
from gateway.transports.common import Submitter, media_type

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
XML_NS = "http://www.w3.org/XML/1998/namespace"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"
#: The prefix of the contract namespace in answers and in problem paths (README §9).
PREFIX = "p"
#: Where a wrong `action` parameter is reported (it is not an element of the message).
ACTION_PATH = "action"


class VersionMismatch(ClientError):
    """An envelope of another SOAP version (1.1, say): answered with `env:VersionMismatch`."""

    code = "format"
    title = "Not a SOAP 1.2 envelope"


# `env:Reason` in Bulgarian, by kind of error (the English text is the error's own message).
_REASONS_BG: tuple[tuple[type[GatewayError], str], ...] = (
    (VersionMismatch, "Пликът не е SOAP 1.2"),
    (Forbidden, "Този сертификат няма право да извиква тази услуга"),
    (Unauthenticated, "Необходим е клиентски сертификат на позната институция"),
    (ReceiptNotFound, "Няма разписка с този идентификатор за тази институция"),
    (ContractViolation, "Съобщението нарушава договора на институцията"),
    (NotParseable, "Съобщението не може да бъде прочетено"),
    (ClientError, "Съобщението е отхвърлено"),
    (GatewayError, "Шлюзът не може да приеме съобщението сега; изпратете го отново по-късно"),
)


def fault(error: GatewayError, namespace: str) -> Response:
    """The SOAP 1.2 fault for `error`, listing every problem in `env:Detail`."""
    if isinstance(error, VersionMismatch):
        # SOAP 1.2 part 2, §7.5.1.2: a VersionMismatch is answered with 500.
        kind, status = "VersionMismatch", 500
    elif isinstance(error, Forbidden | Unauthenticated):
        # README §1: a certificate refusal keeps its HTTP status, with a fault body.
        kind, status = "Sender", error.status
    elif isinstance(error, ClientError):
        kind, status = "Sender", 400
    else:
        kind, status = "Receiver", 500
    envelope, body = _envelope(namespace, upgrade=isinstance(error, VersionMismatch))
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    code = etree.SubElement(node, f"{{{SOAP_ENV}}}Code")
    etree.SubElement(code, f"{{{SOAP_ENV}}}Value").text = f"env:{kind}"
    reason = etree.SubElement(node, f"{{{SOAP_ENV}}}Reason")
    bulgarian = next(text for cls, text in _REASONS_BG if isinstance(error, cls))
    for lang, text in (("bg", bulgarian), ("en", error.message)):
        etree.SubElement(reason, f"{{{SOAP_ENV}}}Text", {f"{{{XML_NS}}}lang": lang}).text = text
    shared.add_problems(etree.SubElement(node, f"{{{SOAP_ENV}}}Detail"), namespace, error)
    return shared.fault_response(envelope, CONTENT_TYPE, status, error)


def action_parameter(request: Request) -> str:
    """The `action` parameter of the media type; "" when absent."""
    _, params = media_type(request.headers.get("content-type"))
    return params.get("action", "").strip()


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`GET path?wsdl` (and `?xsd`), and `POST path` for the adapter's operations."""
    return shared.router(adapter, pipeline, VERSION)


# -- helpers ------------------------------------------------------------------------------------


def _envelope(namespace: str, *, upgrade: bool = False) -> tuple[etree._Element, etree._Element]:
    """An `env:Envelope` (with the `env:Upgrade` header naming SOAP 1.2 when asked) and its
    `env:Body`."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"env": SOAP_ENV, PREFIX: namespace})
    if upgrade:
        header = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
        supported = etree.SubElement(
            etree.SubElement(header, f"{{{SOAP_ENV}}}Upgrade"), f"{{{SOAP_ENV}}}SupportedEnvelope"
        )
        supported.set("qname", "env:Envelope")
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


VERSION = shared.Version(
    name="1.2",
    kind="soap12",
    envelope_ns=SOAP_ENV,
    content_type=CONTENT_TYPE,
    prefix=PREFIX,
    mismatch=VersionMismatch,
    action_path=ACTION_PATH,
    action=action_parameter,
    envelope=_envelope,
    fault=fault,
)
