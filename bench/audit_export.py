"""The security officer's export of one period from a big audit log: FHIR AuditEvents with and
without their inclusion proofs, and the inspector's offline verification of it.

    .venv/bin/python -m bench.audit_export                       # 200,000 records, SQLite
    .venv/bin/python -m bench.audit_export --postgres postgresql://postgres@127.0.0.1:5432/test

Fills a scratch store through `audit.append` (group commits of 1,000 records, one second of
log time each), signs a checkpoint, exports the middle `--period` records both ways and verifies
the proved export with only the public key. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.stores import scratch_url
from gateway import audit
from gateway.audit import Entry, Query, checkpoint, export, offline
from gateway.store.db import Database

BATCH = 1000
START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(db: Database, records: int) -> None:
    for b in range(records // BATCH):
        entries = [
            Entry(
                "accepted",
                institution="mvr",
                cert_fp="ab" * 32,
                receipt_id=f"r{b}-{i}",
                notification_ids=(f"n{b}-{i}",),
                outcome="accepted",
                raw_sha256="ef" * 32,
                children=("cd" * 32,),
            )
            for i in range(BATCH)
        ]
        at = START + timedelta(seconds=b)
        db.write_sync(lambda tx, e=entries, at=at: audit.append(tx, e, at))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--period", type=int, default=100_000, help="records in the export")
    parser.add_argument("--postgres", metavar="URL", help="a fresh schema on this server")
    args = parser.parse_args()
    with scratch_url(args.postgres, "bench_export") as url:
        db = Database(url)
        try:
            started = time.perf_counter()
            fill(db, args.records)
            print(f"filled {args.records:,} records in {time.perf_counter() - started:.1f} s")
            key = Ed25519PrivateKey.generate()
            signed = db.write_sync(lambda tx: checkpoint.sign_latest(tx, key, "bench/audit"))
            assert signed is not None
            first = (args.records - args.period) // 2 // BATCH
            query = Query(
                since=(START + timedelta(seconds=first)).isoformat(),
                until=(START + timedelta(seconds=first + args.period // BATCH)).isoformat(),
            )
            started = time.perf_counter()
            plain = sum(1 for _ in export.lines(db, query, {}, None))
            without = time.perf_counter() - started
            started = time.perf_counter()
            proved = list(export.lines(db, query, {}, signed.size))
            with_proofs = time.perf_counter() - started
            started = time.perf_counter()
            report = offline.verify_any_export(proved, signed.text, key.public_key())
            verified = time.perf_counter() - started
        finally:
            db.close()
    size = sum(map(len, proved)) / max(1, len(proved))
    print(f"export of {plain:,} AuditEvents without proofs: {without:.1f} s")
    print(f"export of {len(proved):,} AuditEvents with proofs:    {with_proofs:.1f} s")
    print(f"size with evidence: {size:,.0f} bytes per event")
    print(f"offline verification: {verified:.1f} s, {'ok' if report.ok else 'FAILED'}")


if __name__ == "__main__":
    main()
