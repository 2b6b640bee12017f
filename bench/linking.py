"""Linking and statistics at national scale: synthetic notifications straight into a register
store, then read + link + statistics timed.

The notifications are flat forms as the register stores them (the gateway is not involved):
incidents with one to three children, seen by the police (one file for all children), the
prosecution (citing the police file), ОЗД (one signal per child, often citing the police file),
the helpline (often anonymous, sometimes citing the ОЗД signal) and schools; children recur
across incidents; a few cases are updated or cancelled. Figures are printed, never asserted.

    .venv/bin/python -m bench.linking                      # 1,000,000 notifications, SQLite
    .venv/bin/python -m bench.linking --reuse --rules-only # again, deterministic rules only
    .venv/bin/python -m bench.linking --count 100000 --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.linking --postgres URL --schema lb --reuse   # kept, timed again
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.stores import kept_schema, scratch_url
from registry.linking import Linkage, link, paused_gc
from registry.stats import Statistics, statistics
from registry.store import Store

_FORMS = ("physical", "psychological", "sexual", "neglect", "bullying", "online")
_RELATIONSHIPS = ("parent", "step-parent", "other-relative", "peer", "acquaintance", "stranger")
_SETTINGS = ("family", "school", "public-place", "online", "other")
_OUTCOMES = ("fatal", "injured", "not-injured", "unknown")
_BANDS = ("0-5", "6-11", "12-14", "15-17")
_BATCH = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="notifications to store")
    parser.add_argument("--db", type=Path, default=Path("var/bench/linking.sqlite3"))
    parser.add_argument("--postgres", metavar="URL", help="a fresh schema on this server instead")
    parser.add_argument(
        "--schema", help="with --postgres: this schema, kept afterwards (for --reuse)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep an existing --db (or --schema) as it is"
    )
    parser.add_argument("--year", type=int, default=2021)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--rules-only", action="store_true", help="link without the probabilistic step"
    )
    args = parser.parse_args()
    if args.postgres and args.schema:
        url, existed = kept_schema(args.postgres, args.schema, fresh=not args.reuse)
        run(url, args, fill=not (args.reuse and existed))
        return 0
    if args.postgres:
        with scratch_url(args.postgres, "bench_linking") as url:
            run(url, args, fill=True)
        return 0
    fill = not (args.reuse and args.db.exists())
    if fill:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    run(str(args.db), args, fill=fill)
    return 0


def run(target: str, args: argparse.Namespace, *, fill: bool) -> None:
    truth: dict[str, tuple[int, tuple[int, int]]] = {}  # case key -> (true child, true incident)
    with Store(target) as store:
        if fill:
            started = time.perf_counter()
            stored = 0
            batch: list[tuple[dict[str, Any], bytes]] = []
            for flat in notifications(args.count, random.Random(args.seed), truth):
                batch.append((flat, b"{}"))
                if len(batch) == _BATCH:
                    stored += store.receive_many(batch)
                    batch.clear()
            stored += store.receive_many(batch)
            print(f"stored {stored:,} notifications in {time.perf_counter() - started:.1f} s")
            if target.startswith("postgres"):
                _settle(target)
        # One GC pause from the read to the count, as `registry.stats.read_and_count` does.
        with paused_gc():
            t0, c0 = time.perf_counter(), time.process_time()
            cases = store.active_cases()
            t1, c1 = time.perf_counter(), time.process_time()
            linkage = link(cases, probabilistic=not args.rules_only)
            t2, c2 = time.perf_counter(), time.process_time()
            figures = statistics(cases, linkage, args.year)
            t3, c3 = time.perf_counter(), time.process_time()
    rules = Counter(r.rule for r in linkage.reasons)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = "PostgreSQL" if target.startswith("postgres") else "SQLite"
    print(f"backend {backend}, {len(cases):,} active cases")
    # CPU time beside wall time: on a shared machine the wall clock also measures the others.
    print(f"read   {t1 - t0:6.1f} s wall {c1 - c0:6.1f} s CPU")
    print(f"link   {t2 - t1:6.1f} s wall {c2 - c1:6.1f} s CPU")
    print(f"stats  {t3 - t2:6.1f} s wall {c3 - c2:6.1f} s CPU   (year {args.year})")
    print(f"total  {t3 - t0:6.1f} s wall {c3 - c0:6.1f} s CPU   peak RSS {peak:,.0f} MiB")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"children {linkage.children():,}, incidents {linkage.incidents():,},"
        f" unlinked {len(linkage.unlinked):,}, ambiguous {len(linkage.ambiguous):,},"
        f" possible links {len(linkage.possible):,}"
    )
    print("links by rule: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rules.items())))
    guess = linkage.estimate()
    print(
        f"estimated (registry/estimated.py): children {guess.estimated_children:,.0f}"
        f" ± {guess.children_sd:,.0f} (range {guess.children_range[0]:,.0f}"
        f"–{guess.children_range[1]:,.0f}), incidents {guess.estimated_incidents:,.0f}"
        f" ± {guess.incidents_sd:,.0f} (range {guess.incidents_range[0]:,.0f}"
        f"–{guess.incidents_range[1]:,.0f})"
    )
    shares = linkage.shares.items()
    print(
        "repeat shares: "
        + ", ".join(f"{k} {s.share:.2f} [{s.low:.2f}, {s.high:.2f}]" for k, s in shares)
    )
    total = figures.total
    print(
        f"{args.year}: {total.children:,} children, {total.incidents:,} incidents, notifications "
        + ", ".join(f"{s} {n:,}" for s, n in total.notifications.items() if n)
    )
    print(f"fingerprint {fingerprint(linkage, figures)}  (the same when no link or figure moved)")
    if truth:
        for name, found, part in (
            ("children", linkage.child_of, 0),
            ("incidents", linkage.incident_of, 1),
        ):
            precision, recall, distinct = _pairs(found, {k: t[part] for k, t in truth.items()})
            counted = (guess.children, guess.incidents)[part]
            estimated = (guess.estimated_children, guess.estimated_incidents)[part]
            print(
                f"{name} against the generator's truth: pair precision {precision:.4f},"
                f" pair recall {recall:.4f}, {distinct:,} true,"
                f" counted {counted / distinct - 1:+.2%}, estimated {estimated / distinct - 1:+.2%}"
            )


def _settle(url: str) -> None:
    """Vacuum and analyse the fresh tables before the timed part: after a million rows the
    server's autovacuum would otherwise do it on the other core while the read and the linking
    are timed (seen here: load average 1.3 at the end of such a run)."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) cases, messages")
    print(f"vacuumed and analysed in {time.perf_counter() - started:.1f} s")


def fingerprint(linkage: Linkage, figures: Statistics) -> str:
    """SHA-256 of every case's child and incident, every link with its reason, the possible,
    unlinked and ambiguous cases and the year's figures: what a change meant only to be faster
    must leave as it was."""
    digest = hashlib.sha256()
    for part in (
        sorted(zip(linkage.keys, linkage.children_at, linkage.incidents_at, strict=True)),
        [list(reason) for reason in sorted(linkage.reasons)],
        [list(pair) for pair in sorted(linkage.possible)],
        sorted(linkage.unlinked),
        sorted(linkage.ambiguous.items()),
        figures.as_dict(),
    ):
        digest.update(orjson.dumps(part))
    return digest.hexdigest()[:12]


def _pairs(found: dict[str, str], truth: dict[str, Any]) -> tuple[float, float, int]:
    """Pairwise precision and recall of a grouping (pairs of cases put together), and the
    number of true groups among the active cases."""
    keys = [k for k in found if k in truth]
    both = Counter((found[k], truth[k]) for k in keys)
    said = Counter(found[k] for k in keys)
    real = Counter(truth[k] for k in keys)

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    right = pairs(both)
    return right / max(pairs(said), 1), right / max(pairs(real), 1), len(real)


def notifications(
    count: int, rnd: random.Random, truth: dict[str, tuple[int, tuple[int, int]]]
) -> Iterator[dict[str, Any]]:
    """`count` flat notifications: new ones incident by incident, some updates and cancels;
    `truth` gets each case's true child and incident."""
    made = 0
    children: list[dict[str, Any]] = []
    live: list[dict[str, Any]] = []
    incident = 0
    while made < count:
        incident += 1
        for flat in _incident(incident, children, rnd, truth):
            yield flat
            live.append(flat)
            made += 1
            if made >= count:
                return
        if live and rnd.random() < 0.04:
            old = live[rnd.randrange(len(live))]
            event = "cancel" if rnd.random() < 0.25 else "update"
            yield {**old, "notification_id": _uuid(rnd), "event": event}
            made += 1


def _incident(
    n: int,
    known: list[dict[str, Any]],
    rnd: random.Random,
    truth: dict[str, tuple[int, tuple[int, int]]],
) -> list[dict[str, Any]]:
    day = date(2020, 1, 1) + timedelta(rnd.randrange(3 * 365))
    kids = [_child(known, day, rnd) for _ in range(rnd.choices((1, 2, 3), (85, 10, 5))[0])]
    forms = rnd.sample(_FORMS, rnd.choice((1, 1, 2)))
    common = {
        "forms": forms,
        "outcome": rnd.choices(_OUTCOMES, (1, 30, 50, 19))[0],
        "relationships": [rnd.choice(_RELATIONSHIPS)],
        "setting": rnd.choice(_SETTINGS),
        "region": f"BG-{rnd.randrange(1, 29):02d}",
    }
    found: list[dict[str, Any]] = []
    mvr = f"ЗМ-{n}/{day.year}" if rnd.random() < 0.5 else None

    def case(
        slug: str, record: str, kid: dict[str, Any], refs: dict[str, str], **more: Any
    ) -> None:
        shift = timedelta(rnd.choice((0, 0, 0, 1, 2)))
        nid, key = _uuid(rnd), _uuid(rnd)
        truth[key] = (kid["n"], (kid["n"], n))  # an incident is one child in one incident
        found.append(
            {
                "notification_id": nid,
                "case_key": key,
                "event": "new",
                "institution": slug,
                "incident_reference": f"{slug}:{record}",
                "incident_date": (day + shift).isoformat(),
                "child_pseudonyms": kid["pseudonyms"],
                "birth_date": kid["birth_date"],
                "age": None,
                "age_band": None,
                "sex": kid["sex"],
                "references": refs,
                "ekatte": None,
                **common,
                **more,
            }
        )

    if mvr:
        for kid in kids:
            case("mvr", mvr, kid, {})
        if rnd.random() < 0.4:
            for kid in kids:
                case("prosecution", f"ДП {n}/{day.year}", kid, {"mvr": mvr})
    for k, kid in enumerate(kids):
        signal = f"ОЗД-{n}-{k}" if rnd.random() < 0.5 else None
        if signal:
            case("ozd", signal, kid, {"mvr": mvr} if mvr and rnd.random() < 0.7 else {})
        if rnd.random() < 0.3:
            anonymous = {**kid, "pseudonyms": [], "birth_date": None}
            refs = {"ozd": signal} if signal and rnd.random() < 0.5 else {}
            if rnd.random() < 0.6:
                case("helpline", f"HL-{n}-{k}", anonymous, refs, age_band=_band(kid, day))
            else:
                case("helpline", f"HL-{n}-{k}", kid, refs)
        if rnd.random() < 0.1:
            case("schools", f"{n % 3000:06d}/{n}-{k}", kid, {"ozd": signal} if signal else {})
    return found


def _uuid(rnd: random.Random) -> str:
    """A random UUID from the seeded generator: the same data on every backend and run."""
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _child(known: list[dict[str, Any]], day: date, rnd: random.Random) -> dict[str, Any]:
    if known and rnd.random() < 0.25:  # a child seen before, in another incident
        return known[rnd.randrange(len(known))]
    born = day - timedelta(rnd.randrange(18 * 365))
    identified = rnd.random() < 0.9
    value = f"{rnd.getrandbits(256):064x}"
    kid = {
        "pseudonyms": [{"key_id": "k1", "value": value}] if identified else [],
        "birth_date": born.isoformat(),
        "sex": rnd.choice(("male", "female")),
        "n": len(known),
    }
    known.append(kid)
    return kid


def _band(kid: dict[str, Any], day: date) -> str:
    years = (day - date.fromisoformat(kid["birth_date"])).days // 365
    return next((b for b in _BANDS if int(b.split("-")[1]) >= years), "15-17")


if __name__ == "__main__":
    sys.exit(main())
