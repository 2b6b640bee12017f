"""Scratch stores for the benchmarks: a SQLite file in a temporary folder, or a fresh schema on
a PostgreSQL server, dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg


@contextmanager
def scratch_url(postgres: str | None, prefix: str = "bench") -> Iterator[str]:
    """A store location for `Database` or the register's `Store`, gone when the block ends."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            yield str(Path(folder) / "store.sqlite3")
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            sep = "&" if "?" in postgres else "?"
            yield f"{postgres}{sep}options={quote(f'-csearch_path={name}')}"
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
