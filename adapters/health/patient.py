"""The child: the encounter's Patient read into pseudonyms, birth date, sex, outcome and residence.

Names are never read. Personal numbers go straight to `gateway.identity.resolve_child`; what
comes back holds pseudonyms only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from adapters.health.bundle import Entry, Reader
from adapters.health.dates import FhirDate, NotADate, parse_date, parse_date_time
from gateway.adapter import TranslateContext
from gateway.codes import SEXES
from gateway.facts import Child, DataWarning, Place, Sex
from gateway.identity import Located, resolve_child
from gateway.methodology import ADULT_AGE, age_on

EGN_SYSTEM = "https://nhis.bg/fhir/sid/egn"
LNCH_SYSTEM = "https://nhis.bg/fhir/sid/lnch"
GENDER_MAP = "health-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
_NUMBERS = {EGN_SYSTEM: "ЕГН", LNCH_SYSTEM: "ЛНЧ"}
_REGION = re.compile(r"^BG-(?:0[1-9]|1[0-9]|2[0-8])$")
_EKATTE = re.compile(r"^[0-9]{5}$")


@dataclass(slots=True)
class PatientFacts:
    """The child as the core sees it, and the Patient's coded values kept as source codes."""

    child: Child
    warnings: list[DataWarning] = field(default_factory=list)
    place: Place | None = None
    gender: str | None = None
    deceased: str | None = None


def _numbers(r: Reader, patient: Entry) -> dict[str, Located]:
    """The ЕГН and the ЛНЧ among the identifiers (other systems are ignored); a second one of
    either system is a conflict, as both together are (the latter is `resolve_child`'s)."""
    found: dict[str, Located] = {}
    for ident, path in r.items(patient.resource, "identifier", patient.path):
        system = r.string(ident, "system", path)
        if system not in _NUMBERS:
            continue
        value = ident.get("value")
        if not isinstance(value, str):
            r.problem(f"{path}.value", "required", f"the {_NUMBERS[system]} must be a string")
        elif system in found:
            r.problem(path, "conflict", f"give at most one {_NUMBERS[system]}")
        else:
            # Passed on untouched: identity.resolve_child owns every rule about its form.
            found[system] = Located(value, f"{path}.value")
    return found


def _birth_date(r: Reader, patient: Entry) -> FhirDate | None:
    path = f"{patient.path}.birthDate"
    text = r.string(patient.resource, "birthDate", patient.path)
    try:
        parsed = parse_date(text) if text else None
    except NotADate:
        r.problem(path, "date", "birthDate is not a calendar date")
        return None
    if text and parsed is None:
        r.problem(path, "format", "birthDate must be YYYY, YYYY-MM or YYYY-MM-DD")
    return parsed


def _partial_scope(r: Reader, birth: FhirDate, incident: date | None, path: str) -> None:
    """health.md: a partial birth date stands when every day it allows gives the same scope."""
    if incident is None:
        return
    if birth.first > incident:
        r.problem(path, "date", "the birth date is after the incident date")
    elif (age_on(birth.first, incident) < ADULT_AGE) != (age_on(birth.last, incident) < ADULT_AGE):
        r.problem(path, "date", "the partial birth date allows both a child and an adult")


def _sex(r: Reader, patient: Entry, ctx: TranslateContext) -> tuple[Sex, str | None]:
    gender = r.string(patient.resource, "gender", patient.path)
    if gender is None:
        return "unknown", None
    found = ctx.mappings.translate(GENDER_MAP, gender, GENDER)
    if found is None:
        r.problem(
            f"{patient.path}.gender",
            "closed-list",
            "gender is not in the closed list of FHIR administrative genders "
            "(male, female, other, unknown)",
        )
        return "unknown", None
    return cast(Sex, found[0] if found and found[0] in SEXES else "unknown"), gender


def _deceased(r: Reader, patient: Entry) -> tuple[bool, str]:
    """(deceased, path): `deceasedBoolean` true, or any `deceasedDateTime`."""
    res, base = patient.resource, patient.path
    if res.get("deceasedDateTime") is not None:
        path = f"{base}.deceasedDateTime"
        text = r.string(res, "deceasedDateTime", base)
        try:
            if text is not None and parse_date_time(text) is None:
                r.problem(path, "format", "deceasedDateTime must be a FHIR dateTime")
        except NotADate:
            r.problem(path, "date", "deceasedDateTime is not a calendar date")
        return True, path
    return bool(r.boolean(res, "deceasedBoolean", base)), f"{base}.deceasedBoolean"


def _residence(r: Reader, patient: Entry) -> Place | None:
    """The first address whose `use` is home or absent: region and EKATTE, as given."""
    for address, path in r.items(patient.resource, "address", patient.path):
        if address.get("use") not in (None, "home"):
            continue
        region = r.string(address, "district", path)
        if region is not None and not _REGION.match(region):
            r.problem(f"{path}.district", "format", "district must be an ISO 3166-2:BG code")
        ekatte = r.string(address, "city", path)
        if ekatte is not None and not _EKATTE.match(ekatte):
            r.problem(f"{path}.city", "format", "city must be an EKATTE code of 5 digits")
        return Place("residence", ekatte=ekatte, region=region) if ekatte or region else None
    return None


def read_patient(
    r: Reader, patient: Entry, incident: date | None, ctx: TranslateContext
) -> PatientFacts:
    numbers = _numbers(r, patient)
    egn, lnch = numbers.get(EGN_SYSTEM), numbers.get(LNCH_SYSTEM)
    birth = _birth_date(r, patient)
    birth_path = f"{patient.path}.birthDate"
    # Identity problems are found after the gender's but belong before it, in element order.
    identity_at = len(r.problems)
    sex, gender = _sex(r, patient, ctx)
    identity = resolve_child(
        keyring=ctx.keyring,
        incident_date=incident,
        sex=sex,
        sex_path=f"{patient.path}.gender",
        egn=egn,
        lnch=lnch,
        # resolve_child compares and bounds full dates only; a partial one is handled below.
        birth_date=birth.first if birth is not None and birth.full else None,
        birth_date_path=birth_path,
        # An absent birth date is missing; a malformed or partial one is dealt with here.
        birth_date_required=patient.resource.get("birthDate") is None,
        child_index=0,
        conflict_path=lnch.path if lnch else "",
    )
    r.problems[identity_at:identity_at] = identity.problems
    warnings = list(identity.warnings)
    birth_text = identity.birth_date.isoformat() if identity.birth_date else None
    if birth is not None and not birth.full:
        if egn is not None and identity.birth_date is not None:
            # The ЕГН wins and decides the scope; a partial date disagrees when it excludes it.
            if not birth.first <= identity.birth_date <= birth.last:
                warnings.append(DataWarning("birthdate-mismatch", birth_path, 0))
        elif egn is None:
            _partial_scope(r, birth, incident, birth_path)
            birth_text = birth.text  # carried as received (README §6: possibly partial)
    deceased, deceased_path = _deceased(r, patient)
    child = identity.child(
        patient.path,
        birth_date=birth_text,
        stated_outcome="fatal" if deceased else None,
        stated_outcome_path=deceased_path if deceased else None,
    )
    deceased_code = "true" if deceased else None
    if not deceased and patient.resource.get("deceasedBoolean") is False:
        deceased_code = "false"
    return PatientFacts(child, warnings, _residence(r, patient), gender, deceased_code)
