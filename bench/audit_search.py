"""Audit search over a million records: fill a store through the real `append`, time each search.

    .venv/bin/python -m bench.audit_search                       # SQLite in a temporary folder
    .venv/bin/python -m bench.audit_search --postgres postgresql://postgres@127.0.0.1:5432/test

Synthetic traffic, shaped like the gateway's: each message leaves five records (received,
accepted, translated, forwarded, delivered) about one child, from one of six institutions and a
dozen certificates. Every kind of search is then repeated against random existing keys and its
median and maximum are printed. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bench.stores import scratch_url
from gateway import audit
from gateway.audit import Entry, Query
from gateway.store.db import Database, Tx

INSTITUTIONS = ("mvr", "prosecution", "ozd", "helpline", "schools", "health")
STEPS = ("received", "accepted", "translated", "forwarded", "delivered")
START = datetime(2026, 1, 1, tzinfo=UTC)


def _hex(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


class Traffic:
    """Deterministic synthetic messages; remembers a sample of keys to search for."""

    def __init__(self, children: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.children = [_hex("child", i) for i in range(children)]
        self.certs = {i: [_hex("cert", i, n) for n in range(2)] for i in INSTITUTIONS}
        self.receipts: list[str] = []
        self.notifications: list[str] = []

    def message(self, n: int) -> list[Entry]:
        rng = self.rng
        institution = INSTITUTIONS[n % len(INSTITUTIONS)]
        cert = rng.choice(self.certs[institution])
        receipt, notification = str(uuid.UUID(int=rng.getrandbits(128))), str(uuid.uuid4())
        child = (rng.choice(self.children),)
        if n % 997 == 0:
            self.receipts.append(receipt)
            self.notifications.append(notification)
        intake: dict[str, Any] = {
            "institution": institution,
            "cert_fp": cert,
            "receipt_id": receipt,
        }
        raw = _hex("raw", n)
        return [
            Entry("received", raw_sha256=raw, children=child, **intake),
            Entry(
                "accepted",
                notification_ids=(notification,),
                outcome="accepted",
                raw_sha256=raw,
                children=child,
                **intake,
            ),
            Entry(
                "translated",
                notification_ids=(notification,),
                outcome="new",
                detail="mapping 2026.1",
                raw_sha256=raw,
                children=child,
                **intake,
            ),
            Entry(
                "forwarded",
                institution=institution,
                receipt_id=receipt,
                notification_ids=(notification,),
                outcome="attempt 1",
                children=child,
            ),
            Entry(
                "delivered",
                institution=institution,
                receipt_id=receipt,
                notification_ids=(notification,),
                outcome="ok",
                children=child,
            ),
        ]


def _append(entries: list[Entry], at: datetime, tx: Tx) -> None:
    audit.append(tx, entries, at)


def _search(query: Query, tx: Tx) -> list[audit.Record]:
    return audit.search(tx, query)


def fill(db: Database, traffic: Traffic, records: int, batch: int) -> float:
    """Append `records` through `audit.append`, `batch` messages per transaction; seconds."""
    messages = records // len(STEPS)
    began = time.perf_counter()
    for first in range(0, messages, batch):
        entries = [
            e for n in range(first, min(first + batch, messages)) for e in traffic.message(n)
        ]
        at = START + timedelta(minutes=first // batch * 10)
        db.write_sync(partial(_append, entries, at))
        done = min(first + batch, messages) * len(STEPS)
        if done % 100_000 < batch * len(STEPS):
            print(f"  {done:>9,} records  {time.perf_counter() - began:6.1f} s", flush=True)
    return time.perf_counter() - began


def timed(db: Database, queries: Iterator[Query], repeat: int) -> tuple[float, float, int]:
    """Median and maximum milliseconds, and the median number of records found."""
    times, counts = [], []
    for _, query in zip(range(repeat), queries, strict=False):
        began = time.perf_counter()
        found = db.read_sync(partial(_search, query))
        times.append((time.perf_counter() - began) * 1000)
        counts.append(len(found))
    return statistics.median(times), max(times), int(statistics.median(counts))


def searches(traffic: Traffic, span_minutes: int) -> dict[str, Callable[[], Iterator[Query]]]:
    rng = random.Random(11)

    def forever(make: Callable[[], Query]) -> Callable[[], Iterator[Query]]:
        def queries() -> Iterator[Query]:
            while True:
                yield make()

        return queries

    def window() -> Query:
        since = START + timedelta(minutes=rng.randrange(span_minutes))
        return Query(
            institution=rng.choice(INSTITUTIONS),
            since=since.isoformat(),
            until=(since + timedelta(hours=1)).isoformat(),
        )

    return {
        "child (internal pseudonym)": forever(lambda: Query(child=rng.choice(traffic.children))),
        "receipt id": forever(lambda: Query(receipt_id=rng.choice(traffic.receipts))),
        "notification id": forever(
            lambda: Query(notification_id=rng.choice(traffic.notifications))
        ),
        "institution + 1 h window": forever(window),
        "certificate fingerprint (first 1000)": forever(
            lambda: Query(cert_fp=rng.choice(traffic.certs[rng.choice(INSTITUTIONS)]))
        ),
        "child + institution": forever(
            lambda: Query(child=rng.choice(traffic.children), institution=rng.choice(INSTITUTIONS))
        ),
    }


@contextmanager
def store(postgres: str | None) -> Iterator[Database]:
    with scratch_url(postgres, "bench_audit") as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="messages per transaction")
    parser.add_argument("--repeat", type=int, default=200, help="queries per kind of search")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database (a schema is "
                        "created in it and dropped afterwards); default SQLite")  # fmt: skip
    args = parser.parse_args()
    traffic = Traffic(args.children)
    engine = "PostgreSQL" if args.postgres else "SQLite"
    with store(args.postgres) as db:
        print(f"filling {args.records:,} audit records ({engine}) through audit.append ...")
        seconds = fill(db, traffic, args.records, args.batch)
        print(f"filled in {seconds:.1f} s ({args.records / seconds:,.0f} records/s)")
        span = args.records // len(STEPS) // args.batch * 10
        print(f"\n{'search':<40} {'median ms':>10} {'max ms':>10} {'found':>7}")
        for name, queries in searches(traffic, span).items():
            median, worst, found = timed(db, queries(), args.repeat)
            print(f"{name:<40} {median:>10.2f} {worst:>10.2f} {found:>7}")
        verdict_began = time.perf_counter()
        verdict = db.read_sync(audit.verify)
        print(
            f"\nchain verify over {verdict.records:,} records: "
            f"{'intact' if verdict.ok else 'BROKEN'} in {time.perf_counter() - verdict_began:.1f} s"
        )


if __name__ == "__main__":
    main()
