"""What every transport does before a message reaches the pipeline: who, what type, how big.

README §2 step 1, in this order: authentication, media type, size (before parsing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import Request

from gateway.adapter import Adapter
from gateway.errors import (
    Forbidden,
    GatewayError,
    TooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from gateway.receipts import Caller, Receipt


class Submitter(Protocol):
    """The pipeline as the transports see it."""

    async def submit(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt: ...

    async def receipt(self, caller: Caller, receipt_id: str) -> Receipt: ...

    async def refused(
        self, caller: Caller | None, slug: str, error: Exception, raw: bytes | None = None
    ) -> None:
        """Audit a refusal that happened before the pipeline saw the message."""
        ...


def caller_of(request: Request) -> Caller:
    """The institution behind the client certificate (set by `gateway.tls` middleware)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        raise Unauthenticated("no client certificate of a known institution")
    return caller


def require_institution(request: Request, slug: str) -> Caller:
    caller = caller_of(request)
    if caller.institution != slug:
        raise Forbidden(f"this certificate belongs to another institution than {slug!r}")
    return caller


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased type and its parameters (values unquoted);
    RFC 9110: types and charset names are case-insensitive, values may be quoted."""
    if not content_type:
        return "", {}
    head, *params = content_type.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), parsed


def check_media_type(request: Request, allowed: Iterable[str]) -> dict[str, str]:
    kind, params = media_type(request.headers.get("content-type"))
    if kind not in allowed:
        raise UnsupportedMediaType(f"expected {' or '.join(allowed)}, got {kind or 'none'}")
    return params


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The body, refusing with 413 as soon as it is known to be too large (never parsed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Intake:
    """One request's way in for `adapter`, checked in README §2's order by `read`: the caller's
    certificate (401/403), the media type (415), the size (413, before parsing).

    A refusal raised by `read`, or by the transport's own parsing inside `reporting_refusals`,
    is reported once to `pipeline.refused` with what was known by then (the caller once
    authenticated, the raw body once read) and then propagates for the transport to render.
    """

    def __init__(self, adapter: Adapter, pipeline: Submitter) -> None:
        self.adapter = adapter
        self.pipeline = pipeline
        self.caller: Caller | None = None
        self.raw: bytes | None = None

    async def read(self, request: Request) -> tuple[Caller, bytes]:
        """The caller (of this adapter's institution) and the body (within the size limit)."""
        spec = self.adapter.transport
        async with self.reporting_refusals():
            caller = self.caller = caller_of(request)
            require_institution(request, self.adapter.slug)
            check_media_type(request, spec.media_types)
            raw = self.raw = await read_limited(request, spec.max_bytes)
        return caller, raw

    @asynccontextmanager
    async def reporting_refusals(self) -> AsyncIterator[None]:
        """Report a `GatewayError` raised inside to `pipeline.refused`, then let it propagate."""
        try:
            yield
        except GatewayError as error:
            await self.pipeline.refused(self.caller, self.adapter.slug, error, self.raw)
            raise
