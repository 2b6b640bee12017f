"""НЗИС over FHIR R4 messaging: the transport in process with a fake pipeline, every answer FHIR."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from adapters.health import HealthAdapter
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
from gateway.receipts import Receipt
from gateway.transports import fhir_messaging, receipts
from gateway.transports.fhir_outcome import (
    GATEWAY_STATUS,
    PROBLEM_SYSTEM,
    WARNING_SYSTEM,
    NotAMessage,
    NotSupported,
)
from tests.fakes import FakePipeline, caller_for, request, transport_app

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "health" / "samples"
PATH = "/fhir/$process-message"
FHIR = {"content-type": "application/fhir+json"}
MESSAGE_ID = "8398789f-f3de-4ad1-995b-787440df07f6"
RECEIPT = Receipt(
    receipt_id="r-1",
    institution="health",
    received_at=datetime(2026, 3, 11, 8, 0, tzinfo=UTC),
    status="accepted",
    notification_ids=("n-1",),
    warnings=(DataWarning("sex-mismatch", "Bundle.entry[2].resource.gender", 0),),
)


def sample_bytes(name: str = "health-message.json") -> bytes:
    return (SAMPLES / name).read_bytes()


def call(
    pipeline: FakePipeline,
    method: str = "POST",
    path: str = PATH,
    *,
    caller: str | None = "health",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    # As in the gateway: /fhir must not answer problem+json, error handlers or not.
    app = transport_app(
        fhir_messaging.router(HealthAdapter(), pipeline),
        fhir_messaging.refusals_router([PATH]),
        receipts.router(pipeline),
    )
    sent = FHIR if headers is None else headers
    return request(
        app, method, path, caller=caller, content=content, headers=sent,
        raise_app_exceptions=False, base_url="https://gw",
    )  # fmt: skip


def outcome(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome answer, checked with the R4B model."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    OperationOutcome.model_validate(body)
    for issue in body["issue"]:
        assert issue["severity"] == "error"
        assert issue["code"] in {
            "structure", "required", "value", "code-invalid", "not-supported", "business-rule"
        }  # fmt: skip
    issues: list[dict[str, Any]] = body["issue"]
    return issues


def summary(issues: list[dict[str, Any]]) -> list[tuple[str | None, str, str]]:
    """(expression, issue type, problem code) of each issue."""
    found = []
    for issue in issues:
        [coding] = issue["details"]["coding"]
        assert coding["system"] == PROBLEM_SYSTEM
        found.append(((issue.get("expression") or [None])[0], issue["code"], coding["code"]))
    return found


# -- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["accepted", "duplicate", "out-of-scope"])
def test_the_answer_is_a_response_message(status: str) -> None:
    pipeline = FakePipeline(dataclasses.replace(RECEIPT, status=status))
    response = call(pipeline, content=sample_bytes())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "message"
    header, result = (e["resource"] for e in body["entry"])
    assert header["resourceType"] == "MessageHeader"
    assert header["eventCoding"] == {
        "system": "https://nhis.bg/fhir/CodeSystem/events",
        "code": "suspected-maltreatment",
    }
    assert header["source"]["endpoint"] == "https://gw/fhir"
    assert header["destination"] == [{"endpoint": "https://nhis.bg/fhir"}]
    assert header["response"]["identifier"] == MESSAGE_ID
    assert header["response"]["code"] == "ok"
    assert header["response"]["details"]["reference"] == body["entry"][1]["fullUrl"]
    assert result["resourceType"] == "OperationOutcome"
    info, warning = result["issue"]
    assert info["severity"] == "information" and info["diagnostics"] == "r-1"
    assert info["details"]["coding"] == [{"system": GATEWAY_STATUS, "code": status}]
    assert warning["severity"] == "warning"
    assert warning["details"]["coding"] == [{"system": WARNING_SYSTEM, "code": "sex-mismatch"}]
    assert warning["expression"] == ["Bundle.entry[2].resource.gender"]
    ((slug, raw, caller, document),) = pipeline.submitted
    assert (slug, raw, caller) == ("health", sample_bytes(), caller_for("health"))
    assert document == orjson.loads(sample_bytes())


def test_the_same_receipt_rebuilds_the_same_answer() -> None:
    first = call(FakePipeline(RECEIPT), content=sample_bytes()).json()
    again = call(FakePipeline(RECEIPT), content=sample_bytes()).json()
    assert first == again
    duplicate = call(FakePipeline(RECEIPT.as_duplicate()), content=sample_bytes()).json()
    assert duplicate["entry"][1]["resource"]["issue"][0]["diagnostics"] == "r-1"
    assert duplicate["id"] != first["id"]


@pytest.mark.parametrize(
    "content_type",
    ["application/fhir+json", "application/json", "Application/FHIR+JSON; charset=UTF-8",
     'application/fhir+json; fhirVersion=4.0; charset="utf-8"'],
)  # fmt: skip
def test_fhir_and_plain_json_are_accepted(content_type: str) -> None:
    response = call(
        FakePipeline(RECEIPT), content=sample_bytes(), headers={"content-type": content_type}
    )
    assert response.status_code == 200


def test_async_false_is_processed_and_unknown_elements_pass() -> None:
    document = json.loads(sample_bytes())
    document["entry"][2]["resource"]["futureElement"] = {"x": 1}
    body = json.dumps(document).encode()
    response = call(FakePipeline(RECEIPT), path=PATH + "?async=false", content=body)
    assert response.status_code == 200


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "error", "code"),
    [
        ({"caller": None}, 401, Unauthenticated, "forbidden"),
        ({"caller": "mvr"}, 403, Forbidden, "forbidden"),
        ({"caller": "mvr", "headers": {"content-type": "text/plain"}}, 403, Forbidden, "forbidden"),
        ({"headers": {"content-type": "application/fhir+xml"}}, 415, UnsupportedMediaType,
         "media-type"),
        ({"headers": {"content-type": "application/xml"}}, 415, UnsupportedMediaType, "media-type"),
        ({"headers": {}}, 415, UnsupportedMediaType, "media-type"),
        ({"path": PATH + "?async=true"}, 422, NotSupported, "format"),
        ({"path": PATH + "?async=TRUE"}, 422, NotSupported, "format"),
    ],
)  # fmt: skip
def test_refusals_are_operation_outcomes_and_audited(
    kwargs: dict[str, Any], status: int, error: type[Exception], code: str
) -> None:
    pipeline = FakePipeline(RECEIPT)
    issues = outcome(call(pipeline, content=sample_bytes(), **kwargs), status)
    [(expression, kind, problem)] = summary(issues)
    assert expression is None and problem == code
    assert kind == {415: "not-supported", 422: "not-supported"}.get(status, "business-rule")
    assert pipeline.submitted == []
    ((_, slug, refused, _),) = pipeline.refusals
    assert slug == "health" and isinstance(refused, error)


def test_too_large_is_413_before_parsing() -> None:
    pipeline = FakePipeline(RECEIPT)
    big = b"{" + b" " * (5 << 20) + b"}"
    assert summary(outcome(call(pipeline, content=big), 413)) == [
        (None, "business-rule", "too-large")
    ]
    assert isinstance(pipeline.refusals[0][2], TooLarge)
    padded = sample_bytes().rstrip() + b" " * ((5 << 20) - len(sample_bytes().rstrip()))
    assert call(FakePipeline(RECEIPT), content=padded).status_code == 200


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe{}", '{"a": "é"}'.encode("latin-1")])
def test_not_json_is_400(body: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    assert summary(outcome(call(pipeline, content=body), 400)) == [(None, "structure", "not-json")]
    assert isinstance(pipeline.refusals[0][2], NotParseable) and pipeline.submitted == []


def mutated(edit: Any) -> bytes:
    document = json.loads(sample_bytes())
    edit(document)
    return json.dumps(document).encode()


STRUCTURE = [
    ("array", lambda d: d.clear(), [("Bundle.resourceType", "format")]),
    ("patient", lambda d: d.update(resourceType="Patient"), [("Bundle.resourceType", "format")]),
    ("collection", lambda d: d.update(type="collection"), [("Bundle.type", "format")]),
    ("no entries", lambda d: d.pop("entry"), [("Bundle.entry[0].resource", "required")]),
    ("header second", lambda d: d["entry"].reverse(),
     [("Bundle.entry[0].resource", "required")]),
    ("unknown type", lambda d: d["entry"][1]["resource"].update(resourceType="Foo"),
     [("Bundle.entry[1].resource.resourceType", "format")]),
    ("unknown contained", lambda d: d["entry"][2]["resource"].update(
        contained=[{"resourceType": "Foo"}]), [("Bundle", "format")]),
    ("bad date", lambda d: d["entry"][2]["resource"].update(birthDate="2011-13"),
     [("Bundle.entry[2].resource.birthDate", "format")]),
    ("missing status", lambda d: d["entry"][3]["resource"].pop("status"),
     [("Bundle.entry[3].resource.status", "required")]),
    ("no subject", lambda d: d["entry"][4]["resource"].pop("subject"),
     [("Bundle.entry[4].resource.subject", "required")]),
    ("resource a list", lambda d: d["entry"][2].update(resource=[]),
     [("Bundle.entry[2].resource", "format")]),
    ("coding a string", lambda d: d["entry"][4]["resource"]["code"].update(coding="T74.1"),
     [("Bundle.entry[4].resource.code.coding", "format")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "expected"), [s[1:] for s in STRUCTURE], ids=[s[0] for s in STRUCTURE]
)
def test_not_an_r4_message_bundle_is_400_with_fhirpaths(edit: Any, expected: list[Any]) -> None:
    pipeline = FakePipeline(RECEIPT)
    issues = summary(outcome(call(pipeline, content=mutated(edit)), 400))
    assert [(e, c) for e, _, c in issues][: len(expected)] == expected
    assert {kind for _, kind, _ in issues} == {"structure"}
    assert isinstance(pipeline.refusals[0][2], NotAMessage) and pipeline.submitted == []


def test_a_json_array_is_not_a_bundle() -> None:
    issues = summary(outcome(call(FakePipeline(RECEIPT), content=b"[]"), 400))
    assert issues == [("Bundle.resourceType", "structure", "format")]


@pytest.mark.parametrize(
    ("problem", "kind"),
    [
        (Problem("Bundle.entry[0].resource.eventCoding", "closed-list", "x"), "not-supported"),
        (Problem("Bundle.entry[2].resource.gender", "closed-list", "x"), "code-invalid"),
        (Problem("Bundle.entry[2].resource.identifier[0].value", "check-digit", "x"), "value"),
        (Problem("Bundle.entry[2].resource.birthDate", "date", "x"), "value"),
        (Problem("Bundle.entry[2].resource.birthDate", "required", "x"), "required"),
        (Problem("Bundle.entry[2].resource.identifier[1].value", "conflict", "x"), "business-rule"),
        (Problem("Bundle.entry[0].resource.focus", "format", "x"), "value"),
    ],
)
def test_contract_violations_are_422_one_issue_each(problem: Problem, kind: str) -> None:
    pipeline = FakePipeline(ContractViolation([problem, problem]))
    issues = outcome(call(pipeline, content=sample_bytes()), 422)
    assert summary(issues) == [(problem.path, kind, problem.code)] * 2
    assert issues[0]["details"]["text"] == "x"
    assert pipeline.refusals == []  # the pipeline audits its own rejections


def test_unavailable_is_503_with_retry_after() -> None:
    response = call(FakePipeline(Unavailable("down")), content=sample_bytes())
    assert summary(outcome(response, 503)) == [(None, "business-rule", "unavailable")]
    assert response.headers["retry-after"] == "30"


def test_an_unexpected_error_is_a_503_outcome_not_a_500_page() -> None:
    response = call(FakePipeline(RuntimeError("boom 1151126926")), content=sample_bytes())
    assert summary(outcome(response, 503)) == [(None, "business-rule", "unavailable")]
    assert "1151126926" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", PATH, 405), ("PUT", PATH, 405), ("GET", "/fhir/metadata", 404),
     ("POST", "/fhir/Patient", 404), ("GET", "/fhir", 404)],
)  # fmt: skip
def test_other_fhir_paths_and_methods_answer_operation_outcomes(
    method: str, path: str, status: int
) -> None:
    response = call(FakePipeline(RECEIPT), method, path, content=b"{}")
    issues = outcome(response, status)
    assert len(issues) == 1 and issues[0]["code"] == "not-supported"
    assert "coding" not in issues[0]["details"]  # README §9 has no code for it
    if status == 405:
        assert response.headers["allow"] == "POST"


def test_other_surfaces_keep_problem_json() -> None:
    response = call(FakePipeline(RECEIPT), "GET", "/api/v1/receipts/none")
    assert response.headers["content-type"] == "application/problem+json"
