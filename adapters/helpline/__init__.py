"""The National Child Helpline 116 111 adapter: contact records in NDJSON batches over REST."""

from adapters.helpline.adapter import HelplineAdapter

__all__ = ["HelplineAdapter"]
