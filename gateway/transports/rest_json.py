"""The REST transport for institutions that send one JSON document per request (ОЗД and alike).

README §2 in order: the caller's certificate (401/403), the media type (415), the size (413,
before parsing), JSON syntax (400); the pipeline then checks duplicates and the contract. The
router is generic: it serves any adapter whose `transport.kind` is `json`.
"""

from __future__ import annotations

import codecs

import orjson
from fastapi import APIRouter, Request, Response

from gateway.adapter import Adapter
from gateway.errors import ContractViolation, GatewayError, NotParseable, Problem
from gateway.receipts import Receipt
from gateway.transports.common import Intake, Submitter
from gateway.transports.express import express
from gateway.transports.problem import render_problem

RECEIPTS_PATH = "/api/v1/receipts"


def parse_object(raw: bytes) -> dict[str, object]:
    """The body as a JSON object. Not UTF-8 or not JSON: 400 `not-json`; valid JSON that is not
    an object (an array, a number...) can be read but breaks every contract: 422 `format`."""
    try:
        # RFC 8259 §8.1: a parser may ignore a byte order mark, and senders' tools add one.
        document = orjson.loads(raw.removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise NotParseable("the body is not UTF-8 JSON", path="#") from exc
    if not isinstance(document, dict):
        raise ContractViolation([Problem("#", "format", "the body must be a JSON object")])
    return document


def accepted(receipt: Receipt) -> Response:
    """`202` with the receipt's answer and where to read it again."""
    body = receipt.to_json()
    answer = {key: body[key] for key in ("receiptId", "status", "notificationIds", "warnings")}
    return Response(
        orjson.dumps(answer),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"{RECEIPTS_PATH}/{receipt.receipt_id}"},
    )


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`POST adapter.transport.path`: one JSON document in, a receipt or a problem out."""
    spec = adapter.transport
    if spec.kind != "json":
        raise ValueError(f"{adapter.slug}: the JSON transport cannot serve {spec.kind!r}")
    api = APIRouter()

    @api.post(spec.path, status_code=202, name=f"{adapter.slug}-submit")
    @express
    async def submit(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            # RFC 8259 defines no charset for JSON: any `charset` parameter is accepted and the
            # body is read as UTF-8; an undecodable body is `not-json`.
            caller, raw = await intake.read(request)
            async with intake.reporting_refusals():
                document = parse_object(raw)
        except GatewayError as error:
            return render_problem(error, request.url.path)
        try:
            receipt = await pipeline.submit(adapter, raw, caller, document)
        except GatewayError as error:
            return render_problem(error, request.url.path)
        return accepted(receipt)

    return api
