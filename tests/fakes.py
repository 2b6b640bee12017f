"""The test doubles a transport author uses to test a transport in process.

`FakePipeline` stands in for the pipeline (a `gateway.transports.common.Submitter`) and records
what the transport hands over; `CallerFromHeader` stands in for the mTLS identity middleware.
Together they let a test drive a transport's router through `httpx.ASGITransport`, with no
certificate, store or adapter run:

    pipeline = FakePipeline(answer=receipt)
    app = FastAPI()
    app.include_router(my_transport.router(adapter, pipeline))
    app.add_middleware(CallerFromHeader)
    # POST with `x-test-caller: <slug>`, then look at pipeline.submitted and pipeline.refusals
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.adapter import Adapter
from gateway.errors import ReceiptNotFound
from gateway.receipts import Caller, Receipt

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
