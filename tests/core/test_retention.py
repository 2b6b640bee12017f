"""Retention: month keys shred a month's raw messages, the chain still verifies (SQLite and the
real PostgreSQL); PostgreSQL files audit records into monthly partitions."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.exceptions import InvalidTag
from typer.testing import CliRunner

from gateway import audit
from gateway.audit import Entry, retention
from gateway.cli import app
from gateway.crypto import Sealer
from gateway.errors import Unavailable
from gateway.receipts import Receipt
from gateway.store import state
from gateway.store.db import Database, Tx
from gateway.store.payload_keys import PayloadGone, PayloadKeys, open_payload
from gateway.store.schema import audit_partitions
from tests import pg

MASTER = Sealer("master-1", bytes(range(32)))
NEW_MASTER = Sealer("master-2", bytes(range(32, 64)))
NOW = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
RAW = "<Egn>0443056096</Egn><FirstName>Мария</FirstName>".encode()


def keep(db: Database, at: datetime, raw: bytes = RAW, keys: PayloadKeys | None = None) -> str:
    """Store a receipt and its sealed raw message as the pipeline does, at time `at`."""
    sha = hashlib.sha256(raw).hexdigest()
    sealed = asyncio.run((keys or PayloadKeys(db, MASTER)).seal(raw, sha.encode(), at))
    receipt = Receipt(str(uuid.uuid4()), "mvr", at, "accepted")

    def unit(tx: Tx) -> None:
        state.save_receipt(tx, receipt, receipt.receipt_id, sha, sealed)
        entry = Entry("received", institution="mvr", receipt_id=receipt.receipt_id, raw_sha256=sha)
        audit.append(tx, [entry], at)

    db.write_sync(unit)
    return receipt.receipt_id


def opened(db: Database, receipt_id: str) -> bytes:
    return db.read_sync(lambda tx: open_payload(tx, receipt_id, MASTER))


def count(db: Database, sql: str) -> int:
    row = db.read_sync(lambda tx: tx.one(sql))
    assert row is not None
    return int(row[0])


def at(month: str, day: int = 15) -> datetime:
    return datetime(int(month[:4]), int(month[5:]), day, 12, tzinfo=UTC)


def test_purge_shreds_old_months_and_the_chain_still_verifies(db: Database) -> None:
    old = [keep(db, at("2024-01", 2)), keep(db, at("2024-01", 31))]
    kept = keep(db, at("2024-02", 1))
    current = keep(db, NOW)
    assert all(opened(db, r) == RAW for r in [*old, kept, current])
    sealed_copy = db.read_sync(
        lambda tx: tx.one("SELECT * FROM payloads WHERE receipt_id = ?", (old[0],))
    )
    records = db.read_sync(audit.verify).records

    done = retention.purge_now(db, "2024-02", NOW, dry_run=False)

    assert done == [retention.PeriodPurge("2024-01", 2, True)]
    for receipt_id in old:
        with pytest.raises(PayloadGone):
            opened(db, receipt_id)
    assert count(db, "SELECT COUNT(*) FROM payloads WHERE period = '2024-01'") == 0
    key = db.read_sync(
        lambda tx: tx.one("SELECT wrapped, destroyed_at FROM payload_keys WHERE period = '2024-01'")
    )
    assert key is not None and key[0] is None and key[1] == NOW.isoformat()
    # A copy of the ciphertext kept elsewhere (a backup) is no use without the month's key.
    assert sealed_copy is not None
    db.write_sync(lambda tx: tx.execute("INSERT INTO payloads VALUES (?,?,?,?)", sealed_copy))
    with pytest.raises(PayloadGone):
        opened(db, old[0])
    assert opened(db, kept) == RAW and opened(db, current) == RAW
    verdict = db.read_sync(audit.verify)
    assert verdict.ok and verdict.records == records + 1
    [purged] = db.read_sync(lambda tx: audit.search(tx, audit.Query(kind="purged")))
    assert purged.entry.detail == "period 2024-01: 2 payloads deleted, key destroyed"
    assert purged.at == NOW.isoformat()
    # the receipts and their audit records (hashes of the raw messages) stay
    assert count(db, "SELECT COUNT(*) FROM receipts") == 4
    # The next run removes that stray copy; then nothing is left to do, and nothing is said.
    again = retention.purge_now(db, "2024-02", NOW, dry_run=False)
    assert again == [retention.PeriodPurge("2024-01", 1, False)]
    assert retention.purge_now(db, "2024-02", NOW, dry_run=False) == []
    assert db.read_sync(audit.verify).records == records + 2


def test_a_shredded_month_never_gets_a_new_key(db: Database) -> None:
    keep(db, at("2024-01"))
    retention.purge_now(db, "2024-02", NOW, dry_run=False)
    with pytest.raises(Unavailable):
        keep(db, at("2024-01", 20))


def test_dry_run_changes_nothing(db: Database) -> None:
    receipt_id = keep(db, at("2023-05"))
    keep(db, at("2023-06"))
    before = db.read_sync(lambda tx: tx.all("SELECT * FROM payload_keys ORDER BY period"))
    plan = retention.purge_now(db, "2024-01", NOW, dry_run=True)
    assert [(p.period, p.payloads, p.key) for p in plan] == [
        ("2023-05", 1, True),
        ("2023-06", 1, True),
    ]
    assert db.read_sync(lambda tx: tx.all("SELECT * FROM payload_keys ORDER BY period")) == before
    assert count(db, "SELECT COUNT(*) FROM payloads") == 2
    assert opened(db, receipt_id) == RAW
    assert db.read_sync(audit.verify).records == 2


def test_retention_zero_keeps_everything(db: Database) -> None:
    receipt_id = keep(db, at("2001-01"))
    assert retention.cutoff(NOW, 0) is None
    assert asyncio.run(retention.run_once(db, 0, NOW)) == []
    assert opened(db, receipt_id) == RAW
    assert db.read_sync(audit.verify).records == 1


def test_daily_upkeep_purges_past_the_configured_retention(db: Database) -> None:
    gone, kept = keep(db, at("2024-10", 31)), keep(db, at("2024-11", 1))
    done = asyncio.run(retention.run_once(db, 24, NOW))
    assert [d.period for d in done] == ["2024-10"]
    with pytest.raises(PayloadGone):
        opened(db, gone)
    assert opened(db, kept) == RAW
    assert db.read_sync(audit.verify).ok


def test_replicas_creating_the_same_month_key_agree(url: str) -> None:
    """Two gateways (two stores, one database) seal the first messages of a month at once."""
    first, second = Database(url), Database(url)
    try:
        one, two = PayloadKeys(first, MASTER), PayloadKeys(second, MASTER)

        async def both() -> list[str]:
            sealed = await asyncio.gather(
                *(k.seal(RAW, b"x", at("2027-03")) for k in (one, two) for _ in range(4))
            )
            return [s.key_id for s in sealed]

        assert set(asyncio.run(both())) == {"2027-03:master-1"}
        receipts = [keep(first, at("2027-03"), keys=one), keep(second, at("2027-03"), keys=two)]
        assert [opened(first, r) for r in receipts] == [RAW, RAW]
        assert count(first, "SELECT COUNT(*) FROM payload_keys") == 1
    finally:
        first.close()
        second.close()


def test_a_payload_is_bound_to_its_month_key(db: Database) -> None:
    march, april = keep(db, at("2027-03")), keep(db, at("2027-04"))
    db.write_sync(
        lambda tx: tx.execute(
            "UPDATE payloads SET period = '2027-04', key_id = '2027-04:master-1' "
            "WHERE receipt_id = ?",
            (march,),
        )
    )
    with pytest.raises(InvalidTag):
        opened(db, march)
    assert opened(db, april) == RAW


def test_cutoffs() -> None:
    assert retention.cutoff(NOW, 24) == "2024-11"
    assert retention.cutoff(datetime(2026, 1, 1, tzinfo=UTC), 1) == "2025-12"
    assert retention.months_before("2026-01", 13) == "2024-12"
    assert retention.cutoff_for(NOW, 0, "2025-03") == "2025-03"
    assert retention.cutoff_for(NOW, 24, "2026-11") == "2026-11"  # up to last month
    for wrong in ("2026-12", "2025-13", "2025-3", "last year"):
        with pytest.raises(ValueError):
            retention.cutoff_for(NOW, 24, wrong)


@pytest.mark.postgres
def test_postgres_files_audit_records_in_monthly_partitions() -> None:
    with pg.schema() as url:
        db = Database(url)
        try:
            # Start-up made this month's partitions; upkeep on a later "today" makes those ahead.
            asyncio.run(retention.run_once(db, 0, datetime(2031, 3, 1, tzinfo=UTC)))
            months = ["2031-03", "2031-04", "2031-05", "2031-06"]
            for month in months:
                db.write_sync(lambda tx, m=month: audit.append(tx, [Entry("received")], at(m)))
            where = db.read_sync(
                lambda tx: tx.all("SELECT seq, tableoid::regclass::text FROM audit ORDER BY seq")
            )
            assert [w[1] for w in where] == [
                "audit_2031_03",
                "audit_2031_04",
                "audit_2031_05",
                "audit_default",  # not made ahead yet: the default partition takes it
            ]
            children = db.read_sync(
                lambda tx: tx.all(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass('audit')"
                )
            )
            this_month = f"audit_{datetime.now(UTC):%Y_%m}"
            assert {"audit_default", "audit_2031_03", this_month} <= {c[0] for c in children}
            # June's records already sit in DEFAULT: making June's partition later is skipped,
            # not an error (start-up and upkeep must never fail on it).
            db.write_sync(lambda tx: tx.execute(audit_partitions(date(2031, 6, 1))))
            assert db.read_sync(audit.verify).ok
            found = db.read_sync(
                lambda tx: audit.search(tx, audit.Query(since="2031-04", until="2031-06"))
            )
            assert [r.at[:7] for r in found] == ["2031-04", "2031-05"]
        finally:
            db.close()


def test_the_purge_command(tmp_path: Path) -> None:
    """`gateway audit purge` as an operator runs it: retention 0 keeps all, `--before` is
    checked, `--dry-run` lists, the purge shreds, and `gateway audit verify` still passes."""
    database = tmp_path / "store.sqlite3"
    dummy = tmp_path / "unused"
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'database = "{database}"\npayload_retention_months = 0\n'
        'register_url = "https://127.0.0.1:1"\nlinkage_keys = []\n'
        'storage_key = { id = "master-1", file = "unused" }\n'
        + "".join(
            f'{name} = "{dummy}"\n'
            for name in (
                "tls_cert",
                "tls_key",
                "client_ca",
                "internal_key_file",
                "register_ca",
                "register_client_cert",
                "register_client_key",
            )
        ),
        "utf-8",
    )
    db = Database(str(database))
    try:
        gone = keep(db, at("2024-01"))
    finally:
        db.close()

    def cli(*args: str) -> Result:
        return CliRunner().invoke(app, ["audit", *args, "--config", str(config)])

    kept = cli("purge")
    assert kept.exit_code == 0 and "keep forever): nothing purged" in kept.output
    assert cli("purge", "--before", "2999-01").exit_code == 2
    dry = cli("purge", "--before", "2024-02", "--dry-run")
    assert "would purge period 2024-01: 1 payloads deleted, key destroyed" in dry.output
    done = cli("purge", "--before", "2024-02")
    assert done.exit_code == 0 and "purged period 2024-01: 1 payloads" in done.output
    verified = cli("verify")
    assert verified.exit_code == 0 and "audit chain intact: 2 records" in verified.output
    db = Database(str(database))
    try:
        with pytest.raises(PayloadGone):
            opened(db, gone)
    finally:
        db.close()


def test_a_storage_key_rotated_mid_month_keeps_the_month_readable(db: Database) -> None:
    """The month keeps the key it began with: the retired storage key unwraps it, the new one
    wraps the next months; without the retired key the month is refused, never mis-sealed."""
    before = keep(db, at("2027-05", 3))
    rotated = PayloadKeys(db, NEW_MASTER, [MASTER])
    after = keep(db, at("2027-05", 20), keys=rotated)
    june = keep(db, at("2027-06"), keys=rotated)
    for receipt_id in (before, after, june):
        assert (
            db.read_sync(lambda tx, r=receipt_id: open_payload(tx, r, NEW_MASTER, [MASTER])) == RAW
        )
    assert db.read_sync(lambda tx: open_payload(tx, june, NEW_MASTER)) == RAW
    with pytest.raises(Unavailable, match="master-1"):
        keep(db, at("2027-05", 21), keys=PayloadKeys(db, NEW_MASTER))
    with pytest.raises(Unavailable):
        db.read_sync(lambda tx: open_payload(tx, after, NEW_MASTER))
