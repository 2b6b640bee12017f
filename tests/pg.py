"""A PostgreSQL schema of its own for one test, on the server this machine runs (never a mock)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest

BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def schema() -> Iterator[str]:
    """Yields a URL whose search_path is a fresh schema, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {BASE} is required for this test: {exc}")
    with admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            sep = "&" if "?" in BASE else "?"
            yield f"{BASE}{sep}options={quote(f'-csearch_path={name}')}"
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
