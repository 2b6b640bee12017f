"""Fixtures for end-to-end tests: the real register and gateway processes over mutual TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devstack import Stack
from tests.e2e.checks import assert_canonical_store_valid

# Short retries so that "register down, then up" resolves within a test's patience.
FAST_RETRIES = {"GATEWAY_RETRY_BASE_SECONDS": "0.2", "GATEWAY_RETRY_MAX_SECONDS": "1"}


def _start(root: Path, database: str | None = None) -> Stack:
    stack = Stack.create(root, database=database, register_args=["--test-hooks"])
    stack.start_register()
    stack.start_gateway(FAST_RETRIES)
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One deployment shared by a module's tests (they use distinct message ids)."""
    with _start(tmp_path_factory.mktemp("stack")) as s:
        yield s
    assert_canonical_store_valid(s)


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    """A deployment of its own, for tests that stop, kill or break a server."""
    with _start(tmp_path) as s:
        yield s
    assert_canonical_store_valid(s)


__all__ = ["FAST_RETRIES", "_start"]
