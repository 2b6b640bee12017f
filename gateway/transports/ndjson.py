"""The REST transport for NDJSON batches (the helpline): each line a message of its own, streamed.

README §2 in order: the caller's certificate (401/403), the media type (415), the declared size
(413); then the body is read as it arrives, split into numbered lines, and each non-blank line
goes through the pipeline on its own (atomic per line, see `ndjson_batch`), so memory does not
grow with the batch. The router is generic: it serves any adapter of kind `ndjson`, with the
line limit and echoed field `NdjsonAdapter` names when the adapter has them.

The answer, once the whole body was read (a sender that writes its whole request before reading
is never blocked by it), is `207 {"results": [...]}` with one result per non-blank line, except:
`422` when the batch has no line; `413` or `503` when a limit was crossed while reading, or the
store failed, and no line of the batch got a receipt (nothing of it was kept). When some line got
one, it is `207`: a limit crossed later rejects the line where it was crossed (`too-large`) and
nothing after it is read; after a store failure, every line not yet stored is `rejected` with
`unavailable` and the answer carries `Retry-After`. A line is `accepted` only once committed.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response

from gateway.adapter import Adapter
from gateway.errors import GatewayError, TooLarge, Unavailable, UnsupportedMediaType
from gateway.transports.common import (
    Intake,
    Submitter,
    caller_of,
    check_media_type,
    require_institution,
)
from gateway.transports.express import express
from gateway.transports.ndjson_batch import Batch, NdjsonAdapter, OverLimit
from gateway.transports.problem import render_problem

__all__ = ["NdjsonAdapter", "numbered_lines", "router"]


async def numbered_lines(
    chunks: AsyncIterator[bytes], max_bytes: int, max_lines: int
) -> AsyncIterator[tuple[int, bytes]]:
    """(number from 1, line without CR/LF) as the body arrives; a final newline adds no line,
    a leading byte order mark is dropped. Raises `OverLimit` as soon as a limit is crossed."""
    size, number = 0, 0
    tail: list[bytes] = []

    def finish(piece: bytes) -> tuple[int, bytes]:
        nonlocal number, tail
        line = b"".join((*tail, piece)) if tail else piece
        tail = []
        number += 1
        if number > max_lines:
            raise OverLimit(f"the batch has more than {max_lines} lines", number)
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        return number, line.removesuffix(b"\r")

    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise OverLimit(f"the batch is larger than {max_bytes} bytes", number + 1)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            yield finish(chunk[start:end])
            start = end + 1
        if start < len(chunk):
            tail.append(chunk[start:])
    if tail:
        yield finish(b"")


def _check_media_type(request: Request, allowed: tuple[str, ...]) -> None:
    """NDJSON is UTF-8: a charset parameter naming anything else is another media type."""
    charset = check_media_type(request, allowed).get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"expected UTF-8 NDJSON, got charset {charset}")


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`POST adapter.transport.path`: an NDJSON batch in, one result per non-blank line out."""
    spec = adapter.transport
    if spec.kind != "ndjson":
        raise ValueError(f"{adapter.slug}: the NDJSON transport cannot serve {spec.kind!r}")
    api = APIRouter()

    @api.post(spec.path, status_code=207, name=f"{adapter.slug}-submit-batch")
    @express
    async def submit(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            async with intake.reporting_refusals():
                caller = intake.caller = caller_of(request)
                require_institution(request, adapter.slug)
                _check_media_type(request, spec.media_types)
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > spec.max_bytes:
                    raise TooLarge(f"the batch is larger than {spec.max_bytes} bytes")
        except GatewayError as error:
            return render_problem(error, request.url.path)
        batch = Batch(adapter, pipeline, caller)
        try:
            await batch.run(numbered_lines(request.stream(), spec.max_bytes, batch.max_lines))
        except GatewayError as error:
            batch.discard()
            if not isinstance(error, Unavailable):  # the pipeline audits its own failures
                await pipeline.refused(caller, adapter.slug, error)
            return render_problem(error, request.url.path)
        return batch.response()

    return api
