"""Call order kept across awaits: the pipeline hands its units to the store in submit order.

Lines of a batch are submitted concurrently (their reads, translation and sealing overlap), yet
each record's state must meet them in line order and a batch must give the same outbox every
time: each submit takes a ticket before its first await and enqueues its unit only when every
earlier ticket has enqueued or given up.
"""

from __future__ import annotations

import asyncio


class OrderGate:
    def __init__(self) -> None:
        self._next = 0  # the next ticket to hand out
        self._front = 0  # the oldest ticket not yet done
        self._done: set[int] = set()
        self._waiting: dict[int, asyncio.Future[None]] = {}

    def take(self) -> int:
        ticket = self._next
        self._next += 1
        return ticket

    async def turn(self, ticket: int) -> None:
        """Returns when every ticket before `ticket` is done."""
        if ticket == self._front:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = waiter
        try:
            await waiter
        finally:
            self._waiting.pop(ticket, None)

    def done(self, ticket: int) -> None:
        """`ticket` has enqueued (or will not): later ones may go. Calling it twice is harmless."""
        if ticket < self._front:
            return
        self._done.add(ticket)
        while self._front in self._done:
            self._done.discard(self._front)
            self._front += 1
        waiter = self._waiting.get(self._front)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
