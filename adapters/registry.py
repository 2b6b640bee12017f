"""The institutions this gateway serves: one line per adapter, built-ins like any other.

Registration is explicit (nothing is discovered at import time). Third-party adapters register
through the `child_gateway.adapters` entry-point group, loaded by the host at start-up.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from gateway.adapter import Adapter
from gateway.errors import ConfigurationError

#: slug -> "module:Class"
BUILTIN: dict[str, str] = {
    "mvr": "adapters.mvr:MvrAdapter",
    "ozd": "adapters.ozd:OzdAdapter",
    "helpline": "adapters.helpline:HelplineAdapter",
    "prosecution": "adapters.prosecution:ProsecutionAdapter",
    "schools": "adapters.schools:SchoolsAdapter",
    "health": "adapters.health:HealthAdapter",
}

_REQUIRED = ("slug", "version", "transport", "child_key", "policy", "message_id", "translate")


def _load(target: str) -> Adapter:
    module, _, name = target.partition(":")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load adapter {target}: {exc}") from exc
    adapter = cls()
    missing = [a for a in _REQUIRED if not hasattr(adapter, a)]
    if missing:
        raise ConfigurationError(f"adapter {target} lacks {', '.join(missing)}")
    if not isinstance(adapter, Adapter):
        raise ConfigurationError(f"adapter {target} does not satisfy the Adapter protocol")
    return adapter


def load_adapters() -> dict[str, Adapter]:
    targets = dict(BUILTIN)
    for ep in entry_points(group="child_gateway.adapters"):
        targets.setdefault(ep.name, ep.value)
    adapters: dict[str, Adapter] = {}
    for slug, target in targets.items():
        adapter = _load(target)
        if adapter.slug != slug:
            raise ConfigurationError(f"adapter {target} says slug {adapter.slug!r}, not {slug!r}")
        adapters[slug] = adapter
    return adapters
