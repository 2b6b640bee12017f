"""The tables of the gateway's store, for SQLite and PostgreSQL alike.

Nothing personal is kept in clear: raw messages are sealed (AES-GCM), children appear only as
keyed pseudonyms (canonical messages) or internal keys (record state).
"""

from __future__ import annotations

_TABLES = """
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY,
    institution TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    status TEXT NOT NULL,
    notification_ids TEXT NOT NULL,
    warnings TEXT NOT NULL,
    raw_sha256 TEXT NOT NULL,
    UNIQUE (institution, message_id)
);
CREATE TABLE IF NOT EXISTS payloads (
    receipt_id TEXT PRIMARY KEY REFERENCES receipts (receipt_id),
    key_id TEXT NOT NULL,
    sealed {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    institution TEXT NOT NULL,
    record_key TEXT NOT NULL,
    version BIGINT,
    event_date TEXT,
    last_message_id TEXT NOT NULL,
    last_receipt_id TEXT NOT NULL,
    PRIMARY KEY (institution, record_key)
);
CREATE TABLE IF NOT EXISTS record_children (
    institution TEXT NOT NULL,
    record_key TEXT NOT NULL,
    child_key TEXT NOT NULL,
    case_key TEXT NOT NULL,
    PRIMARY KEY (institution, record_key, child_key)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq {serial},
    notification_id TEXT NOT NULL UNIQUE,
    case_key TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    institution TEXT NOT NULL,
    event TEXT NOT NULL,
    body {blob} NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at, seq);
CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_key, seq);
CREATE TABLE IF NOT EXISTS audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    institution TEXT NOT NULL,
    cert_fp TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    notification_ids TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_receipt ON audit (receipt_id);
CREATE INDEX IF NOT EXISTS audit_institution ON audit (institution, at);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
"""


def schema_statements(postgres: bool) -> list[str]:
    ddl = _TABLES.format(
        blob="BYTEA" if postgres else "BLOB",
        serial="BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT",
    )
    statements = [s.strip() for s in ddl.split(";") if s.strip()]
    statements.append(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING"
    )
    return statements
