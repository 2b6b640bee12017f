"""The police (МВР) adapter: an `m:IncidentReport` body element in, canonical candidates out.

Contract: `mvr.md` and `criminal-code.md`. Code tables are the ConceptMaps `mvr-*` and
`criminal-code`; this module only reads the message, checks its form and looks codes up.
Names are never read; personal numbers go straight to `gateway.identity.resolve_child`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from adapters.criminal_code import Classification, read_qualification
from adapters.xml_fields import Dialect, Fields
from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import SEXES, source_system
from gateway.errors import ContractViolation, Problem
from gateway.facts import Child, DataWarning, Place, Sex, SourceCode, SourceEvent, SourceRecord
from gateway.identity import Located, resolve_child
from gateway.mappings import normalise

NAMESPACE = "urn:bg:mvr:child-incident:v1"
DIALECT = Dialect(NAMESPACE, "m", "МВР")
ROOT = "/m:IncidentReport"
GENDER = "http://hl7.org/fhir/administrative-gender"
_HERE = Path(__file__).resolve().parent

# README §5: what the sender's report type says about the record, once per message.
_SOURCE_EVENTS: dict[str, SourceEvent] = {"NEW": "first", "UPDATE": "later", "CANCEL": "withdraw"}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TIME = re.compile(
    r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_EKATTE = re.compile(r"^[0-9]{5}$")
_MAX_REGISTRATION = 40


def report_id(text: str | None) -> str | None:
    """The ReportId in canonical (lower-case) form, or None when it is not a UUID."""
    value = normalise(text or "")
    return value.lower() if _UUID.match(value) else None


class _SourceCodes:
    """Every enumeration and classification value of the record, once each, in document order.

    A wrong value may be added: any problem discards the whole record, codes included."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.codes: list[SourceCode] = []

    def add(self, field: str, value: Located | str | None) -> None:
        text = value.value if isinstance(value, Located) else value
        code = SourceCode(source_system(self.slug, field), text or "")
        if text and code not in self.codes:
            self.codes.append(code)


class MvrAdapter:
    """SOAP 1.1 `SubmitIncidentReport` of the police case-management system."""

    slug = "mvr"
    version = "1.0.0"
    transport = TransportSpec(
        kind="soap11",
        path="/soap/mvr",
        max_bytes=5 * 1024 * 1024,
        media_types=("text/xml",),
        namespace=NAMESPACE,
        submit_element="IncidentReport",
        submit_operation="SubmitIncidentReport",
        wsdl=_HERE / "mvr.wsdl",
        xsd=_HERE / "mvr.xsd",
    )
    child_key: Literal["person", "record"] = "person"
    policy = RecordPolicy()

    def message_id(self, document: Any) -> str | None:
        found = document.findall(f"{{{NAMESPACE}}}ReportId")
        return report_id(found[0].text) if len(found) == 1 else None

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        if document.tag != f"{{{NAMESPACE}}}IncidentReport":
            raise ContractViolation([Problem(ROOT, "required", "the body must be IncidentReport")])
        problems: list[Problem] = []
        r = Fields(document, ROOT, problems, ctx.mappings, DIALECT)
        codes = _SourceCodes(self.slug)

        ident = r.text("ReportId", required=True)
        message_id = report_id(ident.value) if ident else None
        if ident and message_id is None:
            r.problem(ident.path, "format", "ReportId must be a UUID")
        registration = r.text("RegistrationNumber", required=True)
        if registration and len(registration.value) > _MAX_REGISTRATION:
            r.problem(registration.path, "format", "RegistrationNumber is 1 to 40 characters")
        report_type = r.text("ReportType", required=True)
        stage = r.code(report_type, "mvr-report-type", "case-stage", "ReportType")
        codes.add("ReportType", report_type)
        r.text("Unit", required=True)
        incident_text = r.text("IncidentDate", required=True)
        incident = r.xs_date(incident_text, "IncidentDate")
        if incident_text and incident and incident > ctx.received_at.date() + timedelta(days=1):
            r.problem(
                incident_text.path, "date", "IncidentDate is more than a day after the receipt"
            )
        r.matching(r.text("IncidentTime", required=False), _TIME, "IncidentTime must be an xs:time")
        ekatte = r.matching(r.text("Ekatte", required=True), _EKATTE, "Ekatte must be 5 digits")
        setting_text = r.text("SettingCode", required=True)
        setting = r.code(setting_text, "mvr-setting-code", "setting", "SettingCode")
        codes.add("SettingCode", setting_text)

        qualifications = [read_qualification(o) for o in r.each("Offence")]
        if not qualifications:
            r.problem(f"{ROOT}/m:Offence[1]", "required", "an Offence is required")
        for q in qualifications:
            codes.add("Article", q.article)
        victims = r.each("Victim")
        if not victims:
            r.problem(f"{ROOT}/m:Victim[1]", "required", "a Victim is required")
        children: list[Child] = []
        warnings: list[DataWarning] = []
        for index, victim in enumerate(victims):
            child, found = self._victim(victim, index, incident, ctx)
            children.append(child)
            warnings.extend(found)
        relationships = self._perpetrators(r, codes)
        prosecution_ref = r.text("ProsecutionRef", required=False)

        if problems:
            raise ContractViolation(problems)
        assert message_id and registration and report_type and incident and setting_text
        classification = Classification.of(qualifications)
        return SourceRecord(
            message_id=message_id,
            record_key=registration.value,
            source_event=_SOURCE_EVENTS[report_type.value],
            source_event_path=report_type.path,
            incident_date=incident,
            children=children,
            in_scope=classification.in_scope,
            forms=classification.forms,
            attempted=classification.attempted,
            implied_outcomes=classification.outcomes,
            explicit_setting=setting,
            setting_path=setting_text.path,
            relationships=relationships,
            case_stage=stage,
            place=Place("incident", ekatte=ekatte),
            references={"prosecution": prosecution_ref.value} if prosecution_ref else {},
            source_codes=tuple(codes.codes),
            warnings=warnings,
        )

    def _perpetrators(self, r: Fields, codes: _SourceCodes) -> frozenset[str]:
        """Not tied to a victim: every child of the record gets them all (none: `unknown`)."""
        found: set[str] = set()
        for perpetrator in r.each("Perpetrator"):
            relation = perpetrator.text("RelationCode", required=True)
            codes.add("RelationCode", relation)
            target = "perpetrator-relationship"
            relationship = perpetrator.code(relation, "mvr-relation-code", target, "RelationCode")
            if relationship:
                found.add(relationship)
            minor = perpetrator.boolean(perpetrator.text("Minor", required=False), "Minor")
            codes.add("Minor", None if minor is None else str(minor).lower())
        return frozenset(found)

    def _victim(
        self, victim: Fields, index: int, incident: date | None, ctx: TranslateContext
    ) -> tuple[Child, list[DataWarning]]:
        egn = victim.text("Egn", required=False)
        lnch = victim.text("Lnch", required=False)
        birth_text = victim.text("BirthDate", required=False)
        birth = victim.xs_date(birth_text, "BirthDate")
        # Identity problems are found last but belong here, in the published element order.
        identity_at = len(victim.problems)
        sex_text = victim.text("Sex", required=True)
        gender = victim.code(sex_text, "mvr-sex", GENDER, "Sex")
        injury = victim.text("InjuryCode", required=True)
        outcome = victim.code(injury, "mvr-injury-code", "outcome", "InjuryCode")
        sex = cast(Sex, gender if gender in SEXES else "unknown")
        identity = resolve_child(
            keyring=ctx.keyring,
            incident_date=incident,
            sex=sex,
            sex_path=f"{victim.path}/m:Sex",
            egn=egn,
            lnch=lnch,
            birth_date=birth,
            birth_date_path=f"{victim.path}/m:BirthDate",
            # A malformed birth date is already reported; do not call it missing as well.
            birth_date_required=birth_text is None,
            child_index=index,
        )
        victim.problems[identity_at:identity_at] = identity.problems
        child = identity.child(
            victim.path,
            stated_outcome=outcome,
            stated_outcome_path=injury.path if injury else None,
        )
        return child, identity.warnings
