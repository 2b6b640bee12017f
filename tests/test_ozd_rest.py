"""ОЗД over REST: the JSON transport and the receipts endpoint, in process with a fake pipeline,
then the whole gateway over real mutual TLS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adapters.ozd import OzdAdapter
from gateway.adapter import Adapter, TransportSpec
from gateway.errors import (
    ContractViolation,
    Forbidden,
    NotParseable,
    Problem,
    StaleVersion,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.facts import DataWarning
from gateway.receipts import Receipt
from gateway.transports import receipts, rest_json
from gateway.transports.problem import PROBLEM_BASE
from tests.fakes import FakePipeline, caller_for, request, transport_app
from tests.servers import InProcessGateway, in_process_gateway

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "ozd" / "samples"
PATH = "/api/v1/ozd/signals"
JSON = {"content-type": "application/json"}
OZD = caller_for("ozd")
MVR = caller_for("mvr")


def sample_bytes(name: str = "ozd-signal.json") -> bytes:
    return (SAMPLES / name).read_bytes()


# -- in process: the router's order of checks, with a fake pipeline ------------------------------


RECEIPT = Receipt(
    receipt_id="r-1",
    institution="ozd",
    received_at=datetime(2026, 3, 11, 8, 0, tzinfo=UTC),
    status="accepted",
    notification_ids=("n-1",),
    warnings=(DataWarning("sex-mismatch", "#/child/sex", 0),),
)


def call(
    pipeline: FakePipeline,
    method: str,
    path: str,
    *,
    caller: str | None = "ozd",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    adapter: Adapter | None = None,
) -> httpx.Response:
    app = transport_app(
        rest_json.router(adapter or OzdAdapter(), pipeline), receipts.router(pipeline)
    )
    return request(app, method, path, caller=caller, content=content, headers=headers)


def post(pipeline: FakePipeline, body: bytes, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", JSON)
    return call(pipeline, "POST", PATH, content=body, **kwargs)


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + kind and body["status"] == status
    return body


def test_an_accepted_signal_is_202_with_the_receipt_and_its_location() -> None:
    pipeline = FakePipeline(RECEIPT)
    response = post(pipeline, sample_bytes())
    assert response.status_code == 202
    assert response.headers["location"] == "/api/v1/receipts/r-1"
    assert response.json() == {
        "receiptId": "r-1",
        "status": "accepted",
        "notificationIds": ["n-1"],
        "warnings": [{"code": "sex-mismatch", "path": "#/child/sex"}],
    }
    ((slug, raw, caller, document),) = pipeline.submitted
    assert (slug, raw, caller) == ("ozd", sample_bytes(), OZD)
    assert document == orjson.loads(sample_bytes())
    assert pipeline.refusals == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/json ; Charset=utf8",
    ],
)
def test_json_media_types_are_matched_case_insensitively(content_type: str) -> None:
    response = post(FakePipeline(RECEIPT), sample_bytes(), headers={"content-type": content_type})
    assert response.status_code == 202


def test_a_byte_order_mark_is_ignored() -> None:
    pipeline = FakePipeline(RECEIPT)
    assert post(pipeline, b"\xef\xbb\xbf" + sample_bytes()).status_code == 202
    assert pipeline.submitted[0][1].startswith(b"\xef\xbb\xbf")  # the raw body, as received


@pytest.mark.parametrize(
    ("kwargs", "status", "kind", "error"),
    [
        ({"caller": None}, 401, "unauthenticated", Unauthenticated),
        ({"caller": "mvr"}, 403, "forbidden", Forbidden),
        ({"caller": "mvr", "headers": {"content-type": "text/plain"}}, 403, "forbidden",
         Forbidden),
        ({"headers": {"content-type": "text/plain"}}, 415, "media-type", UnsupportedMediaType),
        ({"headers": {}}, 415, "media-type", UnsupportedMediaType),
        ({"headers": {"content-type": "application/jsonx"}}, 415, "media-type",
         UnsupportedMediaType),
        ({"headers": {"content-type": "application/x-ndjson"}}, 415, "media-type",
         UnsupportedMediaType),
    ],
)  # fmt: skip
def test_refusals_before_the_body_is_read(
    kwargs: dict[str, Any], status: int, kind: str, error: type[Exception]
) -> None:
    pipeline = FakePipeline(RECEIPT)
    response = post(pipeline, sample_bytes(), **kwargs)
    body = assert_problem(response, status, kind)
    assert body["instance"] == PATH
    assert pipeline.submitted == []
    ((caller, slug, refused, raw),) = pipeline.refusals
    assert (slug, raw, type(refused)) == ("ozd", None, error)
    assert caller == {None: None, "ozd": OZD, "mvr": MVR}[kwargs.get("caller", "ozd")]


def test_too_large_is_refused_before_parsing_media_type_first() -> None:
    big = b"{" + b" " * (1 << 20) + b"}"
    pipeline = FakePipeline(RECEIPT)
    body = assert_problem(post(pipeline, big), 413, "too-large")
    assert body["errors"][0]["code"] == "too-large"
    assert isinstance(pipeline.refusals[0][2], TooLarge) and pipeline.refusals[0][3] is None
    wrong_type = post(FakePipeline(RECEIPT), big, headers={"content-type": "text/plain"})
    assert_problem(wrong_type, 415, "media-type")


def test_exactly_the_limit_is_read() -> None:
    pipeline = FakePipeline(RECEIPT)
    document = sample_bytes().rstrip()
    padded = document + b" " * ((1 << 20) - len(document))
    assert len(padded) == 1 << 20
    assert post(pipeline, padded).status_code == 202


@pytest.mark.parametrize(
    "body", [b"", b"{", b"{'eventId': 1}", b"\xff\xfe{}", '{"a": "é"}'.encode("latin-1")]
)
def test_a_body_that_is_not_json_is_400(body: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    problem = assert_problem(post(pipeline, body), 400, "not-json")
    assert problem["errors"] == [
        {"pointer": "#", "code": "not-json", "detail": "the body is not UTF-8 JSON"}
    ]
    ((_, _, error, raw),) = pipeline.refusals
    assert isinstance(error, NotParseable) and raw == body
    assert pipeline.submitted == []


@pytest.mark.parametrize("body", [b"[]", b"[{}]", b"42", b'"signal"', b"null"])
def test_json_that_is_not_an_object_is_422(body: bytes) -> None:
    pipeline = FakePipeline(RECEIPT)
    problem = assert_problem(post(pipeline, body), 422, "contract-violation")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("#", "format")]
    assert pipeline.refusals[0][3] == body and pipeline.submitted == []


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ContractViolation([Problem("#/child/egn", "check-digit", "ЕГН check digit is wrong")]),
         422, "contract-violation"),
        (StaleVersion("version 1 is not above the accepted version 2"), 409, "stale-version"),
        (Unavailable("the store is down"), 503, "unavailable"),
    ],
)  # fmt: skip
def test_errors_of_the_pipeline_are_rendered_not_refused_again(
    error: Exception, status: int, kind: str
) -> None:
    pipeline = FakePipeline(answer=error)
    response = post(pipeline, sample_bytes())
    assert_problem(response, status, kind)
    assert pipeline.refusals == []  # the pipeline audits its own rejections
    if status == 503:
        assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)
    if status == 422:
        assert response.json()["errors"] == [
            {"pointer": "#/child/egn", "code": "check-digit", "detail": "ЕГН check digit is wrong"}
        ]


def test_an_unexpected_failure_of_the_pipeline_is_a_retryable_503() -> None:
    response = post(FakePipeline(answer=RuntimeError("boom")), sample_bytes())
    assert_problem(response, 503, "unavailable")
    assert "retry-after" in response.headers


def test_the_router_serves_only_json_adapters() -> None:
    class Soap(OzdAdapter):
        transport = TransportSpec(kind="soap11", path="/soap/x", max_bytes=1, media_types=())

    with pytest.raises(ValueError, match="soap11"):
        rest_json.router(Soap(), FakePipeline(RECEIPT))


def test_the_router_is_generic() -> None:
    class Other(OzdAdapter):
        slug = "helpline"
        transport = TransportSpec(
            kind="json", path="/api/v1/other", max_bytes=64, media_types=("application/json",)
        )

    pipeline = FakePipeline(RECEIPT)
    small = call(pipeline, "POST", "/api/v1/other", caller="helpline", content=b'{"a": 1}',
                 headers=JSON, adapter=Other())  # fmt: skip
    assert small.status_code == 202
    assert pipeline.submitted[0][0] == "helpline" and pipeline.submitted[0][3] == {"a": 1}
    large = call(pipeline, "POST", "/api/v1/other", caller="helpline", content=b"[" * 65,
                 headers=JSON, adapter=Other())  # fmt: skip
    assert_problem(large, 413, "too-large")
    assert call(pipeline, "POST", PATH, caller="helpline", content=b"{}", headers=JSON,
                adapter=Other()).status_code == 404  # fmt: skip


def test_reading_a_receipt() -> None:
    response = call(FakePipeline(RECEIPT), "GET", "/api/v1/receipts/r-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "receiptId": "r-1",
        "institution": "ozd",
        "receivedAt": "2026-03-11T08:00:00+00:00",
        "status": "accepted",
        "notificationIds": ["n-1"],
        "warnings": [{"code": "sex-mismatch", "path": "#/child/sex"}],
    }


@pytest.mark.parametrize(
    ("caller", "path", "status", "kind"),
    [
        ("mvr", "/api/v1/receipts/r-1", 404, "receipt-not-found"),
        ("ozd", "/api/v1/receipts/r-2", 404, "receipt-not-found"),
        (None, "/api/v1/receipts/r-1", 401, "unauthenticated"),
    ],
)
def test_a_receipt_of_another_institution_is_not_found(
    caller: str | None, path: str, status: int, kind: str
) -> None:
    response = call(FakePipeline(RECEIPT), "GET", path, caller=caller)
    assert_problem(response, status, kind)


# -- the whole gateway over real mutual TLS ------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessGateway]:
    with in_process_gateway(tmp_path_factory.mktemp("ozd-gateway")) as gateway:
        yield gateway


def signal(name: str = "ozd-signal.json", **changes: Any) -> bytes:
    document = orjson.loads(sample_bytes(name))
    document.update(changes)
    return orjson.dumps(document)


def new_signal_number() -> str:
    return f"ОЗД-ТЕСТ-{uuid.uuid4().hex[:12]}"


def test_mtls_a_signal_its_duplicate_and_its_receipt(stack: InProcessGateway) -> None:
    body = signal(eventId=str(uuid.uuid4()), signalNumber=new_signal_number())
    with stack.client("ozd") as client:
        first = client.post(PATH, content=body, headers=JSON)
        assert first.status_code == 202, first.text
        answer = first.json()
        assert answer["status"] == "accepted" and len(answer["notificationIds"]) == 1
        assert first.headers["location"] == f"/api/v1/receipts/{answer['receiptId']}"

        again = client.post(PATH, content=body, headers=JSON)
        assert again.status_code == 202
        assert again.json() == {**answer, "status": "duplicate"}

        receipt = client.get(first.headers["location"])
        assert receipt.status_code == 200
        assert receipt.json()["receiptId"] == answer["receiptId"]
        assert receipt.json()["institution"] == "ozd"
        assert receipt.json()["notificationIds"] == answer["notificationIds"]

    with stack.client("mvr") as other:
        assert_problem(other.get(first.headers["location"]), 404, "receipt-not-found")


def test_mtls_versions_stale_versions_and_withdrawal(stack: InProcessGateway) -> None:
    number = new_signal_number()
    with stack.client("ozd") as client:

        def send(name: str, **changes: Any) -> httpx.Response:
            body = signal(name, eventId=str(uuid.uuid4()), signalNumber=number, **changes)
            return client.post(PATH, content=body, headers=JSON)

        first = send("ozd-signal.json")
        assert first.status_code == 202 and first.json()["status"] == "accepted"
        update = send("update-version-2.json")
        assert update.status_code == 202 and update.json()["status"] == "accepted"
        assert update.json()["warnings"] == []
        assert update.json()["notificationIds"] != first.json()["notificationIds"]

        body = assert_problem(send("ozd-signal.json"), 409, "stale-version")
        assert body["errors"][0]["code"] == "stale-version"
        assert_problem(send("update-version-2.json"), 409, "stale-version")

        withdrawn = send("withdrawal.json")
        assert withdrawn.status_code == 202 and withdrawn.json()["status"] == "accepted"
        assert len(withdrawn.json()["notificationIds"]) == 1


def test_mtls_warnings_and_scope(stack: InProcessGateway) -> None:
    with stack.client("ozd") as client:

        def send(name: str, **changes: Any) -> httpx.Response:
            body = signal(
                name, eventId=str(uuid.uuid4()), signalNumber=new_signal_number(), **changes
            )
            return client.post(PATH, content=body, headers=JSON)

        conflicting = send("conflicting-settings.json").json()
        assert conflicting["warnings"] == [
            {"code": "conflicting-implied-settings", "path": "#/violenceForms"}
        ]
        mismatches = send("mismatches.json").json()
        assert sorted((w["code"], w["path"]) for w in mismatches["warnings"]) == [
            ("birthdate-mismatch", "#/child/birthDate"),
            ("sex-mismatch", "#/child/sex"),
        ]
        adult = send("adult.json").json()
        assert (adult["status"], adult["notificationIds"]) == ("out-of-scope", [])
        later = send("update-version-2.json").json()
        assert later["warnings"] == [{"code": "source-event-mismatch", "path": "#/version"}]
        unknown = send("withdrawal.json").json()
        assert (unknown["status"], unknown["notificationIds"]) == ("accepted", [])
        assert unknown["warnings"] == [{"code": "cancel-of-unknown-record", "path": "#/status"}]


def test_mtls_refusals_are_problem_json(stack: InProcessGateway) -> None:
    with stack.client("ozd") as client:
        bad = signal(eventId=str(uuid.uuid4()), version=0, ekatte="688")
        body = assert_problem(client.post(PATH, content=bad, headers=JSON), 422,
                              "contract-violation")  # fmt: skip
        assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
            ("#/version", "format"),
            ("#/ekatte", "format"),
        ]
        assert "1046122291" not in str(body)
        assert_problem(client.post(PATH, content=b"{", headers=JSON), 400, "not-json")
        text = {"content-type": "text/plain"}
        assert_problem(client.post(PATH, content=sample_bytes(), headers=text), 415, "media-type")
        big = b"[" + b"0," * (1 << 19) + b"0]"
        assert_problem(client.post(PATH, content=big, headers=JSON), 413, "too-large")
    with stack.client("mvr") as other:
        assert_problem(other.post(PATH, content=sample_bytes(), headers=JSON), 403, "forbidden")
