"""problem+json (RFC 9457): one renderer for every gateway error, and the app-wide handlers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gateway.errors import (
    ClientError,
    ContractViolation,
    Forbidden,
    GatewayError,
    NotParseable,
    Problem,
    ReceiptNotFound,
    StaleVersion,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.transports.problem import PROBLEM_BASE, install_handlers, render_problem


def body_of(error: GatewayError, instance: str | None = None) -> tuple[int, dict[str, Any]]:
    response = render_problem(error, instance)
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, orjson.loads(response.body)


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (ContractViolation([Problem("#/a", "required", "a is required")]), 422,
         "contract-violation", "required"),
        (NotParseable("the body is not UTF-8 JSON", path="#"), 400, "not-json", "not-json"),
        (StaleVersion("version 1 is not above 2"), 409, "stale-version", "stale-version"),
        (TooLarge("too large"), 413, "too-large", "too-large"),
        (UnsupportedMediaType("expected application/json"), 415, "media-type", "media-type"),
        (Forbidden("another institution"), 403, "forbidden", "forbidden"),
        (Unauthenticated("no certificate"), 401, "unauthenticated", "forbidden"),
        (ReceiptNotFound("no such receipt"), 404, "receipt-not-found", "receipt-not-found"),
        (Unavailable("later"), 503, "unavailable", "unavailable"),
    ],
)  # fmt: skip
def test_each_error_has_its_status_and_type(
    error: GatewayError, status: int, kind: str, code: str
) -> None:
    got_status, body = body_of(error)
    assert got_status == status == body["status"]
    assert body["type"] == PROBLEM_BASE + kind
    assert body["title"] == error.title and body["detail"] == error.message
    assert [e["code"] for e in body["errors"]] == [code]
    assert "instance" not in body


def test_the_types_are_distinct() -> None:
    errors: list[GatewayError] = [
        ContractViolation([]),
        NotParseable("x"),
        StaleVersion("x"),
        TooLarge("x"),
        UnsupportedMediaType("x"),
        Forbidden("x"),
        Unauthenticated("x"),
        ReceiptNotFound("x"),
        Unavailable("x"),
    ]
    assert len({body_of(e)[1]["type"] for e in errors}) == len(errors)


def test_every_problem_is_listed_with_its_location() -> None:
    error = ContractViolation(
        [
            Problem("#/child/egn", "check-digit", "ЕГН check digit is wrong"),
            Problem("#/violenceForms/1", "closed-list", "violenceForms is not in the list"),
            Problem("incident_date", "date", "incident_date is not a date"),
            Problem("", "format", "the body must be a JSON object"),
        ]
    )
    _, body = body_of(error, "/api/v1/ozd/signals")
    assert body["instance"] == "/api/v1/ozd/signals"
    assert body["errors"] == [
        {"pointer": "#/child/egn", "code": "check-digit", "detail": "ЕГН check digit is wrong"},
        {
            "pointer": "#/violenceForms/1",
            "code": "closed-list",
            "detail": "violenceForms is not in the list",
        },
        {"column": "incident_date", "code": "date", "detail": "incident_date is not a date"},
        {"pointer": "#", "code": "format", "detail": "the body must be a JSON object"},
    ]


def test_unavailable_says_when_to_retry() -> None:
    response = render_problem(Unavailable("the store is down"))
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)
    assert "retry-after" not in render_problem(TooLarge("x")).headers


def test_an_unregistered_error_class_is_about_blank_with_its_own_status() -> None:
    class Teapot(ClientError):
        status = 418
        code = "format"
        title = "I'm a teapot"

    status, body = body_of(Teapot("short and stout"))
    assert (status, body["type"], body["errors"][0]["code"]) == (418, "about:blank", "format")


def test_a_subclass_inherits_its_parents_type() -> None:
    class Late(StaleVersion):
        pass

    assert body_of(Late("x"))[1]["type"] == PROBLEM_BASE + "stale-version"


# -- the app-wide handlers ----------------------------------------------------------------------

# Built at run time so that a traceback's source lines cannot show it.
SECRET = "ЕГН " + "10461" + "22291"


def call(method: str, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app_with_handlers())
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.request(method, path)

    return asyncio.run(go())


def app_with_handlers() -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    @app.get("/gateway-error")
    async def gateway_error() -> None:
        raise TooLarge("the body is larger than 10 bytes")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError(SECRET)

    @app.get("/typed/{number}")
    async def typed(number: int) -> dict[str, int]:
        return {"number": number}

    return app


def test_a_gateway_error_escaping_a_route_is_problem_json() -> None:
    response = call("GET", "/gateway-error")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + "too-large"
    assert response.json()["instance"] == "/gateway-error"


def test_an_unexpected_error_is_a_retryable_503_logged_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = call("GET", "/crash")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)
    assert response.json()["type"] == PROBLEM_BASE + "unavailable"
    assert "RuntimeError" in caplog.text and "/crash" in caplog.text
    assert SECRET not in caplog.text and SECRET not in response.text


def test_a_request_validation_error_is_a_contract_violation() -> None:
    response = call("GET", "/typed/seven")
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "contract-violation"
    assert body["errors"][0]["pointer"] == "#/path/number"
    assert body["errors"][0]["code"] == "format"
    assert "seven" not in orjson.dumps(body["errors"]).decode()


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("POST", "/gateway-error", 405)]
)
def test_framework_refusals_are_problem_json_too(method: str, path: str, status: int) -> None:
    response = call(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "about:blank" and response.json()["status"] == status
