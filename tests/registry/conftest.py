"""The register's fixtures (a development PKI; a SQLite file or a fresh PostgreSQL schema)."""

from tests.test_registry import pki, target

__all__ = ["pki", "target"]
