"""Where the shipped data lives: the mapping set and the published profile.

In a checkout (and an editable install) they are the top-level `mappings/` and `profiles/`
folders; an installed wheel carries them under `<prefix>/share/child-violence-gateway/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_SHARE = Path(sys.prefix) / "share" / "child-violence-gateway"


def _find(name: str) -> Path:
    for base in (_ROOT, _SHARE):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"cannot find the {name}/ folder next to the gateway or in {_SHARE}")


def mappings_dir() -> Path:
    return _find("mappings")


def profiles_dir() -> Path:
    return _find("profiles")
