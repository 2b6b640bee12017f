"""Signed checkpoints of the audit log: made in the store, published to files, checked again.

A checkpoint (`note.Checkpoint`) pins the tree size and the RFC 6962 root. The gateway signs one
periodically while serving and on `gateway audit checkpoint`, keeps each in `audit_checkpoints`
and writes it to `audit_checkpoint_dir` (`checkpoint` = the latest, `checkpoints/<size>.txt`),
where a copy kept elsewhere later shows a truncated or rewritten log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit import merkle, note
from gateway.audit.chain import COLUMNS, record_from_row
from gateway.errors import Unavailable
from gateway.settings import Settings
from gateway.store.db import Database, Row, Tx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Signed:
    size: int
    text: str
    new: bool


def _sign_with(tx: Tx, *, key_file: Path, origin: str) -> Signed | None:
    return sign_latest(tx, note.load_private_key(key_file), origin)


def sign_latest(tx: Tx, key: Ed25519PrivateKey, origin: str) -> Signed | None:
    """Sign the tree as it stands (a writer unit, so size, root and head agree); reuse the
    latest checkpoint when no record came since. None while the log is empty."""
    head = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1")
    size = int(head[0]) if head else 0
    if size == 0:
        return None
    last = tx.one("SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
    if last is not None and int(last[0]) == size:
        return Signed(size, str(last[1]), False)
    assert head is not None
    at = datetime.now(UTC).isoformat(timespec="seconds")
    cp = note.Checkpoint(origin, size, merkle.root(merkle.store_lookup(tx), size), at, head[1])
    text = note.sign(cp, key)
    tx.execute(
        "INSERT INTO audit_checkpoints (size, root, at, note) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (size) DO NOTHING",
        (size, cp.root.hex(), at, text),
    )
    return Signed(size, text, True)


def latest_checkpoint(tx: Tx) -> str | None:
    """The latest signed checkpoint's text (what `GET /audit/checkpoint` serves)."""
    row = tx.one("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
    return None if row is None else str(row[0])


def publish(directory: Path, signed: Signed) -> None:
    """Write the history file, then replace `checkpoint`; each write is atomic (rename)."""
    _atomic(directory / "checkpoints" / f"{signed.size}.txt", signed.text)
    _atomic(directory / "checkpoint", signed.text)


def _atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)


def checkpoint_now(db: Database, settings: Settings) -> Signed | None:
    """Sign (or reuse) and publish a checkpoint now: the `gateway audit checkpoint` command."""
    if settings.audit_signing_key is None:
        raise ValueError("no audit_signing_key is configured")
    key = note.load_private_key(settings.audit_signing_key)
    signed = db.write_sync(lambda tx: sign_latest(tx, key, settings.audit_origin))
    if signed is not None and settings.audit_checkpoint_dir is not None:
        publish(settings.audit_checkpoint_dir, signed)
    return signed


async def run_periodic(db: Database, settings: Settings) -> None:
    """Sign and publish every `audit_checkpoint_seconds` while serving (a lifespan task)."""
    assert settings.audit_signing_key is not None
    note.load_private_key(settings.audit_signing_key)  # a bad key fails now, not every time
    # The key file, not the key: the unit may run in the writer process (db.py), and a key
    # object does not pickle.
    unit = partial(_sign_with, key_file=settings.audit_signing_key, origin=settings.audit_origin)
    while True:
        try:
            signed = await db.write(unit)
            if signed is not None and settings.audit_checkpoint_dir is not None:
                await asyncio.to_thread(publish, settings.audit_checkpoint_dir, signed)
        except (Unavailable, OSError) as exc:
            log.warning("audit checkpoint not signed this time: %s", exc)
        await asyncio.sleep(settings.audit_checkpoint_seconds)


def start(db: Database, settings: Settings) -> asyncio.Task[None] | None:
    """The periodic task, if a signing key is configured (the app's lifespan cancels it)."""
    if settings.audit_signing_key is None or settings.audit_checkpoint_seconds <= 0:
        return None
    return asyncio.create_task(run_periodic(db, settings))


# -- checking the store against its checkpoints ---------------------------------------------


def check_store(tx: Tx, public_key: Ed25519PublicKey | None) -> list[str]:
    """Findings for each stored checkpoint that the records no longer match: a bad signature,
    a log truncated below it, or records 1..size that no longer hash to its root (naming the
    first record whose leaf differs from the one stored when it was appended)."""
    findings: list[str] = []
    pinned: dict[int, tuple[bytes, str]] = {}
    for size, root_hex, at, text in tx.all(
        "SELECT size, root, at, note FROM audit_checkpoints ORDER BY size"
    ):
        name = f"checkpoint {size} (signed {at})"
        size, root = int(size), bytes.fromhex(root_hex)
        if public_key is not None:
            try:
                signed = note.parse(text, public_key)
            except note.CheckpointError as exc:
                findings.append(f"{name}: {exc}")
                continue
            if (signed.size, signed.root) != (size, root):
                findings.append(f"{name}: its row does not match its signed note (swapped)")
                size, root = signed.size, signed.root
        pinned[size] = (root, name)
    if not pinned:
        return findings
    frontier = merkle.Frontier()
    rows = tx.all(f"SELECT {COLUMNS} FROM audit ORDER BY seq LIMIT ?", (max(pinned),))
    mismatched: list[tuple[int, str]] = []
    for row in rows:
        frontier.add(merkle.leaf_hash(record_from_row(row).canonical()))
        if frontier.size in pinned:
            root, name = pinned.pop(frontier.size)
            if frontier.root() != root:
                mismatched.append((frontier.size, name))
    changed = _first_changed(tx, rows) if mismatched or pinned else None
    for size, name in mismatched:
        where = changed[1] if changed and changed[0] <= size else "a record in it was rewritten"
        findings.append(f"{name}: records 1..{size} do not hash to its root: {where}")
    for size, (_, name) in sorted(pinned.items()):
        gone = (
            f"records {frontier.size + 1}..{size}" if size > frontier.size + 1 else f"record {size}"
        )
        findings.append(
            f"{name}: the log holds {frontier.size} of its {size} records: "
            + (changed[1] if changed else f"{gone} removed from the end (truncated)")
        )
    return findings


def _first_changed(tx: Tx, rows: list[Row]) -> tuple[int, str] | None:
    """The first position whose record is not the one appended there (its leaf hash, stored at
    append time, differs): read in slices, only once something is known to be wrong."""
    step = 10_000
    for start in range(0, len(rows), step):
        stored = {
            int(i): bytes(h)
            for i, h in tx.all(
                "SELECT idx, hash FROM audit_merkle WHERE level = 0 AND idx >= ? AND idx < ?",
                (start, start + step),
            )
        }
        for position, row in enumerate(rows[start : start + step], start + 1):
            rec = record_from_row(row)
            if stored.get(position - 1) == merkle.leaf_hash(rec.canonical()):
                continue
            if rec.seq == position:
                return position, f"record {position} differs from the record appended there"
            return position, f"record {position} is gone (record {rec.seq} stands in its place)"
    return None
