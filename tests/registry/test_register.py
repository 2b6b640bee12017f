"""The store feeding linking (SQLite and PostgreSQL, for real) and `GET /api/v1/statistics`
over real mutual TLS."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi import status

from gateway import profile
from gateway.facts import Child, Notification, Pseudonym
from gateway.pki import PkiLayout
from registry import store as register_store
from registry.linking import link
from registry.store import SUMMARY_FIELDS, Store
from tests.test_registry import gateway_client, notification, register, send


def flat(n: Notification) -> dict[str, Any]:
    return profile.flatten(profile.render(n))


def child(pseudonym: str | None, sex: str = "female") -> Child:
    pseudonyms = (Pseudonym("k1", pseudonym * 64),) if pseudonym else ()
    return Child("/Victim[1]", sex, pseudonyms, birth_date="2015-03-02")  # type: ignore[arg-type]


def test_active_cases_apply_updates_and_leave_out_cancels(target: str) -> None:
    kept = notification(incident_reference="mvr:F1", incident_date=date(2026, 3, 1))
    moved = notification("update", kept.case_key, incident_date=date(2026, 3, 19))
    gone = notification(incident_reference="mvr:F2")
    with Store(target) as store:
        for n in (kept, moved, gone, notification("cancel", gone.case_key)):
            assert store.receive(flat(n), b"{}")
        assert not store.receive(flat(kept), b"{}")  # the same notification again
        [active] = store.active_cases()
    assert tuple(active) == SUMMARY_FIELDS
    assert (active["case_key"], active["incident_date"]) == (kept.case_key, "2026-03-19")
    assert active["child_pseudonyms"] == [{"key_id": "k1", "value": "b" * 64}]


def test_active_cases_are_read_whole_chunk_by_chunk(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register_store, "_READ_CHUNK", 2)
    # Cyrillic record numbers: both backends hand the JSON over as UTF-8 bytes.
    sent = [notification(incident_reference=f"ozd:ОЗД-ПД-2021-{n:06d}") for n in range(5)]
    with Store(target) as store:
        store.receive_many([(flat(n), b"{}") for n in sent])
        read = store.active_cases()
        assert len(store.active_cases()) == 5  # the server-side cursor is gone: read again
    assert sorted((c["case_key"], c["incident_reference"]) for c in read) == sorted(
        (n.case_key, n.incident_reference) for n in sent
    )


def test_an_update_that_changes_the_date_changes_the_incident(target: str) -> None:
    police = notification(incident_reference="mvr:F1", incident_date=date(2026, 3, 1))
    school = notification(
        institution="ozd", incident_reference="ozd:S7", incident_date=date(2026, 3, 20)
    )
    with Store(target) as store:
        store.receive_many([(flat(police), b"{}"), (flat(school), b"{}")])
        before = link(store.active_cases())
        moved = notification("update", police.case_key, incident_date=date(2026, 3, 19))
        store.receive(flat(moved), b"{}")
        after = link(store.active_cases())
    assert before.children() == after.children() == 1
    assert (before.incidents(), after.incidents()) == (2, 1)


def test_a_register_from_before_the_summary_column_gets_it_filled(target: str) -> None:
    n = notification(incident_reference="mvr:F1")
    with Store(target) as store:
        store.receive(flat(n), b"{}")
    if target.startswith("postgresql"):
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("ALTER TABLE cases DROP COLUMN summary")
    else:
        with sqlite3.connect(target) as conn:
            conn.execute("ALTER TABLE cases DROP COLUMN summary")
    with Store(target) as store:
        [active] = store.active_cases()
    assert active["case_key"] == n.case_key and active["forms"] == ["physical"]


def test_statistics_endpoint_over_mutual_tls(pki: PkiLayout, target: str) -> None:
    police = notification(incident_reference="mvr:F1", incident_date=date(2026, 3, 1))
    # ОЗД's signal about the same child, without a pseudonym, citing the police file.
    signal = replace(
        notification(incident_date=date(2026, 3, 2)),
        institution="ozd",
        incident_reference="ozd:S1",
        child=child(None),
        references=(("mvr", "F1"),),
    )
    other = replace(notification(incident_reference="mvr:F2"), child=child("c", "male"))
    with register(pki, target) as url, gateway_client(url, pki) as client:
        for n in (police, signal, other):
            assert send(client, profile.render(n)).status_code == status.HTTP_200_OK
        answer = client.get("/api/v1/statistics", params={"year": 2026})
        assert answer.status_code == status.HTTP_200_OK
        body = answer.json()
        assert client.get("/api/v1/statistics").status_code == 422  # the year is required
    assert body["year"] == 2026
    assert (body["total"]["children"], body["total"]["incidents"]) == (2, 2)
    assert body["total"]["notifications"]["mvr"] == 2
    assert body["total"]["notifications"]["ozd"] == 1
    assert (body["unlinked_cases"], body["ambiguous_cases"]) == (0, 0)
    sexes = {r["value"]: r["children"] for r in body["rows"] if r["dimension"] == "sex"}
    assert (sexes["female"], sexes["male"]) == (1, 1)
