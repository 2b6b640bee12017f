"""The test doubles a transport author uses to test a transport in process.

`FakePipeline` stands in for the pipeline (a `gateway.transports.common.Submitter`) and records
what the transport hands over; `CallerFromHeader` stands in for the mTLS identity middleware.
Together they let a test drive a transport's router through `httpx.ASGITransport`, with no
certificate, store or adapter run:

    pipeline = FakePipeline(answer=receipt)
    app = transport_app(my_transport.router(adapter, pipeline))
    response = request(app, "POST", "/path", caller="mvr", content=b"...")
    # then look at pipeline.submitted and pipeline.refusals
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.adapter import Adapter
from gateway.errors import ReceiptNotFound
from gateway.receipts import Caller, Receipt
from gateway.transports.problem import install_handlers

CALLER_HEADER = b"x-test-caller"


def caller_for(slug: str) -> Caller:
    """The caller `CallerFromHeader` sets for `x-test-caller: <slug>`."""
    return Caller(slug, f"fp-{slug}")


@dataclass
class FakePipeline:
    """Records what the transport hands over; answers with `answer` or raises it.

    `submit` records (adapter slug, raw body, caller, parsed document) in `submitted`; `receipt`
    answers `answer` only to its institution and receipt id (else `ReceiptNotFound`); `refused`
    records (caller, slug, error, raw body) in `refusals`.
    """

    answer: Receipt | Exception
    submitted: list[tuple[str, bytes, Caller, Any]] = field(default_factory=list)
    refusals: list[tuple[Caller | None, str, Exception, bytes | None]] = field(default_factory=list)

    async def submit(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt:
        self.submitted.append((adapter.slug, raw, caller, document))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def receipt(self, caller: Caller, receipt_id: str) -> Receipt:
        if isinstance(self.answer, Exception):
            raise self.answer
        if caller.institution != self.answer.institution or receipt_id != self.answer.receipt_id:
            raise ReceiptNotFound("no receipt with this id for this institution")
        return self.answer

    async def refused(
        self, caller: Caller | None, slug: str, error: Exception, raw: bytes | None = None
    ) -> None:
        self.refusals.append((caller, slug, error, raw))


class CallerFromHeader:
    """Stands in for the mTLS identity middleware: `x-test-caller: <slug>` sets the caller to
    `caller_for(slug)`; without the header there is no caller (as without a known certificate)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            slug = dict(scope["headers"]).get(CALLER_HEADER, b"").decode()
            scope.setdefault("state", {})["caller"] = caller_for(slug) if slug else None
        await self.app(scope, receive, send)


def transport_app(*routers: APIRouter) -> FastAPI:
    """The routers as the gateway serves them (its error handlers), behind `CallerFromHeader`."""
    app = FastAPI()
    install_handlers(app)
    for router in routers:
        app.include_router(router)
    app.add_middleware(CallerFromHeader)
    return app


def request(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    caller: str | None,
    content: bytes | AsyncIterator[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    raise_app_exceptions: bool = True,
    base_url: str = "http://gw",
) -> httpx.Response:
    """One request to `app` in process, as institution `caller` (None: no certificate)."""
    sent = dict(headers or {})
    if caller is not None:
        sent[CALLER_HEADER.decode()] = caller

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.request(method, path, content=content, headers=sent, params=params)

    return asyncio.run(go())
