"""Small hand-made flat cases, as `Store.active_cases` gives them, for linking and statistics."""

from __future__ import annotations

from typing import Any


def case(
    key: str,
    reference: str,
    day: str,
    *pseudonyms: str,
    refs: dict[str, str] | None = None,
    sex: str = "female",
    birth: str | None = None,
    age: int | None = None,
    band: str | None = None,
    forms: tuple[str, ...] = ("physical",),
    **more: Any,
) -> dict[str, Any]:
    """A case of record `reference` (`slug:number`); pseudonyms as `key_id:value`."""
    slug = reference.split(":", 1)[0]
    return {
        "case_key": key,
        "institution": slug,
        "incident_reference": reference,
        "incident_date": day,
        "child_pseudonyms": [
            {"key_id": p.split(":")[0], "value": p.split(":")[1]} for p in pseudonyms
        ],
        "birth_date": birth,
        "age": age,
        "age_band": band,
        "sex": sex,
        "forms": list(forms),
        "outcome": more.pop("outcome", "injured"),
        "relationships": more.pop("relationships", ["parent"]),
        "setting": more.pop("setting", "family"),
        "region": more.pop("region", "BG-22"),
        "ekatte": more.pop("ekatte", None),
        "references": refs or {},
        **more,
    }
