"""The diagnoses: every Condition's ICD-10 codes looked up in the health ConceptMaps.

A maltreatment code (`T74`, `Y06`, `Y07`, their fourth character a closed list) or an assault
code (`X85`–`Y05`, `Y08`, `Y09`) puts the encounter in scope; an injury code (`S00`–`T71`)
implies the outcome `injured`; any other code is an open classification, kept as a source code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters.health.bundle import Entries, Entry, Json, Reader
from adapters.health.dates import FhirDate, NotADate, parse_date_time
from gateway.mappings import Mappings

ICD10 = "http://hl7.org/fhir/sid/icd-10"
MALTREATMENT_MAP = "health-icd10-maltreatment"
ASSAULT_MAP = "health-icd10-assault"
PLACE_MAP = "health-icd10-place"
INJURY_MAP = "health-icd10-injury"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_IGNORED = frozenset({"refuted", "entered-in-error"})
# WHO ICD-10: a category (a capital letter, two digits), then a subdivision, dot optional.
_ICD10 = re.compile(r"^(?P<category>[A-Z][0-9]{2})(?:\.?(?P<subdivision>[0-9]{1,2}))?$")
_CLOSED = (
    "is not in the closed list of ICD-10 maltreatment codes: T74, Y06 or Y07, alone or with "
    "the fourth character .0, .1, .2, .3, .8 or .9"
)


def dotted(code: str) -> str | None:
    """The code in its dotted form (`T741` → `T74.1`), None when it is not an ICD-10 code."""
    match = _ICD10.match(code)
    if match is None:
        return None
    sub = match["subdivision"]
    return f"{match['category']}.{sub}" if sub else match["category"]


@dataclass(slots=True)
class Diagnoses:
    """Canonical candidates of the Conditions that are not refuted or entered in error."""

    codes: list[str] = field(default_factory=list)
    forms: set[str] = field(default_factory=set)
    relationships: set[str] = field(default_factory=set)
    settings: set[str] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    in_scope: bool = False
    # The earliest full-date onset of a maltreatment or assault Condition, and where it is.
    onset: FhirDate | None = None
    onset_path: str = ""


def _ignored(condition: Json) -> bool:
    status = condition.get("verificationStatus")
    codings = status.get("coding") if isinstance(status, dict) else None
    return any(
        isinstance(c, dict)
        and c.get("code") in _IGNORED
        and c.get("system") in (None, VERIFICATION)
        for c in (codings if isinstance(codings, list) else [])
    )


class _Lookup:
    def __init__(self, r: Reader, mappings: Mappings, out: Diagnoses) -> None:
        self.r, self.m, self.out = r, mappings, out

    def code(self, raw: str, path: str) -> bool:
        """Look one ICD-10 code up; True when it is a maltreatment or assault code."""
        code = dotted(raw)
        if code is None:
            self.r.problem(
                path,
                "format",
                "an ICD-10 code is a capital letter and two digits, "
                "then an optional subdivision, with or without the dot",
            )
            return False
        m, out, category = self.m, self.out, code[:3]
        if code not in out.codes:
            out.codes.append(code)
        if m.knows(MALTREATMENT_MAP, category):
            if not m.knows(MALTREATMENT_MAP, code):
                self.r.problem(path, "closed-list", f"the ICD-10 code {_CLOSED}")
                return False
            out.forms.update(m.translate(MALTREATMENT_MAP, code, "violence-form") or ())
            rels = m.translate(MALTREATMENT_MAP, code, "perpetrator-relationship") or ()
            out.relationships.update(rels)
            return True
        if m.knows(ASSAULT_MAP, category):
            out.forms.update(m.translate(ASSAULT_MAP, category, "violence-form") or ())
            if len(code) > 4:  # the fourth character: the place of occurrence
                out.settings.update(m.translate(PLACE_MAP, code[4], "setting") or ())
            return True
        out.outcomes.update(m.translate(INJURY_MAP, category, "outcome") or ())
        return False


def _onset(r: Reader, condition: Entry, out: Diagnoses) -> None:
    path = f"{condition.path}.onsetDateTime"
    text = r.string(condition.resource, "onsetDateTime", condition.path)
    try:
        onset = parse_date_time(text) if text else None
    except NotADate:
        r.problem(path, "date", "onsetDateTime is not a calendar date")
        return
    if text and onset is None:
        r.problem(path, "format", "onsetDateTime must be a FHIR dateTime")
    elif onset is not None and onset.full and (out.onset is None or onset.first < out.onset.first):
        out.onset, out.onset_path = onset, path


def read_conditions(
    r: Reader,
    entries: Entries,
    patient: Entry | None,
    encounter: Entry | None,
    mappings: Mappings,
) -> Diagnoses:
    out = Diagnoses()
    lookup = _Lookup(r, mappings, out)
    conditions = entries.of_type("Condition")
    if not conditions:
        r.problem("Bundle.entry", "required", "at least one Condition is required")
    for condition in conditions:
        if _ignored(condition.resource):
            continue
        res, path = condition.resource, condition.path
        subject = entries.resolve(res.get("subject"), f"{path}.subject", condition, "Patient")
        if subject is not None and patient is not None and subject is not patient:
            r.problem(f"{path}.subject", "conflict", "subject must be the encounter's Patient")
        at = entries.resolve(res.get("encounter"), f"{path}.encounter", condition, "Encounter")
        if at is not None and encounter is not None and at is not encounter:
            r.problem(f"{path}.encounter", "conflict", "encounter must be the focus Encounter")
        concept = r.obj(res, "code", path, required=True) or {}
        icd = [
            (c, p)
            for c, p in r.items(concept, "coding", f"{path}.code")
            if c.get("system") == ICD10
        ]
        if concept and not icd:
            r.problem(f"{path}.code.coding", "required", f"an ICD-10 coding ({ICD10}) is required")
        relevant = False
        for coding, coding_path in icd:
            code = r.string(coding, "code", coding_path, required=True)
            if code is not None:
                relevant = lookup.code(code, f"{coding_path}.code") or relevant
        out.in_scope = out.in_scope or relevant
        if relevant:
            _onset(r, condition, out)
    return out
