"""Units reach the store in the order of the calls, however their awaits interleave."""

from __future__ import annotations

import asyncio
import random

from gateway.ordering import OrderGate


def test_turns_follow_tickets_whatever_the_delays() -> None:
    async def scenario() -> list[int]:
        gate = OrderGate()
        entered: list[int] = []

        async def worker(delay: float, gives_up: bool) -> None:
            ticket = gate.take()
            try:
                await asyncio.sleep(delay)
                if gives_up:
                    return
                await gate.turn(ticket)
                entered.append(ticket)
            finally:
                gate.done(ticket)

        rng = random.Random(7)
        await asyncio.gather(*(worker(rng.random() / 100, gives_up=i % 7 == 3) for i in range(60)))
        return entered

    entered = asyncio.run(scenario())
    assert entered == sorted(entered)
    assert len(entered) == 60 - len([i for i in range(60) if i % 7 == 3])


def test_done_twice_and_first_ticket_pass() -> None:
    async def scenario() -> None:
        gate = OrderGate()
        first, second = gate.take(), gate.take()
        await gate.turn(first)  # the front never waits
        gate.done(first)
        gate.done(first)
        await asyncio.wait_for(gate.turn(second), 1)

    asyncio.run(scenario())
