"""Several gateway processes on one socket (`workers`), on the default SQLite store: they
share the store as replicas do, and stop together."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.devstack import Stack
from tests.e2e.checks import assert_canonical_store_valid, queue_counts, wait_until
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.messages import mvr_bytes, mvr_envelope, soap_headers

WORKERS = {**FAST_RETRIES, "GATEWAY_WORKERS": "2", "GATEWAY_LEASE_SECONDS": "3"}


def workers_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def workers_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack.create(tmp_path, register_args=["--test-hooks"])
    with stack:
        stack.start_register()
        stack.start_gateway(WORKERS)
        yield stack
    assert_canonical_store_valid(stack)


def test_two_workers_share_the_store_the_chain_and_the_forwarding(workers_stack: Stack) -> None:
    stack = workers_stack
    assert stack.gateway is not None and stack.gateway.proc is not None
    children = workers_of(stack.gateway.proc.pid)
    assert len(children) == 2
    same = mvr_bytes(mvr_envelope())  # sent on many connections at once: accepted once

    def send(i: int) -> bool:
        with stack.client("mvr") as client:
            body = same if i < 6 else mvr_bytes(mvr_envelope())
            response = client.post("/soap/mvr", content=body, headers=soap_headers())
            assert response.status_code == 200, response.text
            return b"DUPLICATE" in response.content

    with ThreadPoolExecutor(12) as pool:
        duplicates = list(pool.map(send, range(60)))
    assert sum(duplicates) == 5
    rows = stack.wait_for_register(55, timeout=60)
    assert len(rows) == 55 and set(Counter(r["notification_id"] for r in rows).values()) == {1}
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 55})
    verdict = stack.gateway_cli("audit", "verify")
    assert verdict.returncode == 0, verdict.stdout


def test_a_dead_worker_stops_the_gateway_for_its_supervisor(workers_stack: Stack) -> None:
    stack = workers_stack
    assert stack.gateway is not None and stack.gateway.proc is not None
    first, second = workers_of(stack.gateway.proc.pid)
    os.kill(first, signal.SIGKILL)
    assert stack.gateway.proc.wait(timeout=30) == 1
    assert wait_until(lambda: not Path(f"/proc/{second}").exists())


def test_sigterm_stops_every_worker(workers_stack: Stack) -> None:
    stack = workers_stack
    assert stack.gateway is not None and stack.gateway.proc is not None
    children = workers_of(stack.gateway.proc.pid)
    stack.gateway.proc.send_signal(signal.SIGTERM)
    assert stack.gateway.proc.wait(timeout=30) == 0
    assert wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children))
