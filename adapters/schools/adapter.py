"""The schools' (МОН) incident row: validated against the code tables and translated.

A row is a `dict` of column name to cell text, made by the CSV transport; every problem is
located by its column name. The row's record key and message id are keyed digests (the
gateway's internal key), so the victim's ЕГН or birth date never reaches the store in clear.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import timedelta
from typing import Any, Literal, cast

import orjson

from adapters.schools.rows import COLUMNS, REQUIRED, Row, read_row, row_identity
from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import SEXES, source_system
from gateway.errors import ContractViolation, Problem
from gateway.facts import DataWarning, Place, Sex, SourceCode, SourceRecord
from gateway.identity import ChildIdentity, Keyring, Located, resolve_child
from gateway.mappings import Mappings

SLUG = "schools"
FORMS_MAP = "schools-forms"
PERPETRATOR_MAP = "schools-perpetrator"
LEVEL_MAP = "schools-level"
SEX_MAP = "schools-sex"
GENDER = "http://hl7.org/fhir/administrative-gender"
CYBER = "кибер"

# The closed list behind each column, as problem messages name it.
_LISTS = {
    "level": (LEVEL_MAP, "school incident levels (1, 2, 3)"),
    "victim_sex": (SEX_MAP, "school victim sexes (м, ж)"),
    "perpetrator": (PERPETRATOR_MAP, "school incident perpetrators"),
}


def _known(m: Mappings, row: Row, problems: list[Problem]) -> None:
    """Closed-list checks of the values the row has (blank ones are already reported)."""
    for column, (map_id, name) in _LISTS.items():
        value = {"level": row.level, "victim_sex": row.sex, "perpetrator": row.perpetrator}[column]
        if value is not None and not m.knows(map_id, value):
            problems.append(Problem(column, "closed-list", f"{column} is not in the {name}"))
    for position, form in enumerate(row.forms, start=1):
        if not m.knows(FORMS_MAP, form):
            problems.append(
                Problem("forms", "closed-list", f"forms: segment {position} is not a school form")
            )


def _identity(row: Row, ctx: TranslateContext) -> ChildIdentity:
    gender = ctx.mappings.translate(SEX_MAP, row.sex, GENDER) if row.sex else None
    sex = cast(Sex, gender[0]) if gender and gender[0] in SEXES else "unknown"
    return resolve_child(
        keyring=ctx.keyring,
        incident_date=row.incident_date,
        sex=sex,
        sex_path="victim_sex",
        egn=Located(row.egn, "victim_egn") if row.egn else None,
        birth_date=row.birth_date,
        birth_date_path="victim_birth_date",
        # A malformed birth date is already reported; do not also call it missing.
        birth_date_required=not row.birth_date_given,
        child_index=0,
    )


def record_key(row: Row, keyring: Keyring) -> str:
    """`<school_code>/<incident_id>#<victim token>`: the token is keyed and bound to the incident,
    so it says only "a distinct victim of this incident"; it stays inside the gateway (the
    incident reference sent is `<school_code>/<incident_id>`)."""
    incident = f"{row.school_code}/{row.incident_id}"
    token = keyring.internal_token(f"schools-victim|{incident}|{row.victim()}")
    return f"{incident}#{token[:32]}"


def message_id(row: Row, keyring: Keyring) -> str:
    """A keyed digest of the parsed values: the same values give the same id, whatever their
    spelling in the cell, and the id reveals nothing of them."""
    return keyring.internal_token("schools-row|" + orjson.dumps(row.content()).decode())


def _record(row: Row, child: ChildIdentity, ctx: TranslateContext) -> SourceRecord:
    m = ctx.mappings
    assert row.incident_date and row.level and row.sex and row.perpetrator and row.ekatte
    context = {"perpetrator": row.perpetrator}
    forms = {
        c for f in row.forms for c in m.translate(FORMS_MAP, f, "violence-form", context) or []
    }
    stages = m.translate(LEVEL_MAP, row.level, "case-stage") or []
    relationships = m.translate(PERPETRATOR_MAP, row.perpetrator, "perpetrator-relationship")
    # Forms sorted: their order in the cell, which the message id ignores, changes nothing sent.
    codes = [
        ("level", row.level),
        *(("forms", f) for f in sorted(row.forms)),
        ("victim_sex", row.sex),
        ("perpetrator", row.perpetrator),
    ]
    warnings = list(child.warnings)
    if row.padded:
        warnings.insert(0, DataWarning("leading-zeros-restored", row.padded[0]))
    references = {k: v for k, v in (("ozd", row.ozd), ("mvr", row.mvr)) if v is not None}
    return SourceRecord(
        message_id=message_id(row, ctx.keyring),
        record_key=record_key(row, ctx.keyring),
        incident_reference=f"{row.school_code}/{row.incident_id}",
        # Rows say nothing of first or later, and cannot be withdrawn.
        source_event="snapshot",
        incident_date=row.incident_date,
        children=[child.child("victim_egn" if row.egn else "victim_birth_date")],
        # Every school form is violence against a child: only the core's age rule decides.
        in_scope=True,
        forms=frozenset(forms),
        explicit_setting="online" if row.forms == (CYBER,) else "school",
        setting_path="forms",
        relationships=frozenset(relationships or ()),
        case_stage=stages[0] if stages else None,
        place=Place(kind="school", ekatte=row.ekatte),
        references=references,
        source_codes=tuple(SourceCode(source_system(SLUG, f), c) for f, c in codes),
        warnings=warnings,
    )


class SchoolsAdapter:
    """The schools' CSV contract (`schools.md`): one row is one incident of one pupil."""

    slug = SLUG
    version = "1.0.0"
    transport = TransportSpec(
        kind="csv",
        path="/api/v1/schools/incidents",
        max_bytes=20 * 1024 * 1024,
        media_types=("text/csv",),
    )
    child_key: Literal["person", "record"] = "record"
    # The message id is a digest of the row's values: a repeat of the latest ones is a duplicate.
    policy = RecordPolicy(duplicates="latest-content")
    # What the CSV transport needs besides the Adapter protocol.
    columns = COLUMNS
    required_columns = REQUIRED
    label_column = "incident_id"
    max_rows = 50_000

    def message_id(self, document: Any) -> str | None:
        # No sender's id: the content digest needs the internal key, so `translate` makes it.
        return None

    def row_identity(self, document: Mapping[str, str | None]) -> tuple[Hashable, Hashable] | None:
        """(record key, parsed values), in clear and in memory only, for the transport's check
        of one file's rows against each other; None when the row's key cannot be read."""
        return row_identity(document)

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        if not isinstance(document, Mapping):
            raise ContractViolation([Problem("", "format", "a row must map columns to cells")])
        row = read_row(document)
        problems = row.problems
        _known(ctx.mappings, row, problems)
        latest = ctx.received_at.date() + timedelta(days=1)
        if row.incident_date is not None and row.incident_date > latest:
            problems.append(
                Problem(
                    "incident_date", "date", "the incident date is more than a day after receipt"
                )
            )
        child = _identity(row, ctx)
        problems.extend(child.problems)
        if problems:
            problems.sort(key=lambda p: COLUMNS.index(p.path) if p.path in COLUMNS else 0)
            raise ContractViolation(problems)
        return _record(row, child, ctx)
