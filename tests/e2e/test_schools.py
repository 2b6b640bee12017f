"""Schools end to end over real mutual TLS: CSV files → gateway → register, as the regional
education offices upload them."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import uuid
from pathlib import Path
from typing import Any

import httpx

from adapters.schools import SchoolsAdapter
from gateway.codes import source_system
from gateway.devstack import Stack
from tests.e2e.checks import files_containing, personal_values, queue_counts, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "schools" / "samples"
PATH = "/api/v1/schools/incidents"
SHARED = "schools-incidents.windows-1251.csv"
CSV = {"content-type": "text/csv"}
COLUMNS = list(SchoolsAdapter.columns)
EGN = "0847027871"


def row(**changes: str) -> dict[str, str]:
    base = dict.fromkeys(COLUMNS, "")
    base.update(
        incident_id=f"E2E-{uuid.uuid4().hex[:10]}",
        school_code="160001",
        ekatte="56784",
        incident_date="2021-11-12",
        level="2",
        forms="физически|вербален",
        victim_egn=EGN,
        victim_sex="ж",
        perpetrator="ученик",
    )
    base.update(changes)
    return base


def csv_file(*rows: dict[str, str], delimiter: str = ";") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def post(client: httpx.Client, body: bytes, headers: dict[str, str] = CSV) -> httpx.Response:
    return client.post(PATH, content=body, headers=headers)


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 207, response.text
    return [r["status"] for r in response.json()["results"]]


def received(stack: Stack, reference: str, count: int) -> list[dict[str, Any]]:
    """The register's notifications of the incident `reference` (the victim is not in it)."""

    def found() -> list[dict[str, Any]] | None:
        rows = [n for n in stack.register_notifications() if n["incident_reference"] == reference]
        return rows if len(rows) >= count else None

    rows = wait_until(found)
    assert rows, f"the register did not receive {count} notification(s) of {reference}"
    return list(rows)


def linkage_pseudonym(stack: Stack, digits: str) -> str:
    key = bytes.fromhex((stack.layout.root / "keys" / "linkage-2026-1.key").read_text().strip())
    return hmac.new(key, f"EGN:{digits}".encode(), hashlib.sha256).hexdigest()


def test_the_windows_1251_sample_reaches_the_register(stack: Stack) -> None:
    body = (SAMPLES / SHARED).read_bytes()
    with stack.client("schools") as client:
        first = post(client, body, {"content-type": "text/csv; charset=windows-1251"})
        assert statuses(first) == ["accepted"] * 3
        results = first.json()["results"]
        assert [(r["row"], r["incidentId"]) for r in results] == [
            (1, "2021-001"),
            (2, "2021-002"),
            (3, "2021-003"),
        ]
        receipt = client.get(f"/api/v1/receipts/{results[0]['receiptId']}").json()
        assert (receipt["institution"], receipt["status"]) == ("schools", "accepted")
        again = post(client, body, {"content-type": "text/csv; charset=CP1251"})
        assert statuses(again) == ["duplicate"] * 3
        assert [r["receiptId"] for r in again.json()["results"]] == [
            r["receiptId"] for r in results
        ]
    [row1] = received(stack, "schools:160001/2021-001", 1)
    assert row1["notification_id"] == receipt["notificationIds"][0]
    assert (row1["event"], row1["institution"]) == ("new", "schools")
    assert row1["child_pseudonyms"] == [
        {"key_id": "linkage-2026-1", "value": linkage_pseudonym(stack, "1342197400")}
    ]
    assert (row1["birth_date"], row1["sex"], row1["incident_date"]) == (
        "2013-02-19",
        "male",
        "2021-11-04",
    )
    assert row1["forms"] == ["physical", "bullying"] and row1["relationships"] == ["peer"]
    assert (row1["setting"], row1["case_stage"], row1["outcome"], row1["attempted"]) == (
        "school",
        "substantiated",
        "unknown",
        False,
    )
    assert (row1["place_kind"], row1["ekatte"], row1["references"]) == ("school", "56784", {})
    assert row1["source_codes"] == [
        {"system": source_system("schools", "level"), "code": "3"},
        {"system": source_system("schools", "forms"), "code": "физически"},
        {"system": source_system("schools", "victim_sex"), "code": "м"},
        {"system": source_system("schools", "perpetrator"), "code": "ученик"},
    ]
    [row2] = received(stack, "schools:160001/2021-002", 1)
    assert row2["forms"] == ["physical"] and row2["relationships"] == ["caregiver-professional"]


def test_a_record_repeated_respelled_updated_and_conflicting(stack: Stack) -> None:
    original = row(mvr_registration_number="ЗМ-5/2021")
    respelled = {**original, "incident_date": "12.11.2021", "victim_egn": EGN[1:]}
    level3 = {**original, "level": "3"}
    with stack.client("schools") as client:
        first = post(client, csv_file(original)).json()["results"][0]
        assert (first["status"], first["warnings"]) == ("accepted", [])
        same = post(client, csv_file(respelled, delimiter=",")).json()["results"][0]
        assert (same["status"], same["receiptId"]) == ("duplicate", first["receiptId"])
        assert statuses(post(client, csv_file(level3))) == ["accepted"]
        # back to the first values: they differ from the latest accepted ones
        assert statuses(post(client, csv_file(original))) == ["accepted"]
        # within one file: an identical repeat is a duplicate, other values are rejected
        conflict = post(client, csv_file(level3, level3, original))
        assert statuses(conflict) == ["accepted", "duplicate", "rejected"]
        assert conflict.json()["results"][2]["errors"][0]["code"] == "conflict"
    rows = received(stack, f"schools:160001/{original['incident_id']}", 4)
    assert [r["event"] for r in rows] == ["new", "update", "update", "update"]
    assert [r["case_stage"] for r in rows] == [
        "reported",
        "substantiated",
        "reported",
        "substantiated",
    ]
    assert len({r["case_key"] for r in rows}) == 1
    assert rows[0]["references"] == {"mvr": "ЗМ-5/2021"}
    assert EGN not in str(rows)


def test_two_victims_of_one_incident_are_two_cases(stack: Stack) -> None:
    one = row(forms="кибер")
    two = {**one, "victim_egn": "", "victim_birth_date": "7.6.2011", "victim_sex": "м"}
    with stack.client("schools") as client:
        assert statuses(post(client, csv_file(one, two))) == ["accepted", "accepted"]
    rows = received(stack, f"schools:160001/{one['incident_id']}", 2)
    assert len({r["case_key"] for r in rows}) == 2
    assert {(r["sex"], r["birth_date"], r["setting"]) for r in rows} == {
        ("female", "2008-07-02", "online"),
        ("male", "2011-06-07", "online"),
    }


def test_excel_file_with_commas_quotes_and_lost_zeros(stack: Stack) -> None:
    with stack.client("schools") as client:
        response = post(client, (SAMPLES / "incidents-excel-comma.csv").read_bytes())
    answer = response.json()
    assert answer["warnings"] == [{"code": "unknown-column", "path": "бележка"}]
    assert [(r["row"], r["status"]) for r in answer["results"]] == [
        (1, "accepted"),
        (2, "accepted"),
        (4, "accepted"),
    ]
    assert answer["results"][1]["warnings"] == [
        {"code": "leading-zeros-restored", "path": "victim_egn"}
    ]
    [first] = received(stack, "schools:010135/2021-017, корпус Б", 1)
    assert (first["ekatte"], first["birth_date"]) == ("07079", "2008-07-02")
    assert first["warnings"] == [{"code": "leading-zeros-restored", "path": "school_code"}]


def test_out_of_scope_and_errors(stack: Stack) -> None:
    with stack.client("schools") as client:
        adults = post(client, (SAMPLES / "out-of-scope.csv").read_bytes())
        assert statuses(adults) == ["out-of-scope", "out-of-scope"]
        assert all(r["receiptId"] for r in adults.json()["results"])
        bad = row(victim_egn="0847027872", level="4", forms="физически|побой")
        mixed = post(client, csv_file(row(), bad))
        assert statuses(mixed) == ["accepted", "rejected"]
        assert [(e["column"], e["code"]) for e in mixed.json()["results"][1]["errors"]] == [
            ("level", "closed-list"),
            ("forms", "closed-list"),
            ("victim_egn", "check-digit"),
        ]
        assert "0847027872" not in mixed.text
        missing = post(client, b"incident_id;ekatte\r\n1;56784\r\n")
        assert missing.status_code == 422
        assert missing.headers["content-type"] == "application/problem+json"
        assert {e["column"] for e in missing.json()["errors"]} >= {"school_code", "victim_sex"}
        assert post(client, csv_file(), CSV).status_code == 422
        latin = {"content-type": "text/csv; charset=iso-8859-1"}
        assert post(client, csv_file(row()), latin).status_code == 415
        assert post(client, b"\xff\xfe;", CSV).status_code == 400
        assert (
            post(client, csv_file(row()), {"content-type": "application/json"}).status_code == 415
        )
        big = b"a" * (20 * 1024 * 1024 + 1)
        assert post(client, big).status_code == 413
    with stack.client("ozd") as other:
        refused = post(other, csv_file(row()))
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == "forbidden"


def test_no_personal_data_anywhere_after_all_samples(fresh_stack: Stack) -> None:
    stack = fresh_stack
    values = personal_values()
    listed = set((SAMPLES / "personal-data.txt").read_text("utf-8").split())
    assert listed <= values
    with stack.client("schools") as client:
        for sample in sorted(SAMPLES.glob("*.csv")):
            charset = "windows-1251" if "1251" in sample.name else "utf-8"
            headers = {"content-type": f"text/csv; charset={charset}"}
            response = post(client, sample.read_bytes(), headers)
            assert set(statuses(response)) <= {"accepted", "out-of-scope"}, sample.name
        # rejected rows too: their personal data must not reach the log or the audit
        broken = post(client, csv_file(row(victim_egn="0847027872"), row(victim_egn="847027871")))
        assert statuses(broken) == ["rejected", "accepted"]
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"})
    stack.stop()
    leaks = files_containing(stack.root, listed | {"0847027872"})
    assert leaks == {}, f"personal data found: {leaks}"
