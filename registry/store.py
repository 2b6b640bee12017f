"""The register's storage: every received notification once, and each case's latest state."""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader

_MESSAGES = """
CREATE TABLE IF NOT EXISTS messages (
    seq {serial},
    notification_id TEXT NOT NULL UNIQUE,
    case_key TEXT,
    event TEXT,
    institution TEXT,
    registered_at TEXT NOT NULL,
    flat TEXT NOT NULL,
    bundle TEXT NOT NULL
)"""
_CASES = """
CREATE TABLE IF NOT EXISTS cases (
    case_key TEXT PRIMARY KEY,
    institution TEXT,
    incident_reference TEXT,
    status TEXT NOT NULL,
    last_event TEXT NOT NULL,
    last_notification_id TEXT NOT NULL,
    notification_count INTEGER NOT NULL,
    latest TEXT,
    summary TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""
# Linking and statistics read only these fields of the latest flat form: kept beside it as a
# small JSON so that a million cases are read in seconds, not parsed from the full form.
SUMMARY_FIELDS = (
    "case_key",
    "institution",
    "incident_reference",
    "incident_date",
    "child_pseudonyms",
    "birth_date",
    "age",
    "age_band",
    "sex",
    "forms",
    "outcome",
    "relationships",
    "setting",
    "region",
    "ekatte",
    "references",
)
# new and update make the case active (an update of an unseen case is its first news); cancel
# marks it cancelled and keeps the last known content.
_APPLY = """
INSERT INTO cases (case_key, institution, incident_reference, status, last_event,
                   last_notification_id, notification_count, latest, summary, created_at,
                   updated_at)
VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
ON CONFLICT (case_key) DO UPDATE SET
    status = excluded.status,
    last_event = excluded.last_event,
    last_notification_id = excluded.last_notification_id,
    notification_count = cases.notification_count + 1,
    latest = COALESCE(excluded.latest, cases.latest),
    summary = COALESCE(excluded.summary, cases.summary),
    updated_at = excluded.updated_at"""
_READ_CHUNK = 20_000
_CASE_COLUMNS = (
    "case_key, institution, incident_reference, status, last_event, last_notification_id, "
    "notification_count, latest, created_at, updated_at"
)


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int) -> list[Any]: ...


_Run = Callable[..., _Cursor]


class Store:
    """SQLite (WAL, synchronous=FULL) for a file path, PostgreSQL for a `postgresql://` URL.

    The same SQL serves both (`?` placeholders, `ON CONFLICT`); one connection behind a lock is
    plenty for a reference register.
    """

    def __init__(self, target: str | Path) -> None:
        text = str(target)
        self.postgres = text.startswith(("postgresql://", "postgres://"))
        self._lock = threading.Lock()
        self._conn: Any
        if self.postgres:
            # UTF-8 whatever the database's own encoding: `active_cases` reads the bytes.
            self._conn = psycopg.connect(text, autocommit=True, client_encoding="utf8")
            serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        else:
            # Autocommit mode; transactions are opened explicitly in `_tx`.
            self._conn = sqlite3.connect(text, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a message answered `ok` survives a power loss (NORMAL may lose the last).
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
        with self._tx() as run:
            run(_MESSAGES.format(serial=serial))
            run(_CASES)
            self._add_summary(run)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def receive(self, flat: dict[str, Any], bundle: bytes) -> bool:
        """Store a notification and apply it to its case; False if its id was received before
        (then nothing changes)."""
        return self.receive_many([(flat, bundle)]) == 1

    def receive_many(self, items: Iterable[tuple[dict[str, Any], bytes]]) -> int:
        """`receive` for each item, all in one transaction; how many were new."""
        return sum(self.receive_each(items))

    def receive_each(self, items: Iterable[tuple[dict[str, Any], bytes]]) -> list[bool]:
        """`receive` for each item, all in one transaction; for each, whether it was new."""
        now = datetime.now(UTC).isoformat()
        with self._tx() as run:
            return [self._receive(run, flat, bundle, now) for flat, bundle in items]

    def _receive(self, run: _Run, flat: dict[str, Any], bundle: bytes, now: str) -> bool:
        nid, case_key, event = flat["notification_id"], flat["case_key"], flat["event"]
        inserted = run(
            "INSERT INTO messages (notification_id, case_key, event, institution,"
            " registered_at, flat, bundle) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (notification_id) DO NOTHING",
            (nid, case_key, event, flat["institution"], now, _json(flat), bundle.decode()),
        ).rowcount
        if not inserted:
            return False
        status = "cancelled" if event == "cancel" else "active"
        latest = None if event == "cancel" else _json(flat)
        summary = None if event == "cancel" else _json(_summary(flat))
        run(
            _APPLY,
            (
                case_key,
                flat["institution"],
                flat["incident_reference"],
                status,
                event,
                nid,
                latest,
                summary,
                now,
                now,
            ),
        )
        return True

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification as received (the flat form), oldest first."""
        with self._tx() as run:
            rows = run("SELECT flat, registered_at FROM messages ORDER BY seq").fetchall()
        return [{**orjson.loads(flat), "registered_at": at} for flat, at in rows]

    def cases(self) -> list[dict[str, Any]]:
        with self._tx() as run:
            rows = run(f"SELECT {_CASE_COLUMNS} FROM cases ORDER BY created_at, case_key")
            found = rows.fetchall()
        names = [name.strip() for name in _CASE_COLUMNS.split(",")]
        cases = [dict(zip(names, row, strict=True)) for row in found]
        for case in cases:
            case["latest"] = orjson.loads(case["latest"]) if case["latest"] else None
        return cases

    def active_cases(self) -> list[dict[str, Any]]:
        """The latest content of every active case, as the `SUMMARY_FIELDS` of its flat form
        (cancelled cases left out, updates applied): the input of linking and statistics."""
        loads, enabled = orjson.loads, gc.isenabled()
        found: list[dict[str, Any]] = []
        gc.disable()  # a million fresh dicts would trigger full collections over and over
        try:
            with self._tx() as run:
                # Both hand the JSON over as UTF-8 bytes, which orjson reads as they are: as
                # text it is decoded into a str and encoded again for orjson (a fifth of the
                # read on SQLite, a tenth on PostgreSQL).
                if self.postgres:
                    rows = self._stream("SELECT summary FROM cases WHERE status = 'active'")
                else:
                    rows = run("SELECT CAST(summary AS BLOB) FROM cases WHERE status = 'active'")
                # Chunk by chunk, each chunk's JSON freed before the next: at a million cases
                # the read's peak is 1.3 GB lower than with every row fetched first, and it is
                # faster (fewer fresh pages). The store's lock is held a few seconds longer.
                while chunk := rows.fetchmany(_READ_CHUNK):
                    found += [loads(summary) for (summary,) in chunk]
            return found
        finally:
            if enabled:
                gc.enable()

    def _stream(self, sql: str) -> _Cursor:
        """PostgreSQL rows chunk by chunk from a server-side cursor (a client-side one holds
        the whole result first: half a GB more at a million cases), text as UTF-8 bytes. Only
        inside `_tx`: the cursor lives as long as its transaction."""
        cursor: psycopg.ServerCursor[Any] = self._conn.cursor(name="stream")
        cursor.adapters.register_loader("text", _Utf8)
        cursor.execute(sql)
        return cursor

    def _add_summary(self, run: _Run) -> None:
        """Give a register created before the summary column one, filled from `latest`."""
        if self.postgres:
            found = run(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = 'cases' AND column_name = 'summary'"
            ).fetchall()
        else:
            found = [r for r in run("PRAGMA table_info(cases)").fetchall() if r[1] == "summary"]
        if found:
            return
        run("ALTER TABLE cases ADD COLUMN summary TEXT")
        for key, latest in run("SELECT case_key, latest FROM cases").fetchall():
            if latest:
                summary = _json(_summary(orjson.loads(latest)))
                run("UPDATE cases SET summary = ? WHERE case_key = ?", (summary, key))

    @contextmanager
    def _tx(self) -> Iterator[_Run]:
        """One transaction; yields `run(sql, params) -> cursor` taking `?` placeholders."""
        with self._lock:
            if self.postgres:
                with self._conn.transaction():
                    yield self._run
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._run
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        if self.postgres:
            sql = sql.replace("?", "%s")
        cursor: _Cursor = self._conn.execute(sql, tuple(params))
        return cursor


class _Utf8(Loader):
    """A text column as the UTF-8 bytes the server sent."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _summary(flat: dict[str, Any]) -> dict[str, Any]:
    return {name: flat.get(name) for name in SUMMARY_FIELDS}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
