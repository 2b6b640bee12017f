"""RFC 9457 `application/problem+json` answers for every gateway error on the REST surfaces.

`render_problem` turns a `GatewayError` into a response; `install_handlers` makes it the app's
answer to any error a route lets escape, so that no caller ever sees a bare 500 page.

Each problem of the error becomes one entry of `errors`. Where it is placed follows the
problem's path: a path starting with `#` is a JSON pointer (`{"pointer": "#/child/egn"}`), an
empty path stands for the whole body (`{"pointer": "#"}`), and any other path is a CSV column
name (`{"column": "incident_date"}`). SOAP and FHIR routes render their own errors (faults,
OperationOutcome) and use this module only for plain-HTTP refusals made before the envelope
is read.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import (
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

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://child-register.bg/problems/"

# Looked up along the error's class hierarchy, so a subclass inherits its parent's type.
_TYPES: dict[type[GatewayError], str] = {
    ContractViolation: "contract-violation",
    NotParseable: "not-json",
    StaleVersion: "stale-version",
    TooLarge: "too-large",
    UnsupportedMediaType: "media-type",
    Forbidden: "forbidden",
    Unauthenticated: "unauthenticated",
    ReceiptNotFound: "receipt-not-found",
    Unavailable: "unavailable",
}

logger = logging.getLogger(__name__)


def problem_type(error: GatewayError) -> str:
    """The `type` URI of an error: the nearest registered class, else `about:blank`."""
    for cls in type(error).__mro__:
        name = _TYPES.get(cls)
        if name is not None:
            return PROBLEM_BASE + name
    return "about:blank"


def problem_entry(problem: Problem) -> dict[str, str]:
    """One member of `errors`, located by pointer or by column (see the module docstring)."""
    if problem.path.startswith("#"):
        where = {"pointer": problem.path}
    elif problem.path == "":
        where = {"pointer": "#"}
    else:
        where = {"column": problem.path}
    return {**where, "code": problem.code, "detail": problem.message}


def render_problem(error: GatewayError, instance: str | None = None) -> Response:
    """The problem+json answer for `error`; a retryable error also gets `Retry-After`.

    An error without located problems still lists one entry carrying its problem code, so a
    client can always branch on `errors[0].code`.
    """
    problems = error.problems or [Problem("", error.code, error.message)]
    body: dict[str, Any] = {
        "type": problem_type(error),
        "title": error.title,
        "status": error.status,
        "detail": error.message,
    }
    if instance is not None:
        body["instance"] = instance
    body["errors"] = [problem_entry(p) for p in problems]
    headers: dict[str, str] = {}
    if error.retryable:
        seconds = getattr(error, "retry_after_seconds", Unavailable.retry_after_seconds)
        headers["Retry-After"] = str(seconds)
    return Response(
        orjson.dumps(body), status_code=error.status, headers=headers, media_type=PROBLEM_JSON
    )


def _http_problem(exc: StarletteHTTPException, instance: str) -> Response:
    """Framework refusals (unknown route, wrong method): RFC 9457 `about:blank` problems."""
    body = {"type": "about:blank", "title": exc.detail, "status": exc.status_code}
    body["instance"] = instance
    return Response(
        orjson.dumps(body),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
        media_type=PROBLEM_JSON,
    )


def _validation_problem(exc: RequestValidationError) -> ContractViolation:
    # The offending input is left out on purpose: it may be a personal value.
    problems = [
        Problem(
            "#/" + "/".join(str(part) for part in err.get("loc", ())),
            "format",
            str(err.get("msg", "invalid value")),
        )
        for err in exc.errors()
    ]
    return ContractViolation(problems or [Problem("", "format", "invalid request")])


class UnexpectedErrors:
    """Answers 503 `unavailable` (retryable) for any exception a route did not expect.

    Starlette's own handler for `Exception` re-raises after answering; this middleware sits
    inside it, so the server neither logs the error twice nor shows a 500 page.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Only the type and the frames: an exception's message may quote a personal value.
            logger.error(
                "unexpected %s on %s %s\n%s",
                type(exc).__qualname__,
                scope.get("method", ""),
                scope.get("path", ""),
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                raise
            response = render_problem(
                Unavailable("the gateway cannot take the message now; send it again later"),
                scope.get("path"),
            )
            await response(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    """Make problem+json the app's answer to every error a route does not render itself."""

    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return render_problem(exc, request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render_problem(_validation_problem(exc), request.url.path)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _http_problem(exc, request.url.path)

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_middleware(UnexpectedErrors)
