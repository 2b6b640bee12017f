"""The reference national register's HTTP API: FHIR `$process-message` in, flat JSON views out."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from gateway import profile
from gateway.codes import CANONICAL_BASE
from gateway.errors import Problem
from gateway.tls import GATEWAY_URI, IdentityTable, TlsIdentityMiddleware
from gateway.transports.express import ExpressLane, express
from registry.stats import read_and_count
from registry.store import Store
from registry.writer import GroupWriter

log = logging.getLogger(__name__)

FailMode = Literal["none", "transient", "fatal"]
ResponseCode = Literal["ok", "transient-error", "fatal-error"]
FHIR_JSON = "application/fhir+json"
REGISTER_NAME = "child-register"
DEFAULT_GATEWAY_IDENTITIES = (f"uri:{GATEWAY_URI}",)
_GATEWAY = "gateway"
_GATEWAY_ONLY = "only the gateway's certificate may call the register"
_PROBLEM_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/problem"
# FHIR IssueType for each of our problem codes.
_ISSUE_TYPES = {
    "required": "required",
    "closed-list": "code-invalid",
    "conflict": "conflict",
    "too-large": "too-long",
    "media-type": "not-supported",
    "forbidden": "forbidden",
    "unavailable": "transient",
}
_STATUS = {"ok": 200, "transient-error": 503, "fatal-error": 422}


@dataclass(slots=True)
class Faults:
    """Simulated failures: every message gets `mode` until changed, or for `remaining` more."""

    mode: FailMode = "none"
    remaining: int | None = None

    def take(self) -> FailMode:
        mode = self.mode
        if mode != "none" and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining = "none", None
        return mode


class ModeChange(BaseModel):
    mode: FailMode
    count: int | None = Field(default=None, ge=1)


def create_app(
    store: Store,
    *,
    gateway_identities: Sequence[str] = DEFAULT_GATEWAY_IDENTITIES,
    fail_mode: FailMode = "none",
    test_hooks: bool = False,
    max_bytes: int = 1 << 20,
) -> FastAPI:
    """The register; `test_hooks` adds `POST /_test/mode` (never in production).

    Only a certificate matching `gateway_identities` is served (403 for any other); the TLS
    handshake has already checked that it chains to the configured client CA. Answers follow
    FHIR messaging: a response message whose `MessageHeader.response.code` is `ok` (200),
    `transient-error` (503, Retry-After) or `fatal-error` (422), with an OperationOutcome
    listing the reasons; a repeated MessageHeader.id is `ok` again and stored once.
    """
    faults = Faults(fail_mode)
    writer = GroupWriter(store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()

    app = FastAPI(
        title="National child register (reference)",
        dependencies=[Depends(_gateway)],
        lifespan=lifespan,
    )
    app.state.faults = faults

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/fhir"):
            problem = Problem("", "forbidden" if exc.status_code == 403 else "format", exc.detail)
            return _fhir(exc.status_code, _outcome([problem]))
        return JSONResponse({"detail": exc.detail}, exc.status_code)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/fhir/$process-message")
    @express
    async def process_message(request: Request) -> Response:
        # The express lane skips the app's dependencies, `_gateway` included.
        if not _from_gateway(request):
            return _refuse(403, Problem("", "forbidden", _GATEWAY_ONLY))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in (FHIR_JSON, "application/json"):
            return _refuse(415, Problem("", "media-type", f"expected {FHIR_JSON}"))
        body = await request.body()
        if len(body) > max_bytes:
            return _refuse(413, Problem("", "too-large", f"larger than {max_bytes} bytes"))
        try:
            bundle = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _refuse(400, Problem("", "format", "not JSON"))
        request_id = _header_id(bundle)
        mode = faults.take()
        if mode == "transient":
            problem = Problem("", "unavailable", "simulated outage")
            return _answer(request_id, bundle, "transient-error", [problem])
        if mode == "fatal":
            problem = Problem("", "format", "simulated rejection")
            return _answer(request_id, bundle, "fatal-error", [problem])
        flat: dict[str, Any] | None = None
        try:
            problems = profile.validate(bundle)
            flat = None if problems else profile.flatten(bundle)
        except Exception:  # a Bundle the checker cannot even walk is the sender's fault
            log.exception("cannot read notification %s", request_id)
            problems = [Problem("Bundle", "format", "the Bundle cannot be read")]
        if flat is None or problems:
            return _answer(request_id, bundle, "fatal-error", problems)
        try:
            fresh = await writer.receive(flat, body)
        except Exception:  # storage trouble is ours: the gateway must retry, not give up
            log.exception("cannot store notification %s", request_id)
            problem = Problem("", "unavailable", "the register cannot store the message now")
            return _answer(request_id, bundle, "transient-error", [problem])
        if not fresh:
            log.info("notification %s received again; kept the first", request_id)
        return _answer(request_id, bundle, "ok", [])

    @app.get("/api/v1/notifications")
    def notifications() -> list[dict[str, Any]]:
        return store.notifications()

    @app.get("/api/v1/cases")
    def cases() -> list[dict[str, Any]]:
        return store.cases()

    @app.get("/api/v1/statistics")
    def statistics(year: int = Query(ge=1900, le=2999)) -> dict[str, Any]:
        return read_and_count(store.active_cases, year).as_dict()

    if test_hooks:

        @app.post("/_test/mode")
        def set_mode(change: ModeChange) -> dict[str, Any]:
            faults.mode, faults.remaining = change.mode, change.count
            return {"mode": faults.mode, "remaining": faults.remaining}

    identities = IdentityTable({_GATEWAY: gateway_identities}, roles={})
    app.add_middleware(ExpressLane, routers=[app.router])
    app.add_middleware(TlsIdentityMiddleware, identities=identities)
    return app


def _gateway(request: Request) -> None:
    if not _from_gateway(request):
        raise HTTPException(403, _GATEWAY_ONLY)


def _from_gateway(request: Request) -> bool:
    caller = getattr(request.state, "caller", None)
    return caller is not None and caller.institution == _GATEWAY


def _header_id(bundle: Any) -> str | None:
    try:
        header = bundle["entry"][0]["resource"]
        value = header["id"] if header["resourceType"] == "MessageHeader" else None
    except (KeyError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _answer(
    request_id: str | None, bundle: Any, code: ResponseCode, problems: list[Problem]
) -> Response:
    """A response message for the request; a bare OperationOutcome when the request has no
    readable MessageHeader id to answer to."""
    if request_id is None:
        return _fhir(_STATUS[code], _outcome(problems))
    outcome = _outcome(problems) if problems else None
    header: dict[str, Any] = {"resourceType": "MessageHeader", "id": str(uuid.uuid4())}
    event = bundle["entry"][0]["resource"].get("eventCoding")
    if isinstance(event, dict):
        header["eventCoding"] = event
    header["source"] = {"name": REGISTER_NAME, "endpoint": profile.REGISTER_ENDPOINT}
    header["response"] = {"identifier": request_id, "code": code}
    entries = [{"fullUrl": f"urn:uuid:{header['id']}", "resource": header}]
    if outcome is not None:
        header["response"]["details"] = {"reference": f"urn:uuid:{outcome['id']}"}
        entries.append({"fullUrl": f"urn:uuid:{outcome['id']}", "resource": outcome})
    message = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": entries,
    }
    return _fhir(_STATUS[code], message)


def _outcome(problems: list[Problem]) -> dict[str, Any]:
    issues = [
        {
            "severity": "error",
            "code": _ISSUE_TYPES.get(p.code, "invalid"),
            "details": {"coding": [{"system": _PROBLEM_SYSTEM, "code": p.code}], "text": p.message},
            "diagnostics": f"{p.path}: {p.message}" if p.path else p.message,
            **({"expression": [p.path]} if p.path else {}),
        }
        for p in problems
    ]
    return {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()), "issue": issues}


def _refuse(status: int, problem: Problem) -> Response:
    return _fhir(status, _outcome([problem]))


def _fhir(status: int, resource: dict[str, Any]) -> Response:
    headers = {"retry-after": "5"} if status == 503 else None
    return Response(orjson.dumps(resource), status, headers, media_type=FHIR_JSON)
