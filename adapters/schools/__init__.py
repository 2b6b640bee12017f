"""The schools' (МОН) adapter: anti-bullying mechanism incidents as CSV batches over REST."""

from adapters.schools.adapter import SchoolsAdapter

__all__ = ["SchoolsAdapter"]
