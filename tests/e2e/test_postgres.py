"""The production store: the gateway on the real PostgreSQL, alone and as several replicas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gateway.devstack import Stack
from tests import pg
from tests.e2e.checks import assert_canonical_store_valid, queue_counts, wait_until
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.messages import mvr_bytes, mvr_envelope, soap_headers, submit

pytestmark = pytest.mark.postgres
PG_ENV = {**FAST_RETRIES, "GATEWAY_LEASE_SECONDS": "3"}


@pytest.fixture
def pg_stack(tmp_path: Path) -> Iterator[Stack]:
    with pg.schema() as url:
        stack = Stack.create(tmp_path, database=url, register_args=["--test-hooks"])
        with stack:
            stack.start_register()
            stack.start_gateway(PG_ENV)
            yield stack
        assert_canonical_store_valid(stack)


def test_killed_gateway_on_postgres_delivers_once(pg_stack: Stack) -> None:
    stack = pg_stack
    assert stack.register is not None and stack.gateway is not None
    stack.register.stop()
    client = stack.soap_client("mvr", "/soap/mvr")
    answers = [submit(client, mvr_envelope()) for _ in range(4)]
    assert [a.Status for a in answers] == ["ACCEPTED"] * 4
    stack.gateway.kill()
    stack.start_register()
    # Replicas cannot void each other's leases: the killed process's rows come back when
    # their (here short) lease ends.
    stack.start_gateway(PG_ENV)
    rows = stack.wait_for_register(4, timeout=60)
    assert len(rows) == 4 and set(Counter(r["notification_id"] for r in rows).values()) == {1}
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 4})
    assert stack.gateway_cli("audit", "verify").returncode == 0


def test_replicas_share_one_store_and_one_chain(pg_stack: Stack) -> None:
    stack = pg_stack
    _, second_url = stack.start_replica(PG_ENV)
    urls = [stack.gateway_url, second_url]
    same = mvr_bytes(mvr_envelope())  # sent to both replicas at once: one accepts

    def send(i: int) -> Any:
        with stack.client("mvr") as client:
            body = same if i < 4 else mvr_bytes(mvr_envelope())
            response = client.post(urls[i % 2] + "/soap/mvr", content=body, headers=soap_headers())
            assert response.status_code == 200, response.text
            return b"DUPLICATE" in response.content

    with ThreadPoolExecutor(8) as pool:
        duplicates = list(pool.map(send, range(40)))
    assert sum(duplicates) == 3  # four sends of one message: one accepted, three duplicates
    rows = stack.wait_for_register(37, timeout=60)
    assert len(rows) == 37 and set(Counter(r["notification_id"] for r in rows).values()) == {1}
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 37})
    verdict = stack.gateway_cli("audit", "verify")
    assert verdict.returncode == 0, verdict.stdout
