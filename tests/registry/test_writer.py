"""Group commit in the register: concurrent notifications share a transaction, each gets its
own answer, and one that cannot be stored does not take the others down (SQLite and
PostgreSQL, for real)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from registry.store import Store
from registry.writer import GroupWriter
from tests.registry.test_register import flat
from tests.test_registry import notification


class CountingStore(Store):
    """The real store, recording the size of every transaction of `receive_each`."""

    groups: list[int]

    def receive_each(self, items: Iterable[tuple[dict[str, Any], bytes]]) -> list[bool]:
        listed = list(items)
        self.groups = [*getattr(self, "groups", []), len(listed)]
        return super().receive_each(listed)


def receive_all(store: Store, items: list[tuple[dict[str, Any], bytes]]) -> list[Any]:
    async def go() -> list[Any]:
        writer = GroupWriter(store)
        try:
            return await asyncio.gather(
                *(writer.receive(f, b) for f, b in items), return_exceptions=True
            )
        finally:
            writer.close()

    return asyncio.run(go())


def test_concurrent_notifications_are_committed_in_groups_and_each_answered(target: str) -> None:
    sent = [flat(notification()) for _ in range(20)]
    with CountingStore(target) as store:
        answers = receive_all(store, [(f, b"{}") for f in [*sent, sent[0]]])
        stored = store.notifications()
        groups = store.groups
    assert answers == [True] * 20 + [False]  # the repeat, in the same group, is not new
    assert sum(groups) == 21 and len(groups) < 21
    assert sorted(n["notification_id"] for n in stored) == sorted(
        f["notification_id"] for f in sent
    )


def test_one_notification_that_cannot_be_stored_fails_alone(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = [flat(notification()) for _ in range(3)]
    bad = flat(notification())
    del bad["incident_reference"]  # missed after its message row is written: all undone
    with Store(target) as store:
        answers = receive_all(
            store, [(good[0], b"{}"), (bad, b"{}"), *((g, b"{}") for g in good[1:])]
        )
        stored = {n["notification_id"] for n in store.notifications()}
    assert answers[0] is True and answers[2:] == [True, True]
    assert isinstance(answers[1], Exception)
    assert stored == {g["notification_id"] for g in good}
    assert "storing each alone" in caplog.text


def test_a_store_that_cannot_write_fails_every_waiting_notification(target: str) -> None:
    store = Store(target)
    store.close()
    answers = receive_all(store, [(flat(notification()), b"{}") for _ in range(3)])
    assert len(answers) == 3 and all(isinstance(a, Exception) for a in answers)
