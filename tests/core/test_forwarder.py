"""The forwarder settles a batch while it claims and sends the next: a settle that fails gives
its place back, and stopping waits for every settle (the real register over mutual TLS)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway import forwarder as forwarding
from gateway import profile
from gateway.errors import Unavailable
from gateway.forwarder import Forwarder, Policy
from gateway.pki import PkiLayout
from gateway.store import outbox
from gateway.store.db import Database, Tx
from gateway.tls import client_ssl_context
from tests.test_registry import gateway_client, notification, pki, register

__all__ = ["pki"]


def enqueue(db: Database, count: int) -> list[str]:
    made = [notification() for _ in range(count)]
    rows = [
        (n.notification_id, n.case_key, "r-1", "mvr", n.event, orjson.dumps(profile.render(n)))
        for n in made
    ]
    db.write_sync(lambda tx: outbox.enqueue(tx, rows, time.time()))
    return [n.notification_id for n in made]


def run_until(
    forwarder: Forwarder, done: Callable[[], bool], before_stop: Callable[[], Any] = lambda: None
) -> None:
    async def go() -> None:
        task = asyncio.create_task(forwarder.run())
        deadline = time.monotonic() + 20
        while not done():
            assert time.monotonic() < deadline, "not delivered in time"
            await asyncio.sleep(0.02)
        before_stop()
        await forwarder.stop()
        task.cancel()

    asyncio.run(go())


def forwarder(db: Database, url: str, pki: PkiLayout, **policy: Any) -> Forwarder:
    tls = client_ssl_context(pki.register_ca.crt, pki.gateway_client.crt, pki.gateway_client.key)
    return Forwarder(db, url, tls, Policy(**policy))


def received(url: str, pki: PkiLayout) -> list[str]:
    with gateway_client(url, pki) as client:
        return [n["notification_id"] for n in client.get("/api/v1/notifications").json()]


def test_stopping_waits_for_the_settles_of_what_was_sent(
    pki: PkiLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle = forwarding.settle

    def slow_settle(tx: Tx, **kwargs: Any) -> None:
        time.sleep(0.3)  # in the writer thread: stopping comes while it runs
        settle(tx, **kwargs)

    monkeypatch.setattr(forwarding, "settle", slow_settle)
    with register(pki, str(tmp_path / "register.sqlite3")) as url:
        db = Database(str(tmp_path / "gateway.sqlite3"))
        sent = enqueue(db, 6)
        fwd = forwarder(db, url, pki, batch=2)
        run_until(fwd, lambda: len(received(url, pki)) == 6)
        assert db.read_sync(outbox.counts) == {"delivered": 6}
        db.close()
        assert sorted(received(url, pki)) == sorted(sent)


@pytest.mark.parametrize(
    ("error", "failing", "rows", "policy"),
    [
        # More failures than there are places (`unsettled`): each failed settle gives its
        # place back, and its rows, still leased, are sent again when the lease ends.
        (
            RuntimeError("the settle fails"),
            5,
            8,
            {"batch": 1, "unsettled": 2, "lease_seconds": 0.2},
        ),
        # A commit group lost with a restarted writer process, say: tried again at once, as a
        # lease far beyond `run_until`'s 20 s shows.
        (Unavailable("the store cannot commit now"), 2, 3, {"batch": 8, "lease_seconds": 600}),
    ],
    ids=["failed-settle-gives-its-place-back", "unavailable-store-retried-at-once"],
)
def test_a_settle_that_fails(
    pki: PkiLayout,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    failing: int,
    rows: int,
    policy: dict[str, Any],
) -> None:
    settle, failures = forwarding.settle, []

    def failing_settle(tx: Tx, **kwargs: Any) -> None:
        if len(failures) < failing:
            failures.append(1)
            raise error
        settle(tx, **kwargs)

    monkeypatch.setattr(forwarding, "settle", failing_settle)
    with register(pki, str(tmp_path / "register.sqlite3")) as url:
        db = Database(str(tmp_path / "gateway.sqlite3"))
        sent = enqueue(db, rows)
        fwd = forwarder(db, url, pki, **policy)
        run_until(fwd, lambda: db.read_sync(outbox.counts) == {"delivered": rows})
        db.close()
        assert len(failures) == failing
        # The register keeps one of each, whatever was sent twice.
        assert sorted(received(url, pki)) == sorted(sent)
