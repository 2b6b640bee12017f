"""Tolerant reading of a Bundle as plain dicts: whatever is missing or of the wrong JSON type
reads as empty, so that `flatten` and `validate` never raise on junk."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def sub_value(extension: dict[str, Any], url: str) -> Any:
    """The value of the sub-extension `url` of a complex extension, or None."""
    for part in as_list(extension.get("extension")):
        part = as_dict(part)
        if part.get("url") == url:
            return next((v for k, v in part.items() if k.startswith("value")), None)
    return None
