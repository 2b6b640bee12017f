"""The Child Protection Departments (ОЗД) adapter: JSON signals over REST."""

from adapters.ozd.adapter import OzdAdapter

__all__ = ["OzdAdapter"]
