"""Store-and-forward to the register: FHIR `$process-message` over mutual TLS, keep-alive.

Claims due rows from the outbox in batches, sends them concurrently (one case never has two rows
in flight: only a case's oldest pending row is due), and settles each: `ok` → delivered;
`transient-error`, a 5xx, 408/429 or a network failure → retried with exponential backoff and
full jitter, for as long as it takes; `fatal-error` or another 4xx → dead letter, the register's
reason kept. A killed process leaves leased rows that come back when their lease ends (at once on
restart for the single-node SQLite store); the register is idempotent by MessageHeader.id, so a
row sent twice is received once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import orjson

from gateway import audit
from gateway.audit import Entry
from gateway.audit import children as audit_children
from gateway.errors import DeliveryError, Unavailable
from gateway.http1 import Http1Pool, HttpError
from gateway.store import outbox
from gateway.store.db import Database, Tx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    #: Rows per claim. Under heavy intake a claim waits behind a long commit group, so it must
    #: take what arrived meanwhile: at 128 senders, 64 delivered 473/s of 512 accepted, 256
    #: kept up (bench/README.md).
    batch: int = 256
    concurrency: int = 16
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    lease_seconds: float = 60.0
    idle_seconds: float = 1.0
    workers: int = 2
    #: Batches claimed and not yet settled, across the loops (each holds its rows' leases).
    unsettled: int = 4

    def backoff(self, attempts: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^n)], at least
        a tenth of the base so that a burst of failures does not spin."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(attempts, 30))
        return max(self.base_seconds / 10, random.uniform(0, ceiling))


def interpret(status: int, body: bytes) -> None:
    """Raise DeliveryError unless the register's response message says `ok`."""
    code, reason = "", f"HTTP {status}"
    try:
        bundle: Any = orjson.loads(body)
        header = bundle["entry"][0]["resource"]
        code = header.get("response", {}).get("code", "")
        issues = [
            i.get("diagnostics") or i.get("details", {}).get("text", "")
            for e in bundle.get("entry", [])[1:]
            if e.get("resource", {}).get("resourceType") == "OperationOutcome"
            for i in e["resource"].get("issue", [])
        ]
        if issues:
            reason += ": " + "; ".join(str(i) for i in issues if i)[:500]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        pass
    if 200 <= status < 300 and code == "ok":
        return
    if code == "fatal-error" or (400 <= status < 500 and status not in (408, 429)):
        raise DeliveryError(f"fatal-error: {reason}", fatal=True)
    raise DeliveryError(f"{code or 'transient-error'}: {reason}", fatal=False)


#: Pauses before each further try of a settle that found the store unavailable.
_SETTLE_RETRIES = (0.1, 0.5, 2.0)


class Forwarder:
    def __init__(self, db: Database, url: str, ssl_context: ssl.SSLContext, policy: Policy) -> None:
        self.db = db
        self.path = urlsplit(url).path.rstrip("/") + "/fhir/$process-message"
        self.policy = policy
        self._client = Http1Pool(url, ssl_context, size=policy.concurrency, timeout=30.0)
        self._wake = asyncio.Event()
        self._stopping = False
        self._slots = asyncio.Semaphore(policy.unsettled)
        self._settling: set[asyncio.Task[None]] = set()
        self._loops: asyncio.Future[list[None]] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        if not self.db.postgres:
            # One node owns a SQLite store: leases of a killed predecessor are void at once.
            await self.db.write(outbox.release_leases)
        # Several loops, so that claiming one batch overlaps sending another (settling is
        # overlapped already: `step` does not wait for it).
        self._loops = asyncio.gather(*(self._loop() for _ in range(self.policy.workers)))
        await self._loops

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                sent = await self.step()
            except Exception:  # the loop must outlive any one failure (logged, retried)
                log.exception("forwarder step failed")
                sent = 0
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.policy.idle_seconds)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let the loops finish the batches they are sending and record what was sent, for
        up to `grace_seconds`. Whatever is cut short stays leased and is sent again after the
        restart, which the register takes as a repeat: nothing is lost either way."""
        self._stopping = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace_seconds
        if self._loops is not None:
            await asyncio.wait([self._loops], timeout=grace_seconds)
        if self._settling:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait(self._settling, timeout=left)
        await self._client.close()

    async def step(self) -> int:
        """Claim one batch and send it; returns how many rows were sent. Its settling is not
        awaited: the next claim overlaps it. Under heavy intake every commit group is long
        (it holds every message that arrived meanwhile), and a loop that waited for its settle
        too sent one batch per two groups: at 128 senders the queue grew by 350/s while 275/s
        were delivered (bench/README.md)."""
        await self._slots.acquire()
        try:
            rows, results = await self._claim_and_send()
        except BaseException:
            self._slots.release()
            raise
        if not rows:
            self._slots.release()
            return 0
        task = asyncio.create_task(self._settled(rows, results))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)
        return len(rows)

    async def _settled(
        self, rows: list[outbox.Queued], results: list[DeliveryError | None]
    ) -> None:
        # What settling needs of each row, without its body (the unit may be pickled).
        light = [replace(r, body=b"") for r in rows]
        outcomes = [None if e is None else (e.fatal, e.reason) for e in results]
        unit = partial(settle, rows=light, results=outcomes, policy=self.policy)
        try:
            for pause in _SETTLE_RETRIES:
                try:
                    await self.db.write(unit)
                    return
                except Unavailable:
                    # A store that failed one commit group (a restarted writer process, a busy
                    # disk) usually takes the next: without a retry these rows would wait for
                    # their lease to end (a minute) before being sent again.
                    await asyncio.sleep(pause)
            await self.db.write(unit)
        except Exception:  # the rows stay leased and are sent again when the lease ends
            log.exception("forwarder settle failed")
        finally:
            self._slots.release()

    async def _claim_and_send(self) -> tuple[list[outbox.Queued], list[DeliveryError | None]]:
        p = self.policy
        rows = await self.db.write(
            partial(claim, limit=p.batch, now=time.time(), lease_seconds=p.lease_seconds)
        )
        if not rows:
            return [], []

        async def send(row: outbox.Queued) -> DeliveryError | None:
            # The pool bounds how many are in flight, across the loops.
            try:
                status, body = await self._client.post(self.path, row.body, "application/fhir+json")
                interpret(status, body)
            except DeliveryError as exc:
                return exc
            except HttpError as exc:
                return DeliveryError(f"transient-error: {exc}", fatal=False)
            return None

        return rows, list(await asyncio.gather(*(send(r) for r in rows)))


def claim(tx: Tx, *, limit: int, now: float, lease_seconds: float) -> list[outbox.Queued]:
    """Lease up to `limit` due rows and record the attempt (a unit: module-level, it pickles)."""
    rows = outbox.claim(tx, limit, now, lease_seconds)
    kids = audit_children.of_cases(tx, (r.case_key for r in rows))
    audit.append(
        tx,
        [
            Entry(
                "forwarded",
                institution=r.institution,
                receipt_id=r.receipt_id,
                notification_ids=(r.notification_id,),
                outcome=f"attempt {r.attempts + 1}",
                children=(kids[r.case_key],) if r.case_key in kids else (),
            )
            for r in rows
        ],
    )
    return rows


def settle(
    tx: Tx,
    *,
    rows: list[outbox.Queued],
    results: list[tuple[bool, str] | None],
    policy: Policy,
) -> None:
    """Record each row's answer: `results[i]` is None (delivered) or (fatal, reason)."""
    at = datetime.now(UTC).isoformat()
    entries: list[Entry] = []
    ok = [r.seq for r, e in zip(rows, results, strict=True) if e is None]
    outbox.delivered(tx, ok, at)
    kids = audit_children.of_cases(tx, (r.case_key for r in rows))
    for row, error in zip(rows, results, strict=True):
        common: dict[str, Any] = {
            "institution": row.institution,
            "receipt_id": row.receipt_id,
            "notification_ids": (row.notification_id,),
            "children": (kids[row.case_key],) if row.case_key in kids else (),
        }
        if error is None:
            entries.append(Entry("delivered", outcome="ok", **common))
            continue
        fatal, reason = error
        if fatal:
            outbox.dead(tx, row.seq, reason)
            entries.append(Entry("dead-lettered", outcome="fatal-error", detail=reason, **common))
        else:
            delay = policy.backoff(row.attempts)
            outbox.retry(tx, row.seq, time.time() + delay, reason)
            entries.append(
                Entry(
                    "retried",
                    outcome="transient-error",
                    detail=f"{reason}; next in {delay:.1f}s",
                    **common,
                )
            )
    audit.append(tx, entries)
