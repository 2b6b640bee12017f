"""Reading the audit out: records page by page, FHIR NDJSON, and the `read` record each read leaves.

Every reader (the officer API, `gateway audit search|export|report`) appends a `read` record
naming who read and with which filters before it answers; the filters hold a child's internal
pseudonym at most, never the number that was typed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, replace
from functools import partial

import orjson

from gateway.audit.chain import Entry, Query, Record, search
from gateway.audit.fhir import render
from gateway.store.db import Database, Tx

PAGE = 1000


def _page(query: Query, tx: Tx) -> list[Record]:
    return search(tx, query)


def records(db: Database, query: Query, page: int = PAGE) -> Iterator[Record]:
    """Every record matching `query` (its limit ignored), in sequence order, a page at a time."""
    after = query.after
    while True:
        q = replace(query, after=after, limit=page)
        batch = db.read_sync(partial(_page, q))
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].seq


async def records_async(db: Database, query: Query, page: int = PAGE) -> AsyncIterator[Record]:
    after = query.after
    while True:
        q = replace(query, after=after, limit=page)
        batch = await db.read(partial(_page, q))
        for rec in batch:
            yield rec
        if len(batch) < page:
            return
        after = batch[-1].seq


def ndjson_line(rec: Record, legal_basis: Mapping[str, str]) -> bytes:
    return orjson.dumps(render(rec, legal_basis)) + b"\n"


def describe(what: str, query: Query) -> str:
    """`what` and the filters that were set, for the `read` record (pseudonyms only)."""
    default = Query()
    filters = [
        f"{name}={value}"
        for name, value in asdict(query).items()
        if value != getattr(default, name) and name != "child"
    ]
    if query.child is not None:
        filters.append("child=pseudonym")  # the pseudonym itself is the record's `children`
    return " ".join([what, *filters])


def read_entry(
    what: str,
    query: Query,
    *,
    cert_fp: str = "",
    institution: str = "",
    outcome: str = "ok",
) -> Entry:
    return Entry(
        "read",
        institution=institution,
        cert_fp=cert_fp,
        outcome=outcome,
        detail=describe(what, query),
        children=(query.child,) if query.child else (),
    )
