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
from psycopg import sql


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
            yield schema_url(postgres, name)
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def kept_schema(postgres: str, name: str, *, fresh: bool) -> tuple[str, bool]:
    """A store location in schema `name`, kept after the run (to time it again without a fill
    of minutes): emptied first when `fresh`. Also says whether it was there before."""
    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as admin:
        query = "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s"
        existed = bool(admin.execute(query, (name,)).fetchall())
        schema = sql.Identifier(name)  # a name from the command line
        if fresh:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
    return schema_url(postgres, name), existed


def schema_url(postgres: str, name: str) -> str:
    sep = "&" if "?" in postgres else "?"
    return f"{postgres}{sep}options={quote(f'-csearch_path={name}')}"
