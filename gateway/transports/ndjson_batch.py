"""One NDJSON batch's lines through the pipeline, a window at a time, results spooled in order.

Up to `WINDOW` lines are in the pipeline at once, so that their commits share the store's group
commits; the pipeline hands their units to the store in submit order (gateway/ordering.py), so
a later revision of a contact still meets the earlier one's state, and the same batch always
gives the same outbox. Memory stays bounded: at most a window of lines, and the results are
spooled as they come (in memory while small, then in an anonymous temporary file; they hold
item ids, codes and paths, never a line's content).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any, Protocol, runtime_checkable

import orjson
from fastapi import Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from gateway.adapter import Adapter
from gateway.errors import (
    ContractViolation,
    GatewayError,
    NotParseable,
    Problem,
    TooLarge,
    Unavailable,
)
from gateway.receipts import Caller, Receipt
from gateway.transports.common import Submitter
from gateway.transports.problem import problem_entry

DEFAULT_MAX_LINES = 10_000
#: Lines in the pipeline at once (their commits are grouped by the store).
WINDOW = 64
DEFAULT_ITEM_KEY = "id"
SPOOL_IN_MEMORY = 256 * 1024
log = logging.getLogger(__name__)


@runtime_checkable
class NdjsonAdapter(Adapter, Protocol):
    """What the NDJSON transport reads of an adapter besides the `Adapter` protocol, when it
    has it (`batch_options` gives the defaults otherwise)."""

    #: The most lines a batch may have.
    max_lines: int
    #: The field of a line's object echoed in its result (`contactId`), when it is a string.
    item_key: str


def batch_options(adapter: Adapter) -> tuple[int, str]:
    """(line limit, echoed field) of an adapter, `NdjsonAdapter` or a plain `Adapter`."""
    if isinstance(adapter, NdjsonAdapter):
        return adapter.max_lines, adapter.item_key
    return DEFAULT_MAX_LINES, DEFAULT_ITEM_KEY


class OverLimit(TooLarge):
    """The batch crossed a limit while it was read; `line` is the first line not read whole."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class Batch:
    """Runs a batch (`run`), then answers it (`response`) or raises a whole-batch refusal."""

    def __init__(self, adapter: Adapter, pipeline: Submitter, caller: Caller) -> None:
        self.adapter, self.pipeline, self.caller = adapter, pipeline, caller
        self.max_lines, self.item_key = batch_options(adapter)
        # Outlives this call: closed by the answer's body iterator, or by `discard`.
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115
        self.answered = 0  # results written
        self.kept = 0  # lines that got a receipt
        self.unavailable = False

    async def run(self, lines: AsyncIterator[tuple[int, bytes]]) -> None:
        """Every line in order. Raises `OverLimit`, `Unavailable` (nothing kept) or an empty
        batch's `ContractViolation` as the whole batch's answer."""
        pending: deque[asyncio.Future[dict[str, Any]]] = deque()
        try:
            try:
                async for number, raw in lines:
                    if raw.strip(b" \t\r"):
                        pending.append(asyncio.ensure_future(self.line(number, raw)))
                        if len(pending) >= WINDOW:
                            self.write(await pending.popleft())
            finally:  # every line handed to the pipeline gets its result, in line order
                while pending:
                    self.write(await pending.popleft())
        except OverLimit as error:
            if not self.kept:
                raise
            await self.pipeline.refused(self.caller, self.adapter.slug, error)
            detail = f"{error.message}: this line and those after it were not read"
            self.write(self.result(error.line, None, [Problem("#", "too-large", detail)]))
        except ClientDisconnect:
            log.info("a %s batch was cut off by its sender", self.adapter.slug)
        if not self.answered:
            raise ContractViolation([Problem("#", "required", "the batch has no line")])
        if self.unavailable and not self.kept:
            raise Unavailable("the gateway cannot take the batch now; send it again later")

    def write(self, result: dict[str, Any]) -> None:
        self.spool.write(b"," if self.answered else b'{"results":[')
        self.spool.write(orjson.dumps(result))
        self.answered += 1

    def result(
        self, line: int, item: str | None, problems: list[Problem], receipt: Receipt | None = None
    ) -> dict[str, Any]:
        warnings = [{"code": w.code, "path": w.path} for w in receipt.warnings] if receipt else []
        return {
            "line": line,
            self.item_key: item,
            "status": receipt.status if receipt else "rejected",
            "receiptId": receipt.receipt_id if receipt else None,
            "warnings": warnings,
            "errors": [problem_entry(p) for p in problems],
        }

    async def line(self, number: int, raw: bytes) -> dict[str, Any]:
        """One line's result; never raises (a store failure marks the rest of the batch)."""
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            error = NotParseable("the line is not UTF-8 JSON", "not-json", "#")
            return await self.refuse(number, raw, error)
        if not isinstance(document, dict):
            problem = Problem("#", "format", "each line must be a JSON object")
            return await self.refuse(number, raw, ContractViolation([problem]))
        value = document.get(self.item_key)
        item = value if isinstance(value, str) else None
        if self.unavailable:
            return self.not_stored(number, item)
        try:
            receipt = await self.pipeline.submit(self.adapter, raw, self.caller, document)
        except Unavailable:
            return self.not_stored(number, item, failed=True)
        except GatewayError as error:  # the pipeline audited the rejection
            problems = error.problems or [Problem("#", error.code, error.message)]
            return self.result(number, item, problems)
        except Exception as exc:  # a defect, or a store error the pipeline did not wrap
            log.error("unexpected %s on a %s line", type(exc).__qualname__, self.adapter.slug)
            return self.not_stored(number, item, failed=True)
        self.kept += 1
        return self.result(number, item, [], receipt)

    async def refuse(self, number: int, raw: bytes, error: GatewayError) -> dict[str, Any]:
        """A line the pipeline cannot be handed (not JSON, not an object): audited here."""
        await self.pipeline.refused(self.caller, self.adapter.slug, error, raw)
        return self.result(number, None, error.problems)

    def not_stored(self, number: int, item: str | None, failed: bool = False) -> dict[str, Any]:
        # After the first store failure no line is tried again: the sender resends the rest.
        self.unavailable = self.unavailable or failed
        detail = "the line was not stored: send it again later"
        return self.result(number, item, [Problem("#", "unavailable", detail)])

    def response(self) -> Response:
        """`207` with every result, `Retry-After` when some lines could not be stored."""
        self.spool.write(b"]}")
        size = self.spool.tell()
        self.spool.seek(0)
        headers = {"Content-Length": str(size)}
        if self.unavailable:
            headers["Retry-After"] = str(Unavailable.retry_after_seconds)
        return StreamingResponse(
            _chunks(self.spool), status_code=207, media_type="application/json", headers=headers
        )

    def discard(self) -> None:
        self.spool.close()


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(64 * 1024):
            yield chunk
