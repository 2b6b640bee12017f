"""The proceeding's victims and their outcome: identity through README §4, then criminal-code.md's
outcome rules 1 and 3 for the prosecution.

Names are never read; a personal number goes straight to `gateway.identity.resolve_child`, as the
kind its `kind` attribute names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import cast

from adapters.prosecution.reading import PREFIX
from adapters.xml_fields import Fields
from gateway.adapter import TranslateContext
from gateway.codes import SEXES
from gateway.facts import Child, DataWarning, Sex
from gateway.identity import resolve_child

GENDER_MAP = "prosecution-gender"
KIND_MAP = "prosecution-personal-number-kind"
GENDER = "http://hl7.org/fhir/administrative-gender"


@dataclass(frozen=True, slots=True)
class Victim:
    child: Child
    # `Deceased` as the message gives it: None when absent.
    deceased: bool | None
    warnings: tuple[DataWarning, ...]


def read_victim(
    victim: Fields, index: int, offence_date: date | None, ctx: TranslateContext
) -> Victim:
    number = victim.text("PersonalNumber", required=False)
    holder = victim.one("PersonalNumber") if number else None
    kind_text = holder.attribute("kind", required=True) if holder else None
    kind = victim.code(kind_text, KIND_MAP, "personal-number-kind", "PersonalNumber kind")
    birth_text = victim.text("BirthDate", required=False)
    birth = victim.xs_date(birth_text, "BirthDate")
    # Identity problems are found last but belong here, in the published element order.
    identity_at = len(victim.problems)
    gender_text = victim.text("Gender", required=True)
    gender = victim.code(gender_text, GENDER_MAP, GENDER, "Gender")
    deceased_text = victim.text("Deceased", required=False)
    deceased = victim.boolean(deceased_text, "Deceased")
    sex = cast(Sex, gender if gender in SEXES else "unknown")
    identity = resolve_child(
        keyring=ctx.keyring,
        incident_date=offence_date,
        sex=sex,
        sex_path=f"{victim.path}/{PREFIX}:Gender",
        egn=number if kind == "EGN" else None,
        lnch=number if kind == "LNCH" else None,
        birth_date=birth,
        birth_date_path=f"{victim.path}/{PREFIX}:BirthDate",
        # A malformed birth date is already reported, and a number of no readable kind may be
        # an ЕГН: neither is also called a missing birth date.
        birth_date_required=birth_text is None and (number is None or kind is not None),
        child_index=index,
    )
    victim.problems[identity_at:identity_at] = identity.problems
    child = identity.child(
        victim.path,
        # Rule 1: what the message says about the victim decides; only death is said.
        stated_outcome="fatal" if deceased else None,
        stated_outcome_path=deceased_text.path if deceased and deceased_text else None,
    )
    return Victim(child, deceased, tuple(identity.warnings))


def implied_outcomes(
    completed: Iterable[str], victims: list[Victim]
) -> tuple[frozenset[str], bool]:
    """Rule 3: (the implied outcome candidates, whether `outcome-conflict` is raised).

    A completed homicide implies `fatal` only when the proceeding lists exactly one victim (of
    any age) whose `Deceased` is not false; otherwise `fatal` is dropped, and that is a conflict
    only when no victim is said to be deceased (one who is gets `fatal` by rule 1 anyway)."""
    candidates = frozenset(completed)
    if "fatal" not in candidates:
        return candidates, False
    if len(victims) == 1 and victims[0].deceased is not False:
        return candidates, False
    return candidates - {"fatal"}, not any(v.deceased for v in victims)
