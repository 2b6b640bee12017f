"""The REST transport for CSV batches (the schools): one file in, one `207` with a result per row.

README §2 in order: the caller's certificate (401/403), the media type and its charset (415), the
size (413, before parsing); then decoding and CSV syntax (400), the header (422), the row count
(413); then each row through the pipeline on its own (atomic per row). The router is generic: it
serves any adapter of kind `csv`; what else it reads of one is `CsvContract`.

The raw bytes of a row, which the pipeline seals and hashes, are the file's header record and
that row's record, cell by cell as received, written again as RFC 4180 CSV with the file's
delimiter and CRLF line ends, in UTF-8: the same row gives the same bytes in any file of the
same header, whatever its charset.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from gateway.adapter import Adapter
from gateway.errors import ContractViolation, GatewayError, Problem
from gateway.mappings import normalise
from gateway.receipts import Caller
from gateway.transports.common import (
    Intake,
    Submitter,
    caller_of,
    check_media_type,
    read_limited,
    require_institution,
)
from gateway.transports.csv_table import (
    CsvContract,
    Table,
    decode,
    encoding_of,
    read_table,
    row_bytes,
)
from gateway.transports.express import express
from gateway.transports.problem import render_problem


def _errors(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"column": p.path or None, "code": p.code, "detail": p.message} for p in problems]


@dataclass(slots=True)
class _Batch:
    """One file's way through the pipeline, row after row in row order: the audit trail and the
    outbox follow the file, and the first row of a record key the gateway keeps takes the key."""

    adapter: Adapter
    contract: CsvContract
    pipeline: Submitter
    caller: Caller
    table: Table
    # record key -> (row number, parsed values) of the first row of the file the gateway kept
    taken: dict[Hashable, tuple[int, Hashable]] = field(default_factory=dict)

    async def run(self) -> list[dict[str, Any]]:
        """Every row's result; a retryable error (503) stops the file."""
        results: list[dict[str, Any]] = []
        names = self.table.names
        for number, cells in self.table.rows:
            document = {name: cell for name, cell in zip(names, cells, strict=False) if name}
            identity = self.contract.row_identity(document)
            results.append(await self.row(number, cells, document, identity))
        return results

    async def row(
        self,
        number: int,
        cells: list[str],
        document: dict[str, str],
        identity: tuple[Hashable, Hashable] | None,
    ) -> dict[str, Any]:
        label_column = self.contract.label_column
        label = normalise(document.get(label_column) or "") or None if label_column else None
        result: dict[str, Any] = {"row": number, "incidentId": label, "status": "rejected",
                                  "receiptId": None, "warnings": [], "errors": []}  # fmt: skip
        raw = row_bytes(self.table, cells)
        problems: list[Problem] = []
        if any(c.strip() for c in cells[len(self.table.names) :]):
            problems.append(Problem("", "format", "the row has more cells than the header"))
        if identity is not None and identity[0] in self.taken:
            first, values = self.taken[identity[0]]
            if values != identity[1]:
                detail = f"row {first} has the same record key with other values"
                problems.append(Problem(label_column or "", "conflict", detail))
        if problems:
            # Refused before the pipeline saw the row: audited as a refusal, as at the door.
            await self.pipeline.refused(
                self.caller, self.adapter.slug, ContractViolation(problems), raw
            )
            result["errors"] = _errors(problems)
            return result
        try:
            receipt = await self.pipeline.submit(self.adapter, raw, self.caller, document)
        except GatewayError as error:
            if error.retryable:
                raise  # the whole file is answered 503; kept rows come back as duplicates
            result["errors"] = _errors(error.problems or [Problem("", error.code, error.message)])
            return result
        if identity is not None:
            self.taken.setdefault(identity[0], (number, identity[1]))
        warnings = [{"code": w.code, "path": w.path} for w in receipt.warnings]
        result.update(status=receipt.status, receiptId=receipt.receipt_id, warnings=warnings)
        return result


def router(adapter: Adapter, pipeline: Submitter) -> APIRouter:
    """`POST adapter.transport.path`: a CSV file in, `207` with a result per data row out."""
    spec = adapter.transport
    if spec.kind != "csv":
        raise ValueError(f"{adapter.slug}: the CSV transport cannot serve {spec.kind!r}")
    contract = CsvContract.of(adapter)
    api = APIRouter()

    @api.post(spec.path, status_code=207, name=f"{adapter.slug}-submit")
    @express
    async def submit(request: Request) -> Response:
        intake = Intake(adapter, pipeline)
        try:
            # Intake.read's steps, with the charset checked as part of the media type (415
            # before 413).
            async with intake.reporting_refusals():
                caller = intake.caller = caller_of(request)
                require_institution(request, adapter.slug)
                encoding = encoding_of(check_media_type(request, spec.media_types))
                raw = intake.raw = await read_limited(request, spec.max_bytes)
                table = read_table(decode(raw, encoding), contract)
        except GatewayError as error:
            return render_problem(error, request.url.path)
        try:
            results = await _Batch(adapter, contract, pipeline, caller, table).run()
        except GatewayError as error:
            return render_problem(error, request.url.path)
        body = {"results": results, "warnings": table.warnings}
        return Response(orjson.dumps(body), status_code=207, media_type="application/json")

    return api
