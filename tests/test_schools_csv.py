"""Schools over REST: the CSV batch transport in process, with a pipeline double that runs the
real adapter (so row errors are the adapter's) and records what it was handed."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.schools import SchoolsAdapter
from gateway.adapter import Adapter, TranslateContext, TransportSpec
from gateway.errors import ContractViolation, TooLarge, Unavailable, UnsupportedMediaType
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.receipts import Caller, Receipt
from gateway.resources import mappings_dir
from gateway.transports import csv_batch
from gateway.transports.problem import PROBLEM_BASE
from tests.fakes import FakePipeline, request, transport_app

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "schools" / "samples"
PATH = "/api/v1/schools/incidents"
SHARED = "schools-incidents.windows-1251.csv"
CSV = {"content-type": "text/csv"}
CP1251 = {"content-type": "text/csv; charset=windows-1251"}
CONTEXT = TranslateContext(
    Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32),
    Mappings.load(mappings_dir()),
    datetime(2026, 3, 11, tzinfo=UTC),
)
HEADER = (
    "incident_id;school_code;ekatte;incident_date;level;forms;victim_egn;victim_birth_date;"
    "victim_sex;perpetrator;ozd_signal_number;mvr_registration_number"
)
ROW = "2021-017;160001;56784;12.11.2021;2;физически;0847027871;;ж;ученик;;"


class TranslatingPipeline(FakePipeline):
    """Runs the adapter as the pipeline does; accepted rows get a receipt with their warnings."""

    async def submit(
        self, adapter: Adapter, raw: bytes, caller: Caller, document: object
    ) -> Receipt:
        self.submitted.append((adapter.slug, raw, caller, document))
        if isinstance(self.answer, Exception):
            raise self.answer
        record = adapter.translate(document, CONTEXT)
        number = len(self.submitted)
        return replace(self.answer, receipt_id=f"r-{number}", warnings=tuple(record.warnings))


def pipeline() -> TranslatingPipeline:
    return TranslatingPipeline(
        Receipt("r", "schools", datetime(2026, 3, 11, tzinfo=UTC), "accepted")
    )


def post(
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    fake: FakePipeline | None = None,
    caller: str | None = "schools",
    adapter: Adapter | None = None,
) -> tuple[httpx.Response, FakePipeline]:
    fake = fake or pipeline()
    app = transport_app(csv_batch.router(adapter or SchoolsAdapter(), fake))
    sent = CSV if headers is None else headers
    return request(app, "POST", PATH, caller=caller, content=body, headers=sent), fake


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 207, response.text
    assert response.headers["content-type"] == "application/json"
    found: list[dict[str, Any]] = response.json()["results"]
    return found


def problem(response: httpx.Response, status: int, kind: str) -> list[tuple[str | None, str]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + kind
    return [(e.get("column", e.get("pointer")), e["code"]) for e in body["errors"]]


def lines(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join((header, *rows)) + "\r\n").encode()


# -- the shared sample and the answer ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv; charset=windows-1251",
        "text/csv;charset=CP1251",
        'Text/CSV; Charset="Windows-1251"',
    ],
)
def test_the_windows_1251_sample(content_type: str) -> None:
    response, fake = post((SAMPLES / SHARED).read_bytes(), {"content-type": content_type})
    assert response.json() == {
        "results": [
            {"row": n, "incidentId": f"2021-00{n}", "status": "accepted", "receiptId": f"r-{n}",
             "warnings": [], "errors": []}
            for n in (1, 2, 3)
        ],
        "warnings": [],
    }  # fmt: skip
    assert [d["victim_sex"] for _, _, _, d in fake.submitted] == ["м", "ж", "м"]
    # A row's raw bytes: the header and the row, re-written as UTF-8 CSV with CRLF.
    text = (SAMPLES / SHARED).read_bytes().decode("cp1251").splitlines()
    assert fake.submitted[0][1] == f"{text[0]}\r\n{text[1]}\r\n".encode()


@pytest.mark.parametrize(
    "headers",
    [CSV, {"content-type": "text/csv; charset=utf-8"}, {"content-type": "TEXT/CSV; charset=UTF-8"}],
)
def test_utf_8_is_the_default_with_or_without_a_byte_order_mark(headers: dict[str, str]) -> None:
    for body in (lines(ROW), b"\xef\xbb\xbf" + lines(ROW)):
        response, fake = post(body, headers)
        assert [r["status"] for r in results(response)] == ["accepted"]
        assert "incident_id" in fake.submitted[0][3]


def test_a_comma_file_with_quoted_delimiters_and_line_breaks() -> None:
    body = (SAMPLES / "incidents-excel-comma.csv").read_bytes()
    response, fake = post(body)
    answer = response.json()
    assert answer["warnings"] == [{"code": "unknown-column", "path": "бележка"}]
    assert [(r["row"], r["incidentId"], r["status"]) for r in answer["results"]] == [
        (1, "2021-017, корпус Б", "accepted"),
        (2, "2017-044", "accepted"),
        (4, "2021-019", "accepted"),  # row 3 is fully empty: no result, still numbered
    ]
    assert answer["results"][0]["warnings"] == [
        {"code": "leading-zeros-restored", "path": "school_code"}
    ]
    documents = [d for _, _, _, d in fake.submitted]
    assert documents[0]["forms"] == "физически | вербален"
    assert documents[0]["бележка"] == 'спор в междучасието, "двор"'
    assert documents[1]["бележка"] == "ред 1\r\nред 2; ред 3"
    raw = fake.submitted[1][1].decode()
    assert raw.endswith('"ред 1\r\nред 2; ред 3"\r\n')
    parsed = list(csv.reader(io.StringIO(raw, newline="")))
    assert len(parsed) == 2 and parsed[1][-1] == "ред 1\r\nред 2; ред 3"


def test_header_names_are_trimmed_and_in_any_order() -> None:
    names = HEADER.split(";")
    cells = ROW.split(";")
    order = list(reversed(range(len(names))))
    header = ",".join(f" {names[i]} " for i in order)
    row = ",".join(cells[i] for i in order)
    response, fake = post(lines(row, header=header))
    assert [r["status"] for r in results(response)] == ["accepted"]
    assert fake.submitted[0][3]["victim_egn"] == "0847027871"


def test_optional_columns_may_be_missing_and_short_rows_are_padded() -> None:
    header = (
        "incident_id;school_code;ekatte;incident_date;level;forms;victim_sex;perpetrator;victim_egn"
    )
    with_egn = "2021-1;160001;56784;2021-11-12;1;кибер;ж;ученик;0847027871"
    short = "2021-2;160001;56784;2021-11-12;1;кибер;ж;ученик"
    response, _ = post(lines(with_egn, short, header=header))
    answer = results(response)
    assert answer[0]["status"] == "accepted"
    assert answer[1]["errors"] == [
        {"column": "victim_birth_date", "code": "required",
         "detail": "a birth date is required unless an ЕГН is given"}
    ]  # fmt: skip


# -- rows one by one ----------------------------------------------------------------------------


def test_good_rows_are_kept_when_others_are_wrong() -> None:
    bad = "2021-018;160001;56784;2021-11-31;4;побой;0847027872;;ж;ученик;;"
    response, fake = post(lines(ROW, bad, ROW.replace("2021-017", "2021-019")))
    answer = results(response)
    assert [(r["row"], r["status"], r["receiptId"]) for r in answer] == [
        (1, "accepted", "r-1"),
        (2, "rejected", None),
        (3, "accepted", "r-3"),
    ]
    assert [(e["column"], e["code"]) for e in answer[1]["errors"]] == [
        ("incident_date", "date"),
        ("level", "closed-list"),
        ("forms", "closed-list"),
        ("victim_egn", "check-digit"),
    ]
    assert "0847027872" not in response.text
    assert fake.refusals == []  # the pipeline audits the rows it rejects


def test_within_a_file_an_identical_repeat_goes_to_the_pipeline_a_different_one_is_rejected() -> (
    None
):
    same = "2021-017;160001;56784;2021-11-12;2;физически;847027871;;ж;ученик;;"  # same values
    other = "2021-017;160001;56784;2021-11-12;3;физически;0847027871;;ж;ученик;;"
    response, fake = post(lines(ROW, same, other))
    answer = results(response)
    assert [r["status"] for r in answer] == ["accepted", "accepted", "rejected"]
    assert answer[2]["errors"] == [
        {"column": "incident_id", "code": "conflict",
         "detail": "row 1 has the same record key with other values"}
    ]  # fmt: skip
    assert len(fake.submitted) == 2  # the pipeline answers the repeat `duplicate` itself
    ((_, slug, error, raw),) = fake.refusals
    assert slug == "schools" and isinstance(error, ContractViolation)
    assert raw is not None and raw.decode().endswith(other + "\r\n")


def test_a_rejected_row_does_not_take_its_key() -> None:
    broken = "2021-017;160001;56784;2021-11-12;9;физически;0847027871;;ж;ученик;;"
    response, _ = post(lines(broken, ROW))
    assert [r["status"] for r in results(response)] == ["rejected", "accepted"]


def test_another_victim_of_the_same_incident_is_another_record() -> None:
    other = "2021-017;160001;56784;12.11.2021;2;физически;1249304511;;ж;ученик;;"
    response, _ = post(lines(ROW, other))
    assert [r["status"] for r in results(response)] == ["accepted", "accepted"]


def test_a_row_with_more_cells_than_the_header() -> None:
    response, fake = post(lines(ROW + ";extra", ROW + ";;"))
    answer = results(response)
    assert answer[0]["errors"] == [
        {"column": None, "code": "format", "detail": "the row has more cells than the header"}
    ]
    assert answer[1]["status"] == "accepted" and len(fake.refusals) == 1


def test_a_store_that_is_down_answers_503_for_the_file() -> None:
    response, _ = post(lines(ROW), fake=TranslatingPipeline(Unavailable("down")))
    assert problem(response, 503, "unavailable") == [("#", "unavailable")]
    assert response.headers["retry-after"] == str(Unavailable.retry_after_seconds)


# -- the file as a whole --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "kind"),
    [
        ({"caller": None}, 401, "unauthenticated"),
        ({"caller": "ozd"}, 403, "forbidden"),
        ({"headers": {"content-type": "text/plain"}}, 415, "media-type"),
        ({"headers": {}}, 415, "media-type"),
        ({"headers": {"content-type": "text/csv; charset=latin-1"}}, 415, "media-type"),
        ({"headers": {"content-type": "text/csv; charset=utf-16"}}, 415, "media-type"),
        ({"headers": {"content-type": "text/csv; charset=utf8"}}, 415, "media-type"),
    ],
)
def test_refusals_before_the_body_is_read(kwargs: dict[str, Any], status: int, kind: str) -> None:
    response, fake = post(lines(ROW), **kwargs)
    problem(response, status, kind)
    assert fake.submitted == [] and len(fake.refusals) == 1 and fake.refusals[0][3] is None


def test_a_wrong_charset_is_415_before_a_too_large_body_is_413() -> None:
    small = SchoolsAdapter()
    small.transport = TransportSpec(kind="csv", path=PATH, max_bytes=10, media_types=("text/csv",))
    big = lines(ROW)
    headers = {"content-type": "text/csv; charset=koi8-r"}
    response, fake = post(big, headers, adapter=small)
    problem(response, 415, "media-type")
    assert isinstance(fake.refusals[0][2], UnsupportedMediaType)
    response, fake = post(big, adapter=small)
    assert problem(response, 413, "too-large") == [("#", "too-large")]
    assert isinstance(fake.refusals[0][2], TooLarge)


def test_more_rows_than_allowed_is_413() -> None:
    few = SchoolsAdapter()
    few.max_rows = 2
    response, fake = post(lines(ROW, ";;;;;;;;;;;", ROW, ROW), adapter=few)
    problem(response, 413, "too-large")
    assert fake.submitted == []
    response, _ = post(lines(ROW, ";;;;;;;;;;;", ROW), adapter=few)
    assert len(results(response)) == 2


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (lines(ROW).decode().encode("cp1251"), CSV),  # windows-1251 bytes sent as UTF-8
        (lines(ROW).decode().encode("cp1251") + b"\x98", CP1251),  # 0x98 is no character
        (lines('"2021-017;160001', header=HEADER), CSV),  # an unterminated quote
        (lines('"2021-017"x;160001'), CSV),  # a quoted cell must end at its quote
        (lines(ROW + "\x00"), CSV),
    ],
)
def test_undecodable_or_not_csv_is_400(body: bytes, headers: dict[str, str]) -> None:
    response, fake = post(body, headers)
    assert problem(response, 400, "not-json")[0][1] == "not-json"
    assert fake.submitted == [] and fake.refusals[0][3] == body
    assert "0847027871" not in response.text


@pytest.mark.parametrize(
    "body", [b"", lines(), lines(";;;;;;;;;;;", "", ";;;;;;;;;;;"), HEADER.encode()]
)
def test_a_file_with_no_data_rows_is_422(body: bytes) -> None:
    response, fake = post(body)
    found = problem(response, 422, "contract-violation")
    assert found[-1] == ("#", "required")
    assert fake.submitted == [] and len(fake.refusals) == 1


def test_every_missing_required_column_is_listed_at_once() -> None:
    header = "incident_id;ekatte;forms;victim_egn;perpetrator;бележка"
    response, _ = post(lines("2021-1;56784;кибер;0847027871;ученик;x", header=header))
    assert problem(response, 422, "contract-violation") == [
        ("school_code", "required"),
        ("incident_date", "required"),
        ("level", "required"),
        ("victim_sex", "required"),
    ]


def test_a_column_named_twice_is_422() -> None:
    response, _ = post(lines(ROW + ";56784", header=HEADER + "; ekatte"))
    assert problem(response, 422, "contract-violation") == [("ekatte", "conflict")]


def test_unknown_columns_are_warned_once_for_the_file_blank_header_cells_ignored() -> None:
    response, _ = post(lines(ROW + ";5а;;x", ROW.replace("017", "018") + ";5б;;",
                             header=HEADER + ";клас;;клас2"))  # fmt: skip
    assert response.json()["warnings"] == [
        {"code": "unknown-column", "path": "клас"},
        {"code": "unknown-column", "path": "клас2"},
    ]
    assert [r["warnings"] for r in results(response)] == [[], []]


def test_the_router_serves_only_csv_adapters() -> None:
    from adapters.ozd import OzdAdapter

    with pytest.raises(ValueError, match="'json'"):
        csv_batch.router(OzdAdapter(), pipeline())
