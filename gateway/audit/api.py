"""The officer's audit API: search, FHIR export and the signed checkpoint, for one role only.

Only a certificate with the `security-officer` role is answered; any other (every institution's
included) gets 403 problem+json, and the attempt is audited too. Every read appends a `read`
record naming the certificate and the filters *before* the answer is sent, so no read goes
unrecorded. A search by child takes the ЕГН/ЛНЧ in a POST body (never the query string, which
access logs keep), derives the internal pseudonym at once and records only that.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from gateway.audit import chain, children, export
from gateway.audit.checkpoint import latest_checkpoint
from gateway.errors import Forbidden
from gateway.identity import Keyring
from gateway.store.db import Database
from gateway.transports.common import caller_of

OFFICER = "security-officer"
PREFIX = "/api/v1/audit"
MAX_LIMIT = 10_000
FHIR_NDJSON = "application/fhir+ndjson"
TREE_SIZE = "X-Audit-Tree-Size"


class Filters(BaseModel):
    """The search filters; `child` is set only by the server, from a typed number."""

    model_config = ConfigDict(extra="forbid")

    institution: str | None = None
    receipt: str | None = None
    notification: str | None = None
    outcome: str | None = None
    kind: str | None = None
    cert_fp: str | None = None
    since: str | None = None
    until: str | None = None
    after: int = Field(0, ge=0)
    limit: int = Field(1000, ge=1, le=MAX_LIMIT)

    def query(self, child: str | None = None) -> chain.Query:
        return chain.Query(
            institution=self.institution,
            receipt_id=self.receipt,
            outcome=self.outcome,
            kind=self.kind,
            since=self.since,
            until=self.until,
            notification_id=self.notification,
            limit=self.limit,
            cert_fp=self.cert_fp,
            child=child,
            after=self.after,
        )


class ChildSearch(Filters):
    """`POST /search`: the filters and one of `egn`, `lnch`."""

    egn: str | None = None
    lnch: str | None = None


def router(db: Database, keyring: Keyring, legal_basis: Mapping[str, str]) -> APIRouter:
    api = APIRouter(prefix=PREFIX)

    async def audited(request: Request, what: str, query: chain.Query, ok: bool) -> None:
        caller = caller_of(request)
        outcome = "ok" if ok else "refused"
        entry = export.read_entry(
            what, query, cert_fp=caller.fingerprint, institution=caller.institution, outcome=outcome
        )
        await db.write(partial(chain.append, entries=[entry]))

    async def gate(request: Request, what: str, query: chain.Query) -> None:
        """Refuse (and audit the attempt) unless the caller is an officer."""
        if OFFICER not in caller_of(request).roles:
            await audited(request, what, query, ok=False)
            raise Forbidden("the audit is served to security officers only")

    async def officer(request: Request, what: str, query: chain.Query) -> None:
        """Let an officer through once the read is durably audited."""
        await gate(request, what, query)
        await audited(request, what, query, ok=True)

    async def answer(query: chain.Query) -> Response:
        found = await db.read(lambda tx: chain.search(tx, query))
        body: dict[str, Any] = {"records": [chain.as_json(r) for r in found]}
        if len(found) == query.limit:
            body["next_after"] = found[-1].seq
        return Response(orjson.dumps(body), media_type="application/json")

    @api.get("/records")
    async def records(request: Request, filters: Annotated[Filters, Query()]) -> Response:
        query = filters.query()
        await officer(request, "api records", query)
        return await answer(query)

    @api.post("/search")
    async def search(request: Request, body: ChildSearch) -> Response:
        # A non-officer is refused before the number is even checked: nothing is derived.
        await gate(request, "api search", body.query())
        child = None
        if body.egn is not None or body.lnch is not None:
            child = children.derive(keyring, egn=body.egn, lnch=body.lnch)
        query = body.query(child)
        await audited(request, "api search", query, ok=True)
        return await answer(query)

    @api.get("/export")
    async def export_events(
        request: Request,
        since: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        tree_size: Annotated[int | None, Query(ge=1)] = None,
        checkpoint: bool = False,
    ) -> Response:
        """The period's AuditEvents up to the stored checkpoint of `tree_size` records (default
        the latest), each with its record bytes and inclusion proof in that tree; the size is
        in `X-Audit-Tree-Size`. `checkpoint=true` answers that checkpoint's signed note instead,
        for the inspector to verify the export against."""
        query = chain.Query(since=since, until=until)
        await officer(request, "api export checkpoint" if checkpoint else "api export", query)
        signed = await db.read(lambda tx: export.stored_checkpoint(tx, tree_size))
        if signed is None and (tree_size is not None or checkpoint):
            raise HTTPException(404, "no signed checkpoint of that size")
        size = None if signed is None else signed[0]
        headers = {} if size is None else {TREE_SIZE: str(size)}
        if checkpoint:
            assert signed is not None
            return Response(signed[1], media_type="text/plain; charset=utf-8", headers=headers)
        lines = export.lines_async(db, query, legal_basis, size)
        return StreamingResponse(lines, media_type=FHIR_NDJSON, headers=headers)

    @api.get("/checkpoint")
    async def checkpoint(request: Request) -> Response:
        await officer(request, "api checkpoint", chain.Query())
        text = await db.read(latest_checkpoint)
        if text is None:
            raise HTTPException(404, "no signed checkpoint yet")
        return Response(text, media_type="text/plain; charset=utf-8")

    return api
