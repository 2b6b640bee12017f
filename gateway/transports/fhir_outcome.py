"""What the `/fhir` surface answers: an OperationOutcome for every error, a response message else.

Each problem of an error is one issue: `expression` its FHIRPath (none for problems not located in
the body), `details.coding` its README §9 problem code, `code` an issue type from the contract's
list (structure, required, value, code-invalid, not-supported, business-rule).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import Response

from gateway.codes import code_system
from gateway.errors import ClientError, ContractViolation, GatewayError, NotParseable, Problem
from gateway.methodology import NAMESPACE
from gateway.receipts import Receipt

FHIR_JSON = "application/fhir+json"
GATEWAY_STATUS = "https://nhis.bg/fhir/CodeSystem/gateway-status"
#: README §9 problem codes and §10 warning codes, in `details.coding`.
PROBLEM_SYSTEM = code_system("problem")
WARNING_SYSTEM = code_system("data-quality-warning")
# An unknown event is the one closed-list problem FHIR messaging calls `not-supported`.
_EVENT = "Bundle.entry[0].resource.event"
_ISSUE_TYPES = {
    "required": "required",
    "format": "value",
    "date": "value",
    "check-digit": "value",
    "closed-list": "code-invalid",
    "conflict": "business-rule",
    "not-json": "structure",
    "media-type": "not-supported",
}


class NotAMessage(ClientError):
    """400: JSON, but not an R4 Bundle of type `message` whose first entry is a MessageHeader."""

    status = 400
    code = "format"
    title = "Not an R4 message Bundle"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the Bundle's structure", problems)


class NotSupported(ContractViolation):
    """422 for a request the gateway understands but does not offer (`?async=true`)."""


class NotOffered(ClientError):
    """Another path or method under /fhir: README §9 has no problem code for it, so its issue
    carries none, only the type `not-supported`."""

    code = "format"


class NoSuchEndpoint(NotOffered):
    status = 404
    title = "No such FHIR endpoint"


class MethodNotAllowed(NotOffered):
    status = 405
    title = "Method not allowed"


def issue_type(error: GatewayError, problem: Problem) -> str:
    if isinstance(error, NotAMessage | NotParseable):
        return "structure"
    if isinstance(error, NotSupported | NotOffered) or (
        problem.code == "closed-list" and problem.path.startswith(_EVENT)
    ):
        return "not-supported"
    # Refusals that are no fault of the content (401, 403, 413, 503) are business rules.
    return _ISSUE_TYPES.get(problem.code, "business-rule")


def fhir_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=FHIR_JSON)


def operation_outcome(error: GatewayError, headers: dict[str, str] | None = None) -> Response:
    """The OperationOutcome for `error`, with `Retry-After` when the caller should retry."""
    issues = []
    for problem in error.problems or [Problem("", error.code, error.message)]:
        details: dict[str, Any] = {"text": problem.message}
        if not isinstance(error, NotOffered):
            details["coding"] = [{"system": PROBLEM_SYSTEM, "code": problem.code}]
        issue = {"severity": "error", "code": issue_type(error, problem), "details": details}
        if problem.path:
            issue["expression"] = [problem.path]
        issues.append(issue)
    sent = dict(headers or {})
    if error.retryable:
        sent["Retry-After"] = str(getattr(error, "retry_after_seconds", 30))
    body = {"resourceType": "OperationOutcome", "issue": issues}
    return fhir_json(body, error.status, sent)


def response_message(receipt: Receipt, request: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """health.md: a response message Bundle whose MessageHeader answers the request's and whose
    OperationOutcome carries the receipt's status, its id and its warnings. Its ids derive from
    the receipt and the status, so the same answer is rebuilt the same way."""
    first = request["entry"][0]["resource"]
    seed = f"{receipt.receipt_id}|{receipt.status}"
    bundle_id, header_id, outcome_id = (
        str(uuid.uuid5(NAMESPACE, f"fhir-response-{part}|{seed}"))
        for part in ("bundle", "header", "outcome")
    )
    issues: list[dict[str, Any]] = [
        {
            "severity": "information",
            "code": "informational",
            "details": {"coding": [{"system": GATEWAY_STATUS, "code": receipt.status}]},
            "diagnostics": receipt.receipt_id,
        }
    ]
    for warning in receipt.warnings:
        issue: dict[str, Any] = {
            "severity": "warning",
            "code": "informational",
            "details": {"coding": [{"system": WARNING_SYSTEM, "code": warning.code}]},
        }
        if warning.path:
            issue["expression"] = [warning.path]
        issues.append(issue)
    # The request's own event (R4: eventCoding or eventUri), whichever it used.
    event = {k: first[k] for k in ("eventCoding", "eventUri") if first.get(k) is not None}
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        **event,
        "source": {"endpoint": endpoint},
        "response": {
            "identifier": first.get("id"),
            "code": "ok",
            "details": {"reference": f"urn:uuid:{outcome_id}"},
        },
    }
    sender = first.get("source", {}).get("endpoint")
    if isinstance(sender, str):
        header["destination"] = [{"endpoint": sender}]
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "message",
        "timestamp": receipt.received_at.isoformat(),
        "entry": [
            {"fullUrl": f"urn:uuid:{header_id}", "resource": header},
            {
                "fullUrl": f"urn:uuid:{outcome_id}",
                "resource": {"resourceType": "OperationOutcome", "id": outcome_id, "issue": issues},
            },
        ],
    }
