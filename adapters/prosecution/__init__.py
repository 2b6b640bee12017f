"""The Prosecutor's Office pre-trial proceedings: SOAP 1.2 `NotifyProceeding` (README.md here)."""

from adapters.prosecution.adapter import ProsecutionAdapter

__all__ = ["ProsecutionAdapter"]
