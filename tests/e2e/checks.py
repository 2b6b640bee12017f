"""Checks shared by the end-to-end tests: canonical messages at rest, personal data nowhere."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fhir.resources.R4B.bundle import Bundle
from lxml import etree

from gateway import profile
from gateway.devstack import Stack

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "adapters"
MVR_NS = "urn:bg:mvr:child-incident:v1"


def rows(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    """Read the gateway's store as an operator would, SQLite or PostgreSQL."""
    if stack.database.startswith("postgresql://"):
        with psycopg.connect(stack.database) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    if not Path(stack.database).exists():
        return []
    with sqlite3.connect(f"file:{stack.database}?mode=ro", uri=True) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def outbox_bodies(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(bytes(r[0])) for r in rows(stack, "SELECT body FROM outbox")]


def assert_canonical_store_valid(stack: Stack) -> None:
    """Every canonical message the gateway produced passes our profile and fhir.resources."""
    for bundle in outbox_bodies(stack):
        assert profile.validate(bundle) == []
        Bundle.model_validate(bundle)


def personal_values() -> set[str]:
    """Every personal number and name in the project's own sample messages."""
    values: set[str] = set()
    for path in (SAMPLES / "mvr" / "samples").glob("*.xml"):
        tree = etree.parse(str(path))
        for tag in ("Egn", "Lnch", "FirstName", "MiddleName", "LastName"):
            values.update(e.text.strip() for e in tree.iter(f"{{{MVR_NS}}}{tag}") if e.text)
    for path in (SAMPLES / "ozd" / "samples").glob("*.json"):
        child = json.loads(path.read_text("utf-8")).get("child") or {}
        for key in ("egn", "lnch", "firstName", "lastName"):
            if isinstance(child.get(key), str) and child[key].strip():
                values.add(child[key].strip())
    # Adapters whose samples are not parsed above list their personal values beside them.
    for listing in SAMPLES.glob("*/samples/personal-data.txt"):
        values.update(line.strip() for line in listing.read_text("utf-8").splitlines())
    values.discard("")
    return values


def files_containing(folder: Path, values: set[str]) -> dict[str, list[str]]:
    """Which files under `folder` hold any value, in UTF-8, windows-1251 or UTF-16 form."""
    found: dict[str, list[str]] = {}
    patterns = []
    for value in values:
        for encoding in ("utf-8", "cp1251", "utf-16-le"):
            try:
                patterns.append((value, re.escape(value.encode(encoding))))
            except UnicodeEncodeError:
                continue
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        hits = sorted({v for v, p in patterns if re.search(p, data)})
        if hits:
            found[str(path.relative_to(folder))] = hits
    return found


def wait_until(predicate: Any, timeout: float = 20.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def set_register_mode(stack: Stack, mode: str, count: int | None = None) -> None:
    with stack.register_client() as client:
        response = client.post("/_test/mode", json={"mode": mode, "count": count})
        response.raise_for_status()


def queue_counts(stack: Stack) -> dict[str, int]:
    return {
        str(r[0]): int(r[1])
        for r in rows(stack, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
    }


def post_ozd(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/api/v1/ozd/signals",
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"content-type": "application/json"},
    )
