"""The NDJSON batch transport in process, scripted pipeline: lines, limits, failures, memory."""

from __future__ import annotations

import asyncio
import random
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from adapters.helpline import HelplineAdapter
from adapters.ozd import OzdAdapter
from gateway.adapter import Adapter
from gateway.errors import (
    ContractViolation,
    Forbidden,
    NotParseable,
    Problem,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from gateway.facts import DataWarning
from gateway.receipts import Caller, Receipt
from gateway.transports import ndjson
from gateway.transports.problem import PROBLEM_BASE
from tests.fakes import caller_for, request, transport_app

PATH = "/api/v1/helpline/contacts"
NDJSON = {"content-type": "application/x-ndjson"}
ADAPTER = HelplineAdapter()


@dataclass
class ScriptedPipeline:
    """Answers each line by its `answer` field: accepted, duplicate, out-of-scope, reject,
    unavailable, crash; keeps only counts and the order of contact ids (no documents)."""

    delay: float = 0.0
    calls: int = 0
    order: list[str] = field(default_factory=list)
    refusals: list[tuple[Caller | None, str, Exception, bytes | None]] = field(default_factory=list)
    keep_order: bool = False

    async def submit(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt:
        assert isinstance(document, dict)
        self.calls += 1
        # The order of the calls: the real pipeline commits in that order (gateway/ordering.py,
        # tests/core/test_pipeline.py), however long each call then takes.
        if self.keep_order:
            self.order.append(f"{document['contactId']}#{document.get('revision', 1)}")
        if self.delay:
            await asyncio.sleep(random.uniform(0, self.delay))
        answer = document.get("answer", "accepted")
        if answer == "reject":
            raise ContractViolation(
                [Problem("#/child/sex", "closed-list", "sex is not in the list")]
            )
        if answer == "unavailable":
            raise Unavailable("the store cannot commit now")
        if answer == "crash":
            raise RuntimeError("a defect")
        return Receipt(
            receipt_id=f"r-{document['contactId']}",
            institution="helpline",
            received_at=datetime(2026, 3, 11, tzinfo=UTC),
            status=answer,
            notification_ids=("n-1",) if answer == "accepted" else (),
            warnings=(DataWarning("ageband-mismatch", "#/child/ageBand", 0),)
            if document.get("warn")
            else (),
        )

    async def receipt(self, caller: Caller, receipt_id: str) -> Receipt:
        raise NotImplementedError

    async def refused(
        self, caller: Caller | None, slug: str, error: Exception, raw: bytes | None = None
    ) -> None:
        self.refusals.append((caller, slug, error, raw))


def post(
    pipeline: ScriptedPipeline,
    body: bytes | AsyncIterator[bytes],
    headers: dict[str, str] | None = None,
    caller: str | None = "helpline",
) -> httpx.Response:
    app = transport_app(ndjson.router(ADAPTER, pipeline))
    sent = NDJSON if headers is None else headers
    return request(app, "POST", PATH, caller=caller, content=body, headers=sent)


def line(contact: str = "HL-1", **fields: Any) -> bytes:
    return orjson.dumps({"contactId": contact, **fields})


def batch(*lines: bytes, end: bytes = b"\n") -> bytes:
    return end.join(lines) + end


async def chunked(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def summary(response: httpx.Response) -> list[tuple[int, str | None, str, list[str]]]:
    assert response.status_code == 207, response.text
    assert response.headers["content-type"] == "application/json"
    return [
        (r["line"], r["contactId"], r["status"], [e["code"] for e in r["errors"]])
        for r in response.json()["results"]
    ]


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + kind
    return body


# -- lines and their results ------------------------------------------------------------------


def test_each_line_gets_its_result_in_order() -> None:
    pipeline = ScriptedPipeline()
    body = batch(
        line("A"),
        line("B", answer="duplicate", warn=True),
        line("C", answer="out-of-scope"),
        line("D", answer="reject"),
    )
    response = post(pipeline, body)
    assert response.json()["results"] == [
        {"line": 1, "contactId": "A", "status": "accepted", "receiptId": "r-A", "warnings": [],
         "errors": []},
        {"line": 2, "contactId": "B", "status": "duplicate", "receiptId": "r-B",
         "warnings": [{"code": "ageband-mismatch", "path": "#/child/ageBand"}], "errors": []},
        {"line": 3, "contactId": "C", "status": "out-of-scope", "receiptId": "r-C",
         "warnings": [], "errors": []},
        {"line": 4, "contactId": "D", "status": "rejected", "receiptId": None, "warnings": [],
         "errors": [{"pointer": "#/child/sex", "code": "closed-list",
                     "detail": "sex is not in the list"}]},
    ]  # fmt: skip
    assert response.status_code == 207 and pipeline.calls == 4 and pipeline.refusals == []


def test_bom_crlf_blank_lines_and_the_final_newline() -> None:
    body = b"\xef\xbb\xbf" + line("A") + b"\r\n\r\n  \t\r\n" + line("D") + b"\r\n\n" + line("F")
    assert summary(post(ScriptedPipeline(), body)) == [
        (1, "A", "accepted", []),
        (4, "D", "accepted", []),
        (6, "F", "accepted", []),
    ]
    assert summary(post(ScriptedPipeline(), line("A") + b"\n")) == [(1, "A", "accepted", [])]


def test_a_byte_order_mark_is_accepted_only_at_the_start() -> None:
    body = batch(line("A"), b"\xef\xbb\xbf" + line("B"))
    assert summary(post(ScriptedPipeline(), body)) == [
        (1, "A", "accepted", []),
        (2, None, "rejected", ["not-json"]),
    ]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"{not json", "not-json"),
        (b'{"contactId": "\xff\xfe"}', "not-json"),
        ('{"contactId": "é"}'.encode("latin-1"), "not-json"),
        (b"[1, 2]", "format"),
        (b'"HL-1"', "format"),
        (b"null", "format"),
    ],
)
def test_a_line_that_is_not_a_json_object_is_rejected_alone(bad: bytes, code: str) -> None:
    pipeline = ScriptedPipeline()
    response = post(pipeline, batch(line("A"), bad, line("C")))
    assert summary(response) == [
        (1, "A", "accepted", []),
        (2, None, "rejected", [code]),
        (3, "C", "accepted", []),
    ]
    assert response.json()["results"][1]["errors"][0]["pointer"] == "#"
    ((caller, slug, error, raw),) = pipeline.refusals
    assert (caller, slug, raw) == (caller_for("helpline"), "helpline", bad)
    assert isinstance(error, NotParseable if code == "not-json" else ContractViolation)


def test_the_contact_id_is_echoed_only_when_it_is_a_string() -> None:
    body = batch(orjson.dumps({"contactId": 7, "answer": "reject"}), line(" HL-2 "))
    assert summary(post(ScriptedPipeline(), body)) == [
        (1, None, "rejected", ["closed-list"]),
        (2, " HL-2 ", "accepted", []),
    ]


def test_lines_go_to_the_pipeline_in_line_order_and_results_come_back_so() -> None:
    pipeline = ScriptedPipeline(delay=0.002, keep_order=True)
    lines = [line(f"C{i % 7}", revision=i // 7 + 1) for i in range(70)]
    results = summary(post(pipeline, batch(*lines)))
    assert [r[0] for r in results] == list(range(1, 71))
    assert pipeline.order == [f"C{i % 7}#{i // 7 + 1}" for i in range(70)]


# -- refusals of the whole batch --------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-ndjson",
        "application/ndjson",
        "Application/X-NDJSON",
        "application/x-ndjson; charset=utf-8",
        'application/ndjson;charset="UTF8"',
    ],
)
def test_ndjson_media_types(content_type: str) -> None:
    assert (
        post(ScriptedPipeline(), batch(line()), {"content-type": content_type}).status_code == 207
    )


@pytest.mark.parametrize(
    ("headers", "caller", "status", "kind", "error"),
    [
        (NDJSON, None, 401, "unauthenticated", Unauthenticated),
        (NDJSON, "ozd", 403, "forbidden", Forbidden),
        ({"content-type": "application/json"}, "helpline", 415, "media-type", UnsupportedMediaType),
        ({"content-type": "text/csv"}, "helpline", 415, "media-type", UnsupportedMediaType),
        ({}, "helpline", 415, "media-type", UnsupportedMediaType),
        ({"content-type": "application/x-ndjson; charset=windows-1251"}, "helpline", 415,
         "media-type", UnsupportedMediaType),
    ],
)  # fmt: skip
def test_refusals_before_the_body_is_read(
    headers: dict[str, str], caller: str | None, status: int, kind: str, error: type[Exception]
) -> None:
    pipeline = ScriptedPipeline()
    assert_problem(post(pipeline, batch(line()), headers, caller), status, kind)
    assert pipeline.calls == 0
    ((_, slug, refused, raw),) = pipeline.refusals
    assert (slug, type(refused), raw) == ("helpline", error, None)


@pytest.mark.parametrize("body", [b"", b"\n", b"\r\n\r\n", b"\xef\xbb\xbf", b"  \n\t\n"])
def test_an_empty_batch_is_422(body: bytes) -> None:
    pipeline = ScriptedPipeline()
    problem = assert_problem(post(pipeline, body), 422, "contract-violation")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("#", "required")]
    assert pipeline.calls == 0 and isinstance(pipeline.refusals[0][2], ContractViolation)


def test_a_declared_size_over_10_mib_is_413_before_reading() -> None:
    pipeline = ScriptedPipeline()
    body = line() + b" " * (10 * 1024 * 1024)
    assert_problem(post(pipeline, body), 413, "too-large")
    assert pipeline.calls == 0 and isinstance(pipeline.refusals[0][2], TooLarge)


def test_exactly_10_mib_is_read() -> None:
    document = line()
    body = document + b" " * (10 * 1024 * 1024 - len(document))
    assert summary(post(ScriptedPipeline(), chunked(body, 1 << 16))) == [
        (1, "HL-1", "accepted", [])
    ]


def test_a_streamed_batch_over_10_mib_with_nothing_kept_is_413() -> None:
    pipeline = ScriptedPipeline()
    body = batch(line("A", answer="reject"), b"{" + b" " * (10 * 1024 * 1024) + b"}")
    assert_problem(post(pipeline, chunked(body, 1 << 16)), 413, "too-large")
    assert pipeline.calls == 1 and isinstance(pipeline.refusals[-1][2], TooLarge)


def test_a_streamed_batch_over_10_mib_after_kept_lines_rejects_where_it_stopped() -> None:
    pipeline = ScriptedPipeline()
    body = batch(line("A"), line("B"), b"{" + b" " * (10 * 1024 * 1024) + b"}", line("D"))
    response = post(pipeline, chunked(body, 1 << 16))
    assert summary(response) == [
        (1, "A", "accepted", []),
        (2, "B", "accepted", []),
        (3, None, "rejected", ["too-large"]),
    ]
    assert isinstance(pipeline.refusals[-1][2], TooLarge)


def test_10000_lines_are_read_and_line_10001_is_over_the_limit() -> None:
    full = batch(*(line(f"L{i}") for i in range(10_000)))
    assert len(summary(post(ScriptedPipeline(), full))) == 10_000
    results = summary(post(ScriptedPipeline(), full + b"\n"))  # line 10,001 exists, blank
    assert results[-1] == (10_001, None, "rejected", ["too-large"]) and len(results) == 10_001
    rejected = batch(*(line(f"L{i}", answer="reject") for i in range(10_000)), b"\n")
    assert_problem(post(ScriptedPipeline(), rejected), 413, "too-large")


# -- the store failing ------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["unavailable", "crash"])
def test_a_store_failure_before_anything_was_kept_is_503(failure: str) -> None:
    pipeline = ScriptedPipeline()
    body = batch(line("A", answer="reject"), line("B", answer=failure), line("C"), b"oops")
    response = post(pipeline, body)
    problem = assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)
    assert problem["errors"][0]["code"] == "unavailable"
    assert pipeline.calls == 2  # nothing after the failure was tried


def test_a_store_failure_mid_batch_rejects_every_line_not_stored() -> None:
    pipeline = ScriptedPipeline()
    body = batch(line("A"), line("B", answer="unavailable"), line("C"), b"", b"oops", line("F"))
    response = post(pipeline, body)
    assert summary(response) == [
        (1, "A", "accepted", []),
        (2, "B", "rejected", ["unavailable"]),
        (3, "C", "rejected", ["unavailable"]),
        (5, None, "rejected", ["not-json"]),
        (6, "F", "rejected", ["unavailable"]),
    ]
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)
    assert pipeline.calls == 2


def test_the_router_serves_only_ndjson_adapters() -> None:
    with pytest.raises(ValueError, match="json"):
        ndjson.router(OzdAdapter(), ScriptedPipeline())


# -- memory does not grow with the batch ------------------------------------------------------


async def _drive(app: FastAPI, chunks: AsyncIterator[bytes]) -> tuple[int, int]:
    """POST through the ASGI interface itself, discarding the answer's bytes as they come."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("gw", 80),
        "headers": [(b"content-type", NDJSON["content-type"].encode()),
                    (b"x-test-caller", b"helpline")],
    }  # fmt: skip
    status, size = 0, 0
    iterator = chunks.__aiter__()
    body_done, answered = False, asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal body_done
        if body_done:  # as a server does: nothing more until the client goes away
            await answered.wait()
            return {"type": "http.disconnect"}
        try:
            return {"type": "http.request", "body": await anext(iterator), "more_body": True}
        except StopAsyncIteration:
            body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    return status, size


async def _lines(count: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield orjson.dumps(
            {"contactId": f"HL-2026-{i:08d}", "startedAt": "2026-02-02T09:15:00+02:00",
             "channel": "phone", "caller": "child", "categories": ["AV.PHY", "MH.ANX"],
             "child": {"age": 12, "sex": "m", "region": "BG-22"}, "note": "x" * 700}
        ) + b"\n"  # fmt: skip


def _peak(count: int) -> tuple[int, int, float]:
    app = transport_app(ndjson.router(ADAPTER, ScriptedPipeline()))
    tracemalloc.start()
    try:
        started = time.perf_counter()
        status, size = asyncio.run(_drive(app, _lines(count)))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 207 and size > count * 100
    return peak, size, elapsed


def test_memory_does_not_grow_with_the_batch() -> None:
    _peak(100)  # warm up imports and caches
    small, small_answer, _ = _peak(100)
    large, large_answer, elapsed = _peak(10_000)
    print(
        f"\ntracemalloc peak: 100 lines {small / 1024:.0f} KiB (answer {small_answer} B), "
        f"10,000 lines {large / 1024:.0f} KiB (answer {large_answer} B, "
        f"body {10_000 * 850 / 1e6:.1f} MB, {elapsed:.1f} s)"
    )
    assert large - small < 512 * 1024
