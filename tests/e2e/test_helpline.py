"""The helpline end to end over real mutual TLS: NDJSON batches → gateway → register."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.codes import source_system
from gateway.devstack import Stack
from tests.e2e.checks import files_containing, personal_values, queue_counts, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "helpline" / "samples"
PATH = "/api/v1/helpline/contacts"
NDJSON = {"content-type": "application/x-ndjson"}


def sample_lines(name: str, prefix: str) -> list[dict[str, Any]]:
    """A sample's contacts, their ids prefixed so that tests sharing a stack never collide."""
    raw = (SAMPLES / name).read_bytes().removeprefix(b"\xef\xbb\xbf")
    found = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    for document in found:
        document["contactId"] = f"{prefix}{document['contactId']}"
    return found


def ndjson(*documents: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in documents)


def post(client: httpx.Client, body: bytes, headers: dict[str, str] = NDJSON) -> httpx.Response:
    return client.post(PATH, content=body, headers=headers)


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 207, response.text
    found: list[dict[str, Any]] = response.json()["results"]
    return found


def received(stack: Stack, reference: str, count: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        rows = [n for n in stack.register_notifications() if n["incident_reference"] == reference]
        return rows if len(rows) >= count else None

    rows = wait_until(found)
    assert rows, f"the register did not receive {count} notification(s) of {reference}"
    return list(rows)


def prefix() -> str:
    return f"E2E-{uuid.uuid4().hex[:8]}-"


def test_the_shared_sample_reaches_the_register(stack: Stack) -> None:
    contacts = sample_lines("helpline-contacts.ndjson", prefix())
    with stack.client("helpline") as client:
        answer = results(post(client, ndjson(*contacts)))
        assert [(r["line"], r["status"]) for r in answer] == [
            (1, "out-of-scope"),
            (2, "accepted"),
            (3, "accepted"),
            (4, "accepted"),
        ]
        assert [r["contactId"] for r in answer] == [c["contactId"] for c in contacts]
        receipt = client.get(f"/api/v1/receipts/{answer[1]['receiptId']}").json()
        assert (receipt["status"], receipt["institution"]) == ("accepted", "helpline")
        assert len(receipt["notificationIds"]) == 1
    with stack.client("ozd") as other:
        assert other.get(f"/api/v1/receipts/{answer[1]['receiptId']}").status_code == 404
    [row] = received(stack, f"helpline:{contacts[1]['contactId']}", 1)
    assert row["notification_id"] == receipt["notificationIds"][0]
    assert (row["event"], row["institution"], row["incident_date"]) == (
        "new",
        "helpline",
        "2021-06-14",
    )
    assert (row["child_pseudonyms"], row["birth_date"], row["age"], row["age_band"]) == (
        [],
        None,
        8,
        None,
    )
    assert row["sex"] == "unknown" and row["forms"] == ["psychological"]
    assert (row["outcome"], row["attempted"], row["relationships"]) == (
        "unknown",
        False,
        ["unknown"],
    )
    assert (row["setting"], row["case_stage"]) == ("family", "reported")
    assert (row["place_kind"], row["region"], row["ekatte"]) == ("residence", "BG-16", None)
    assert row["references"] == {} and row["warnings"] == []
    assert row["source_codes"] == [
        {"system": source_system("helpline", "channel"), "code": "phone"},
        {"system": source_system("helpline", "caller"), "code": "child"},
        {"system": source_system("helpline", "sex"), "code": "x"},
        {"system": source_system("helpline", "categories"), "code": "AV.EMO"},
        {"system": source_system("helpline", "categories"), "code": "AV.DVW"},
    ]
    [neglect] = received(stack, f"helpline:{contacts[2]['contactId']}", 1)
    assert neglect["forms"] == ["neglect"] and neglect["setting"] == "unknown"
    assert {"system": source_system("helpline", "categories"), "code": "FR.REL"} in (
        neglect["source_codes"]
    )
    out_of_scope = f"helpline:{contacts[0]['contactId']}"
    assert not [
        n for n in stack.register_notifications() if n["incident_reference"] == out_of_scope
    ]


def test_revisions_update_repeat_and_cancel(stack: Stack) -> None:
    first, second, third, again = sample_lines("revisions.ndjson", prefix())
    with stack.client("helpline") as client:
        one = results(post(client, ndjson(first)))[0]
        assert one["status"] == "accepted" and one["warnings"] == []
        # revision 2, then 2 again and 1 again in one batch: each repeat gets its first answer
        two, repeat, older = results(post(client, ndjson(second, again, first)))
        assert two["status"] == "accepted"
        assert (repeat["status"], repeat["receiptId"]) == ("duplicate", two["receiptId"])
        assert (older["status"], older["receiptId"]) == ("duplicate", one["receiptId"])
        # a lower revision never seen before gets the highest accepted revision's receipt
        other = f"{first['contactId']}-B"
        newer, lower = results(post(client, ndjson({**second, "contactId": other},
                                                   {**first, "contactId": other})))  # fmt: skip
        assert newer["warnings"] == [{"code": "source-event-mismatch", "path": "#/revision"}]
        assert (lower["status"], lower["receiptId"]) == ("duplicate", newer["receiptId"])
        cancel = results(post(client, ndjson(third)))[0]
        assert cancel["status"] == "accepted"
        receipt = client.get(f"/api/v1/receipts/{cancel['receiptId']}").json()
        assert len(receipt["notificationIds"]) == 1
    rows = received(stack, f"helpline:{first['contactId']}", 3)
    assert [r["event"] for r in rows] == ["new", "update", "cancel"]
    assert len({r["case_key"] for r in rows}) == 1
    assert rows[1]["references"] == {"ozd": "ОЗД-ПД-2026-000118"}
    assert rows[1]["forms"] == ["physical", "psychological"]


def test_children_categories_and_warnings(stack: Stack) -> None:
    run = prefix()
    with stack.client("helpline") as client:
        answer = results(post(client, (SAMPLES / "every-category.ndjson").read_bytes().replace(
            b'"HL-S-', f'"{run}HL-S-'.encode())))  # fmt: skip
        assert {r["status"] for r in answer} == {"accepted"}
        body = (SAMPLES / "child-variants.ndjson").read_bytes()
        answer = results(post(client, body.replace(b'"HL-S-', f'"{run}HL-S-'.encode())))
    statuses = {r["contactId"].removeprefix(f"{run}HL-S-CHILD-"): r for r in answer}
    assert statuses["ADULT"]["status"] == "out-of-scope"
    assert statuses["NOAV"]["status"] == "out-of-scope"
    assert statuses["MISMATCH"]["warnings"] == [
        {"code": "ageband-mismatch", "path": "#/child/ageBand"}
    ]
    band = received(stack, f"helpline:{run}HL-S-CHILD-BAND", 1)[0]
    assert (band["age"], band["age_band"], band["sex"]) == (None, "12-14", "female")
    mismatch = received(stack, f"helpline:{run}HL-S-CHILD-MISMATCH", 1)[0]
    assert (mismatch["age"], mismatch["age_band"], mismatch["sex"]) == (7, None, "male")
    assert mismatch["incident_date"] == "2026-02-04"  # the date in its own offset (-01:00)
    assert mismatch["warnings"] == [{"code": "ageband-mismatch", "path": "#/child/ageBand"}]
    none = received(stack, f"helpline:{run}HL-S-CHILD-NONE", 1)[0]
    assert (none["age"], none["age_band"], none["sex"], none["place_kind"]) == (
        None,
        None,
        "unknown",
        None,
    )
    online = received(stack, f"helpline:{run}HL-S-CAT-OSE", 1)[0]
    assert online["forms"] == ["sexual", "exploitation", "online"]
    assert online["setting"] == "online"
    everything = received(stack, f"helpline:{run}HL-S-CAT-ALL", 1)[0]
    assert everything["setting"] == "unknown"
    assert everything["warnings"] == [
        {"code": "conflicting-implied-settings", "path": "#/categories"}
    ]


def test_errors_are_per_line_and_refusals_are_whole(stack: Stack) -> None:
    run = prefix()
    good = sample_lines("helpline-contacts.ndjson", run)[3]
    bad = {**good, "contactId": f"{run}BAD", "channel": "fax", "child": {"age": -1, "sex": "F"},
           "categories": ["AV.PHY", "AV.XXX"]}  # fmt: skip
    body = b"\xef\xbb\xbf" + ndjson(bad).replace(b"\n", b"\r\n") + b"\r\n{oops\r\n" + ndjson(good)
    with stack.client("helpline") as client:
        first, second, third = results(post(client, body))
        assert (first["line"], first["contactId"], first["status"]) == (1, f"{run}BAD", "rejected")
        assert first["receiptId"] is None
        assert [(e["pointer"], e["code"]) for e in first["errors"]] == [
            ("#/channel", "closed-list"),
            ("#/child/age", "format"),
            ("#/child/sex", "closed-list"),
            ("#/categories/1", "closed-list"),
        ]
        assert (second["line"], second["contactId"], second["status"]) == (3, None, "rejected")
        assert second["errors"][0]["code"] == "not-json"
        assert (third["line"], third["status"]) == (4, "accepted")
        # the rejected line, corrected, is accepted under the same contact id
        fixed = results(post(client, ndjson({**good, "contactId": f"{run}BAD"})))[0]
        assert fixed["status"] == "accepted"

        assert post(client, b"\r\n\r\n").status_code == 422
        assert post(client, ndjson(good), {"content-type": "application/json"}).status_code == 415
        too_big = post(client, b" " * (10 * 1024 * 1024 + 1))
        assert too_big.status_code == 413
        assert too_big.headers["content-type"].startswith("application/problem+json")
    with stack.client("ozd") as other:
        forbidden = post(other, ndjson(good))
        assert forbidden.status_code == 403
        assert forbidden.json()["errors"][0]["code"] == "forbidden"


def test_a_batch_of_10000_lines(stack: Stack) -> None:
    run = prefix()
    template = sample_lines("helpline-contacts.ndjson", run)[3]
    body = ndjson(*({**template, "contactId": f"{run}{i:05d}"} for i in range(10_000)))
    with stack.client("helpline") as client:
        client.timeout = httpx.Timeout(300)
        started = time.perf_counter()
        answer = results(post(client, body))
        elapsed = time.perf_counter() - started
    print(f"\n10,000-line batch ({len(body) / 1e6:.1f} MB) through the real stack: {elapsed:.1f} s")
    assert len(answer) == 10_000 and {r["status"] for r in answer} == {"accepted"}
    assert [r["line"] for r in answer] == list(range(1, 10_001))


def test_no_personal_data_anywhere_after_all_samples(fresh_stack: Stack) -> None:
    stack = fresh_stack
    listed = set((SAMPLES / "personal-data.txt").read_text("utf-8").split())
    assert listed and listed <= personal_values()
    with stack.client("helpline") as client:
        for sample in sorted(SAMPLES.glob("*.ndjson")):
            answer = results(post(client, sample.read_bytes()))
            assert {r["status"] for r in answer} <= {"accepted", "duplicate", "out-of-scope"}
        # a rejected line too: its name must not reach the log or the audit
        broken = {"contactId": "HL-S-BROKEN", "child": {"firstName": "Добромир", "sex": "Добромир"}}
        assert results(post(client, ndjson(broken)))[0]["status"] == "rejected"
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"})
    stack.stop()
    leaks = files_containing(stack.root, listed)
    assert leaks == {}, f"personal data found: {leaks}"
