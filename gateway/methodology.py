"""The register's counting rules (README §6–§7), written once for every institution.

Adapters give candidates; these functions decide: who is a child, which forms, which outcome,
which setting, which relationships, and the deterministic ids of a notification and its case.
"""

from __future__ import annotations

import calendar
import hashlib
import uuid
from collections.abc import Iterable
from datetime import date

from gateway.codes import CANONICAL_BASE, OUTCOMES, RELATIONSHIPS, VIOLENCE_FORMS
from gateway.facts import Child

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, CANONICAL_BASE)
_NAMESPACE_BYTES = NAMESPACE.bytes
ADULT_AGE = 18
_FAMILY = frozenset({"parent", "step-parent", "other-relative"})


def age_on(birth: date, day: date) -> int:
    """Completed years; someone born on 29 February is a year older on 28 February in common
    years."""
    month, dom = birth.month, birth.day
    if (month, dom) == (2, 29) and not calendar.isleap(day.year):
        dom = 28
    return day.year - birth.year - ((day.month, day.day) < (month, dom))


def _latest_birth(partial: str) -> date:
    """The latest date a partial birth date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) can stand for."""
    parts = [int(p) for p in partial.split("-")]
    if len(parts) == 3:
        return date(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
    return date(parts[0], 12, 31)


def is_child(child: Child, incident_date: date, band_upper: int | None = None) -> bool:
    """Younger than 18 on the incident date. A partial birth date counts as a child when it can
    be one; an unknown age counts as a child (the report is about a child until shown not)."""
    if child.birth_date:
        return age_on(_latest_birth(child.birth_date), incident_date) < ADULT_AGE
    if child.age is not None:
        return child.age < ADULT_AGE
    if band_upper is not None:
        return band_upper < ADULT_AGE
    return True


def forms(candidates: Iterable[str]) -> tuple[str, ...]:
    """The set in table order; no form gives `unspecified`, which never stands beside another."""
    found = set(candidates) - {"unspecified"}
    if "trafficking" in found:
        found.add("exploitation")
    if not found:
        return ("unspecified",)
    return tuple(f for f in VIOLENCE_FORMS if f in found)


def outcome(stated: str | None, implied: Iterable[str]) -> tuple[str, bool]:
    """(outcome, conflict). What the message says about the victim wins; otherwise the highest
    implied outcome; conflict when a stated non-fatal outcome meets an implied `fatal`."""
    implied = set(implied)
    if stated is not None:
        return stated, stated != "fatal" and "fatal" in implied
    for candidate in OUTCOMES:
        if candidate in implied:
            return candidate, False
    return "unknown", False


def relationships(candidates: Iterable[str]) -> tuple[str, ...]:
    found = set(candidates) - {"unknown"}
    if not found:
        return ("unknown",)
    return tuple(r for r in RELATIONSHIPS if r in found)


def setting(explicit: str | None, implied: Iterable[str], rels: Iterable[str]) -> tuple[str, bool]:
    """(setting, conflicting-implied-settings)."""
    if explicit is not None and explicit != "unknown":
        return explicit, False
    distinct = set(implied)
    if len(distinct) == 1:
        return distinct.pop(), False
    if len(distinct) > 1:
        return "unknown", True
    if _FAMILY & set(rels):
        return "family", False
    return "unknown", False


def child_keys(children: list[Child], mode: str) -> list[str]:
    """README §5: pseudonym under the internal key, else birth date + sex; a repeated key gets
    its ordinal in document order (the first keeps the plain key, so adding a twin later does
    not re-key the first child)."""
    if mode == "record":
        return ["record" for _ in children]
    seen: dict[str, int] = {}
    keys: list[str] = []
    for child in children:
        base = (
            f"id:{child.internal_id}"
            if child.internal_id
            else f"bs:{child.birth_date or child.age or ''}:{child.sex}"
        )
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys


def case_key(slug: str, record_key: str, child_key: str) -> str:
    return name_uuid(f"case|{slug}|{record_key}|{child_key}")


def notification_id(slug: str, message_id: str, child_key: str) -> str:
    return name_uuid(f"notification|{slug}|{message_id}|{child_key}")


def name_uuid(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))`, the same value at a quarter of the cost (no UUID
    object): a canonical message needs half a dozen of these ids."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
