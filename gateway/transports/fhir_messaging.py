"""FHIR R4 messaging: `POST /fhir/$process-message` for an adapter of kind `fhir`.

README §2 in order: the certificate (401/403), the media type (415), the size (413, before
parsing), `?async=true` (422 not-supported), JSON syntax (400), then the structure (400: an R4
Bundle of type `message` whose first entry is a MessageHeader, validated once with
`fhir.resources.R4B`); the pipeline then checks duplicates and the contract. Every answer under
`/fhir` is FHIR: the app-wide problem+json handlers never see this surface, because the route
renders every error itself (unexpected ones as 503) and a catch-all route answers any other
`/fhir` path or method (404/405) before the framework's own refusal would.
"""

from __future__ import annotations

import codecs
import logging
import traceback
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from gateway.adapter import Adapter
from gateway.errors import GatewayError, NotParseable, Problem, Unavailable
from gateway.transports.common import Intake, Submitter
from gateway.transports.express import express
from gateway.transports.fhir_outcome import (
    MethodNotAllowed,
    NoSuchEndpoint,
    NotAMessage,
    NotSupported,
    fhir_json,
    operation_outcome,
    response_message,
)

logger = logging.getLogger(__name__)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_MISSING = frozenset({"missing", "model_field_validation.missing"})


def _fhirpath(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as FHIRPath from the Bundle (`Bundle.entry[2].resource.birthDate`)."""
    path = "Bundle"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():  # skips pydantic's own steps (`root`, `function-after[...]`)
            path += "" if part == "root" else f".{part}"
    return path


def _structure(document: object) -> list[Problem]:
    """What makes the body a message Bundle at all, checked before the models see it."""
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        return [Problem("Bundle.resourceType", "format", "the body must be a FHIR Bundle")]
    problems: list[Problem] = []
    if document.get("type") != "message":
        problems.append(Problem("Bundle.type", "format", "Bundle.type must be message"))
    entries = document.get("entry")
    entries = entries if isinstance(entries, list) else []
    first = entries[0] if entries and isinstance(entries[0], dict) else {}
    resource = first.get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "MessageHeader":
        problems.append(
            Problem(
                "Bundle.entry[0].resource", "required", "the first entry must be a MessageHeader"
            )
        )
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if isinstance(kind, str):
            try:
                get_fhir_model_class(kind)
            except (KeyError, ValueError):
                path = f"Bundle.entry[{i}].resource.resourceType"
                problems.append(Problem(path, "format", "not an R4 resource type"))
    return problems


def parse_message(raw: bytes) -> dict[str, Any]:
    """The body as a validated R4 message Bundle (JSON, as sent); unknown elements are ignored
    (README §3), every other problem the R4 models find is listed."""
    try:
        document = orjson.loads(raw.removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise NotParseable("the body is not UTF-8 JSON") from exc
    problems = _structure(document)
    if problems:
        raise NotAMessage(problems)
    try:
        Bundle.model_validate(document)
    except KeyError as exc:  # an unknown resourceType deeper down (`contained`)
        raise NotAMessage([Problem("Bundle", "format", "a resource of no R4 type")]) from exc
    except ValidationError as exc:
        for error in exc.errors():
            kind = error["type"]
            if kind == "extra_forbidden":
                continue
            # Only pydantic's own wording: a validator's message could quote the value.
            missing = kind in _MISSING
            message = "required by FHIR R4" if missing else f"not valid FHIR R4 ({kind})"
            code = "required" if missing else "format"
            problems.append(Problem(_fhirpath(error["loc"]), code, message))
        if problems:
            raise NotAMessage(problems) from exc
    return dict(document)


def _asks_async(request: Request) -> bool:
    return any(v.strip().lower() == "true" for v in request.query_params.getlist("async"))


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`POST adapter.transport.path`, and FHIR refusals for anything else under `/fhir`."""
    spec = adapter.transport
    if spec.kind != "fhir" or not spec.path.startswith("/fhir/"):
        raise ValueError(f"{adapter.slug}: the FHIR transport serves kind fhir under /fhir/")
    api = APIRouter()

    async def process(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            caller, raw = await intake.read(request)
            async with intake.reporting_refusals():
                if _asks_async(request):
                    message = "asynchronous processing (?async=true) is not supported"
                    raise NotSupported([Problem("", "format", message)])
                document = parse_message(raw)
            receipt = await pipeline.submit(adapter, raw, caller, document)
        except GatewayError as error:
            return operation_outcome(error)
        endpoint = f"{str(request.base_url).rstrip('/')}/fhir"
        return fhir_json(response_message(receipt, document, endpoint))

    @api.post(spec.path, name=f"{adapter.slug}-process-message", include_in_schema=False)
    @express
    async def submit(request: Request) -> Response:
        try:
            return await process(request)
        except Exception as exc:
            # As problem.UnexpectedErrors: the type and the frames, never the message.
            logger.error(
                "unexpected %s on POST %s\n%s",
                type(exc).__qualname__,
                spec.path,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            return operation_outcome(Unavailable("the gateway cannot take the message now"))

    return api


def refusals_router(paths: Sequence[str]) -> APIRouter:
    """Everything else under `/fhir` answers an OperationOutcome (404, or 405 on a messaging
    path). Included once, after every FHIR institution's router, so that no institution's
    catch-all hides another's endpoint."""
    api = APIRouter()
    where = " or ".join(f"POST {p}" for p in paths)

    @api.api_route("/fhir", methods=_METHODS, include_in_schema=False)
    @api.api_route("/fhir/{rest:path}", methods=_METHODS, include_in_schema=False)
    async def elsewhere(request: Request) -> Response:
        if request.url.path in paths:
            return operation_outcome(
                MethodNotAllowed(f"{request.url.path} answers POST only"), {"Allow": "POST"}
            )
        return operation_outcome(NoSuchEndpoint(f"messages go to {where}"))

    return api
