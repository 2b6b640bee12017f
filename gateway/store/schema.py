"""The tables of the gateway's store, for SQLite and PostgreSQL alike.

Nothing personal is kept in clear: raw messages are sealed (AES-GCM), children appear only as
keyed pseudonyms (canonical messages) or internal keys (record state).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

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
    period TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS payloads_period ON payloads (period);
-- Each month's data key, wrapped under the master storage key (NULL once destroyed: purged).
CREATE TABLE IF NOT EXISTS payload_keys (
    period TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    wrapped {blob},
    created_at TEXT NOT NULL,
    destroyed_at TEXT
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
    seq BIGINT {audit_key},
    at TEXT{bytewise} NOT NULL,
    kind TEXT NOT NULL,
    institution TEXT NOT NULL,
    cert_fp TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    notification_ids TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    children TEXT NOT NULL DEFAULT '[]'
){audit_partitioned};
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_receipt ON audit (receipt_id);
CREATE INDEX IF NOT EXISTS audit_institution ON audit (institution, at);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_cert ON audit (cert_fp, seq);
-- Search indexes beside the chain: which records name a notification id, a child (internal
-- pseudonym), and which child a case is about (for cancels and forwarder steps).
CREATE TABLE IF NOT EXISTS audit_notification (
    notification_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (notification_id, seq)
);
CREATE TABLE IF NOT EXISTS audit_child (
    child TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (child, seq)
);
CREATE TABLE IF NOT EXISTS audit_case_child (
    case_key TEXT PRIMARY KEY,
    child TEXT NOT NULL
);
-- The audit records as an RFC 6962 Merkle tree: every leaf hash and every perfect subtree
-- hash (level 0 = leaves), and the signed checkpoints (tree size + root) published so far.
CREATE TABLE IF NOT EXISTS audit_merkle (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash {blob} NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL
);
"""


def schema_statements(postgres: bool) -> list[str]:
    ddl = _TABLES.format(
        blob="BYTEA" if postgres else "BLOB",
        serial="BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT",
        # PostgreSQL: `audit` is partitioned by month of `at` (ISO text, compared bytewise), so
        # its key must hold `at`; SQLite has no partitions, its `audit_at` index serves ranges.
        audit_key="NOT NULL, PRIMARY KEY (seq, at)" if postgres else "PRIMARY KEY",
        bytewise=' COLLATE "C"' if postgres else "",
        audit_partitioned=" PARTITION BY RANGE (at)" if postgres else "",
    )
    statements = [s.strip() for s in ddl.split(";") if s.strip()]
    statements.append(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING"
    )
    if postgres:
        statements.append(audit_partitions(datetime.now(UTC).date()))
    return statements


def _month(year: int, month: int) -> str:
    return f"{year + (month - 1) // 12:04d}-{(month - 1) % 12 + 1:02d}"


def audit_partitions(today: date, ahead: int = 2) -> str:
    """PostgreSQL: the DEFAULT partition of `audit` and one per month from `today`'s to `ahead`
    months later, where missing. A month whose records already went to DEFAULT (the gateway was
    down when its partition was due) keeps them there: creating it would fail. One statement,
    serialised between replicas, a no-op on a store made before `audit` was partitioned."""
    parts = []
    for i in range(ahead + 1):
        lo, hi = _month(today.year, today.month + i), _month(today.year, today.month + i + 1)
        name = f"audit_{lo.replace('-', '_')}"
        parts.append(
            f"IF to_regclass('{name}') IS NULL AND NOT EXISTS (SELECT 1 FROM audit_default "
            f"WHERE at >= '{lo}' AND at < '{hi}') THEN CREATE TABLE {name} PARTITION OF audit "
            f"FOR VALUES FROM ('{lo}') TO ('{hi}'); END IF;"
        )
    return (
        "DO $$ BEGIN "
        "IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('audit')) <> 'p' THEN RETURN; "
        "END IF; PERFORM pg_advisory_xact_lock(hashtext('gateway.audit_partitions')); "
        "CREATE TABLE IF NOT EXISTS audit_default PARTITION OF audit DEFAULT; "
        + " ".join(parts)
        + " END $$"
    )
