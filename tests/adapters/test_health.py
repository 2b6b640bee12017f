"""The НЗИС adapter alone: the contract of health.md, translated with the shipped ConceptMaps."""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from adapters.health import HealthAdapter
from adapters.health.adapter import CONDITION_CODES
from adapters.health.diagnoses import (
    ASSAULT_MAP,
    ICD10,
    INJURY_MAP,
    MALTREATMENT_MAP,
    PLACE_MAP,
    dotted,
)
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.kit.conformance import expected_path
from gateway.mappings import Mappings
from gateway.resources import mappings_dir

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "health" / "samples"
HEALTH_MAPS = mappings_dir() / "health"
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
RECEIVED = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
ADAPTER = HealthAdapter()
SAMPLE_EGN = "1151126926"  # the shared sample's child: 2011-11-12, male
PATIENT = "Bundle.entry[2].resource"
ENCOUNTER = "Bundle.entry[3].resource"
HEADER = "Bundle.entry[0].resource"
C0 = "Bundle.entry[4].resource"


def sample(name: str = "health-message.json") -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return document


def translate(document: Any, received_at: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, TranslateContext(KEYS, MAPPINGS, received_at))


def problems(document: Any, received_at: datetime = RECEIVED) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document, received_at)
    for p in caught.value.problems:
        assert SAMPLE_EGN not in p.message
    return [(p.path, p.code) for p in caught.value.problems]


def changed(edit: Callable[[dict[str, Any]], object], name: str = "health-message.json") -> Any:
    document = sample(name)
    edit(document)
    return document


def res(document: dict[str, Any], index: int) -> dict[str, Any]:
    resource: dict[str, Any] = document["entry"][index]["resource"]
    return resource


def pseudonym(secret: bytes, kind: str, digits: str) -> str:
    return hmac.new(secret, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()


def condition(code: str, **extra: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"https://nhis.bg/fhir/Condition/x{abs(hash(code)) % 10**6}",
        "resource": {
            "resourceType": "Condition",
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "code": {"coding": [{"system": ICD10, "code": code}]},
            **extra,
        },
    }


def with_codes(*codes: str) -> Any:
    document = sample()
    document["entry"][4:] = [condition(c) for c in codes]
    return document


# -- the adapter and its mapping files ---------------------------------------------------------


def test_the_adapter_declares_its_contract() -> None:
    assert isinstance(ADAPTER, Adapter)
    assert ADAPTER.slug == "health" and ADAPTER.child_key == "record"
    spec = ADAPTER.transport
    assert (spec.kind, spec.path, spec.max_bytes) == ("fhir", "/fhir/$process-message", 5 << 20)
    assert spec.media_types == ("application/fhir+json", "application/json")


@pytest.mark.parametrize("path", sorted(HEALTH_MAPS.glob("*.json")), ids=lambda p: p.stem)
def test_every_mapping_file_is_an_r4_conceptmap_of_the_mapping_set(path: Path) -> None:
    cm = ConceptMap.model_validate(orjson.loads(path.read_bytes()))
    assert cm.id == path.stem and cm.version == "2026-1"
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    for group in cm.group or []:
        for element in group.element or []:
            for target in element.target or []:
                assert (target.code is None) == (target.equivalence == "unmatched")


FOURTH = ("", ".0", ".1", ".2", ".3", ".8", ".9")
ASSAULTS = {f"X{n}" for n in range(85, 100)} | {f"Y0{n}" for n in range(6)} | {"Y08", "Y09"}


def test_the_tables_are_exactly_health_md() -> None:
    assert MAPPINGS.codes(MALTREATMENT_MAP) == {
        c + s for c in ("T74", "Y06", "Y07") for s in FOURTH
    }
    assert MAPPINGS.codes(ASSAULT_MAP) == ASSAULTS
    injuries = {f"S{n:02d}" for n in range(100)} | {f"T{n:02d}" for n in range(72)}
    assert MAPPINGS.codes(INJURY_MAP) == injuries
    assert MAPPINGS.codes(PLACE_MAP) == {str(n) for n in range(10)}
    assert MAPPINGS.codes("health-gender") == {"male", "female", "other", "unknown"}
    assert MAPPINGS.codes("health-event") == {"suspected-maltreatment"}


@pytest.mark.parametrize(
    ("code", "forms", "relationships"),
    [
        ("T74", {"unspecified"}, set()),
        ("T74.0", {"neglect"}, set()),
        ("T74.1", {"physical"}, set()),
        ("T74.2", {"sexual"}, set()),
        ("T74.3", {"psychological"}, set()),
        ("T74.8", {"unspecified"}, set()),
        ("T74.9", {"unspecified"}, set()),
        ("Y06", {"neglect"}, {"unknown"}),
        ("Y06.0", {"neglect"}, {"intimate-partner"}),
        ("Y06.1", {"neglect"}, {"parent"}),
        ("Y06.2", {"neglect"}, {"acquaintance"}),
        ("Y06.3", {"neglect"}, {"caregiver-professional"}),
        ("Y06.8", {"neglect"}, {"unknown"}),
        ("Y06.9", {"neglect"}, {"unknown"}),
        ("Y07", set(), {"unknown"}),
        ("Y07.0", set(), {"intimate-partner"}),
        ("Y07.1", set(), {"parent"}),
        ("Y07.2", set(), {"acquaintance"}),
        ("Y07.3", set(), {"caregiver-professional"}),
        ("Y07.8", set(), {"unknown"}),
        ("Y07.9", set(), {"unknown"}),
        ("Y05", {"sexual"}, set()),
        *((c, {"physical"}, set()) for c in sorted(ASSAULTS - {"Y05"})),
    ],
)
def test_each_maltreatment_and_assault_code(
    code: str, forms: set[str], relationships: set[str]
) -> None:
    record = translate(with_codes(code))
    assert record.in_scope is True
    assert (record.forms, record.relationships) == (forms, relationships)
    assert record.source_codes[-1] == SourceCode(ICD10, code)


@pytest.mark.parametrize(
    ("fourth", "setting"),
    [("0", {"family"}), ("1", {"residential-care"}), ("2", {"school"}),
     ("3", {"public-place"}), ("4", {"public-place"}), ("5", {"public-place"}),
     ("6", set()), ("7", set()), ("8", set()), ("9", set()), ("", set())],
)  # fmt: skip
def test_the_place_of_occurrence_implies_a_setting(fourth: str, setting: set[str]) -> None:
    for category in ("X85", "Y05", "Y09"):
        record = translate(with_codes(f"{category}{fourth}"))
        assert record.implied_settings == setting and record.setting_path == CONDITION_CODES
        assert record.explicit_setting is None


@pytest.mark.parametrize(
    ("written", "expected"),
    [("T74.1", "T74.1"), ("T741", "T74.1"), ("T74", "T74"), (" T74.1 ", "T74.1"),
     ("X99.40", "X99.40"), ("X9940", "X99.40"), ("S525", "S52.5")],
)  # fmt: skip
def test_codes_are_taken_with_or_without_the_dot(written: str, expected: str) -> None:
    record = translate(with_codes(written))
    assert record.source_codes[-1] == SourceCode(ICD10, expected)


@pytest.mark.parametrize("code", ["t74.1", "T74.", "T7", "T74.1.2", "T74.123", "74.1", "Т74.1"])
def test_a_malformed_icd10_code_is_a_format_problem(code: str) -> None:
    assert dotted(code) is None
    assert problems(with_codes(code)) == [(f"{C0}.code.coding[0].code", "format")]


@pytest.mark.parametrize("code", ["T74.4", "T745", "T74.10", "Y06.4", "Y067", "Y07.5", "Y07.99"])
def test_the_fourth_character_of_t74_y06_y07_is_a_closed_list(code: str) -> None:
    assert problems(with_codes(code)) == [(f"{C0}.code.coding[0].code", "closed-list")]


@pytest.mark.parametrize("code", ["S00", "S52.5", "S99.9", "T00", "T71", "T71.0"])
def test_an_injury_code_implies_injured(code: str) -> None:
    record = translate(with_codes("T74.1", code))
    assert record.implied_outcomes == {"injured"}


@pytest.mark.parametrize("code", ["R51", "T72", "T75.1", "T78.4", "Z04.5", "X84", "Y10", "Y35.0"])
def test_other_codes_are_kept_and_add_nothing(code: str) -> None:
    record = translate(with_codes("T74.3", code))
    assert record.forms == {"psychological"} and record.implied_outcomes == frozenset()
    assert SourceCode(ICD10, code) in record.source_codes
    assert translate(with_codes(code)).in_scope is False  # alone, it is out of scope


# -- the samples -------------------------------------------------------------------------------


def test_the_shared_sample_translates_field_by_field() -> None:
    record = translate(sample())
    assert record.message_id == "8398789f-f3de-4ad1-995b-787440df07f6"
    # The Encounter has no identifier: the message is its own record.
    assert record.record_key == "1622111001/8398789f-f3de-4ad1-995b-787440df07f6"
    assert record.source_event == "snapshot" and record.version is None
    assert record.incident_date == date(2021, 6, 2)  # no onset: the encounter's start
    assert record.in_scope is True and record.forms == {"physical"}
    assert record.attempted is False and record.implied_outcomes == {"injured"}
    assert record.relationships == frozenset() and record.implied_settings == frozenset()
    assert record.case_stage == "reported"
    assert record.place == Place("residence", ekatte="56784", region="BG-16")
    assert record.references == {} and record.warnings == []
    (child,) = record.children
    assert (child.path, child.sex, child.birth_date) == (PATIENT, "male", "2011-11-12")
    assert child.pseudonyms[0].value == pseudonym(b"1" * 32, "EGN", SAMPLE_EGN)
    assert child.internal_id == pseudonym(b"2" * 32, "EGN", SAMPLE_EGN)
    assert child.stated_outcome is None
    assert record.source_codes == (
        SourceCode(source_system("health", "eventCoding"), "suspected-maltreatment"),
        SourceCode(source_system("health", "gender"), "male"),
        SourceCode(ICD10, "T74.1"),
        SourceCode(ICD10, "S52.5"),
    )


def sample_names() -> list[str]:
    """The valid samples (their golden files are under `expected/`)."""
    return sorted(p.name for p in SAMPLES.glob("*.json"))


@pytest.mark.parametrize("name", sample_names())
def test_every_shipped_sample_is_valid_and_keeps_no_personal_value(name: str) -> None:
    assert "health-message.json" in sample_names()
    document = sample(name)
    record = translate(document)
    assert record.message_id == ADAPTER.message_id(document) == res(document, 0)["id"]
    assert len(record.children) == 1
    shown = repr(record)
    listing = (SAMPLES / "personal-data.txt").read_text("utf-8").splitlines()
    assert [value for value in listing if value and value in shown] == []


def test_lnch_partial_birth_date_earliest_onset_and_home_address() -> None:
    record = translate(sample("lnch-partial-birthdate.json"))
    (child,) = record.children
    assert child.birth_date == "2015-03" and child.sex == "female"
    assert child.pseudonyms[0].value == pseudonym(b"1" * 32, "LNCH", "1002003008")
    assert record.record_key == "2201131002/https://nhis.bg/fhir/sid/encounter|2021-ЛЗ-000417"
    assert record.incident_date == date(2021, 9, 1)  # the earlier of two onsets
    assert (record.forms, record.relationships) == ({"neglect"}, {"parent"})
    assert record.place == Place("residence", ekatte="10135", region="BG-03")  # the home one
    assert SourceCode(ICD10, "Z04.5") in record.source_codes


def test_urn_references_deceased_and_dotless_codes() -> None:
    record = translate(sample("assault-street-deceased.json"))
    (child,) = record.children
    assert child.stated_outcome == "fatal"
    assert child.stated_outcome_path == "Bundle.entry[2].resource.deceasedDateTime"
    assert record.implied_outcomes == {"injured"} and record.implied_settings == {"public-place"}
    assert record.relationships == {"acquaintance"} and record.incident_date == date(2022, 1, 20)
    assert SourceCode(source_system("health", "deceased"), "true") in record.source_codes


def test_refuted_and_entered_in_error_conditions_are_ignored() -> None:
    assert translate(sample("encounter-refuted.json")).in_scope is False
    record = translate(sample("mismatches-conflicting-settings.json"))
    assert SourceCode(ICD10, "T74.1") not in record.source_codes  # entered in error
    assert record.implied_settings == {"family", "school"}
    broken = changed(
        lambda d: res(d, 4).update(verificationStatus={"coding": [{"code": "refuted"}]})
    )
    assert translate(broken).in_scope is False


def test_mismatches_are_warnings_and_the_egn_wins() -> None:
    record = translate(sample("mismatches-conflicting-settings.json"))
    assert record.warnings == [
        DataWarning("birthdate-mismatch", f"{PATIENT}.birthDate", 0),
        DataWarning("sex-mismatch", f"{PATIENT}.gender", 0),
    ]
    (child,) = record.children
    assert (child.birth_date, child.sex) == ("2008-11-10", "male")
    assert record.record_key == "0201211005/|77812"  # an identifier without a system


def test_a_partial_birth_date_outside_the_egn_is_a_mismatch() -> None:
    document = changed(lambda d: res(d, 2).update(birthDate="2011-10"))
    assert [w.code for w in translate(document).warnings] == ["birthdate-mismatch"]
    document = changed(lambda d: res(d, 2).update(birthDate="2011"))
    assert translate(document).warnings == []


def no_egn(birth: str) -> Any:
    def edit(d: dict[str, Any]) -> None:
        res(d, 2).pop("identifier")
        res(d, 2)["birthDate"] = birth

    return changed(edit)


@pytest.mark.parametrize("birth", ["2002", "2003-05", "2004", "2003-07", "2011-11"])
def test_a_partial_birth_date_giving_one_scope_is_carried_as_received(birth: str) -> None:
    # Incident 2021-06-02: born in 2003-06 after the 2nd, a child; up to the 2nd, an adult.
    (child,) = translate(no_egn(birth)).children
    assert child.birth_date == birth and child.pseudonyms == ()


def test_partial_birth_dates_on_the_edges() -> None:
    assert translate(no_egn("2003-06-03")).children[0].birth_date == "2003-06-03"
    assert problems(no_egn("2003-06")) == [(f"{PATIENT}.birthDate", "date")]  # both scopes
    assert problems(no_egn("2003")) == [(f"{PATIENT}.birthDate", "date")]
    assert problems(no_egn("2022")) == [(f"{PATIENT}.birthDate", "date")]  # after the incident
    assert translate(no_egn("2021")).children[0].birth_date == "2021"  # may be before it


# -- problems ----------------------------------------------------------------------------------

ERRORS: list[tuple[str, Callable[[dict[str, Any]], object], list[tuple[str, str]]]] = [
    ("no message id", lambda d: res(d, 0).pop("id"), [(f"{HEADER}.id", "required")]),
    ("other event", lambda d: res(d, 0)["eventCoding"].update(code="x"),
     [(f"{HEADER}.eventCoding", "closed-list")]),
    ("other event system", lambda d: res(d, 0)["eventCoding"].update(system="urn:x"),
     [(f"{HEADER}.eventCoding", "closed-list")]),
    ("event uri", lambda d: res(d, 0).update(eventCoding=None, eventUri="urn:x"),
     [(f"{HEADER}.eventUri", "closed-list")]),
    ("no sender", lambda d: res(d, 0).pop("sender"), [(f"{HEADER}.sender", "required")]),
    ("sender elsewhere", lambda d: res(d, 0).update(sender={"reference": "Organization/zz"}),
     [(f"{HEADER}.sender.reference", "required")]),
    ("sender not an org", lambda d: res(d, 0).update(sender={"reference": "Patient/p1"}),
     [(f"{HEADER}.sender.reference", "format")]),
    ("no rzi", lambda d: res(d, 1)["identifier"][0].update(system="urn:x"),
     [("Bundle.entry[1].resource.identifier", "required")]),
    ("blank rzi", lambda d: res(d, 1)["identifier"][0].update(value=" "),
     [("Bundle.entry[1].resource.identifier[0].value", "required")]),
    ("no focus", lambda d: res(d, 0).pop("focus"), [(f"{HEADER}.focus", "required")]),
    ("two foci", lambda d: res(d, 0)["focus"].append({"reference": "Encounter/e1"}),
     [(f"{HEADER}.focus", "format")]),
    ("focus a patient", lambda d: res(d, 0).update(focus=[{"reference": "Patient/p1"}]),
     [(f"{HEADER}.focus[0].reference", "format")]),
    ("no period", lambda d: res(d, 3).pop("period"), [(f"{ENCOUNTER}.period", "required")]),
    ("partial start", lambda d: res(d, 3).update(period={"start": "2021-06"}),
     [(f"{ENCOUNTER}.period.start", "format")]),
    ("bad start", lambda d: res(d, 3).update(period={"start": "2021-06-02T11:00"}),
     [(f"{ENCOUNTER}.period.start", "format")]),
    ("future start", lambda d: res(d, 3).update(period={"start": "2026-03-13"}),
     [(f"{ENCOUNTER}.period.start", "date")]),
    ("future onset", lambda d: res(d, 4).update(onsetDateTime="2026-03-13T00:00:00+02:00"),
     [(f"{C0}.onsetDateTime", "date")]),
    ("impossible onset", lambda d: res(d, 4).update(onsetDateTime="2021-02-30"),
     [(f"{C0}.onsetDateTime", "date")]),
    ("no subject", lambda d: res(d, 3).pop("subject"), [(f"{ENCOUNTER}.subject", "required")]),
    ("provider elsewhere", lambda d: res(d, 3).update(serviceProvider={"reference": "x/y"}),
     [(f"{ENCOUNTER}.serviceProvider.reference", "required")]),
    ("blank encounter id", lambda d: res(d, 3).update(identifier=[{"system": "urn:x"}]),
     [(f"{ENCOUNTER}.identifier[0].value", "required")]),
    ("no condition", lambda d: d["entry"].__delitem__(slice(4, None)),
     [("Bundle.entry", "required")]),
    ("condition of another patient",
     lambda d: (d["entry"].append({"resource": {**res(d, 2), "id": "p2"}}),
                res(d, 4).update(subject={"reference": "Patient/p2"})),
     [(f"{C0}.subject", "conflict")]),
    ("condition of another encounter",
     lambda d: (d["entry"].append({"resource": {**res(d, 3), "id": "e2"}}),
                res(d, 4).update(encounter={"reference": "Encounter/e2"})),
     [(f"{C0}.encounter", "conflict")]),
    ("condition without encounter", lambda d: res(d, 4).pop("encounter"),
     [(f"{C0}.encounter", "required")]),
    ("condition without code", lambda d: res(d, 4).pop("code"), [(f"{C0}.code", "required")]),
    ("no icd-10 coding", lambda d: res(d, 4)["code"]["coding"][0].update(system="urn:x"),
     [(f"{C0}.code.coding", "required")]),
    ("blank icd-10 code", lambda d: res(d, 4)["code"]["coding"][0].update(code=""),
     [(f"{C0}.code.coding[0].code", "required")]),
    ("egn check digit", lambda d: res(d, 2)["identifier"][0].update(value="1151126927"),
     [(f"{PATIENT}.identifier[0].value", "check-digit")]),
    ("egn format", lambda d: res(d, 2)["identifier"][0].update(value="115112692"),
     [(f"{PATIENT}.identifier[0].value", "format")]),
    ("egn and lnch", lambda d: res(d, 2)["identifier"].append(
        {"system": "https://nhis.bg/fhir/sid/lnch", "value": "1002003008"}),
     [(f"{PATIENT}.identifier[1].value", "conflict")]),
    ("two egns", lambda d: res(d, 2)["identifier"].append(dict(res(d, 2)["identifier"][0])),
     [(f"{PATIENT}.identifier[1]", "conflict")]),
    ("lnch check digit", lambda d: res(d, 2).update(
        identifier=[{"system": "https://nhis.bg/fhir/sid/lnch", "value": "1002003009"}]),
     [(f"{PATIENT}.identifier[0].value", "check-digit")]),
    ("no number, no birth date",
     lambda d: (res(d, 2).pop("identifier"), res(d, 2).pop("birthDate")),
     [(f"{PATIENT}.birthDate", "required")]),
    ("lnch, no birth date", lambda d: (res(d, 2).pop("birthDate"), res(d, 2).update(
        identifier=[{"system": "https://nhis.bg/fhir/sid/lnch", "value": "1002003008"}])),
     [(f"{PATIENT}.birthDate", "required")]),
    ("birth after incident", lambda d: (res(d, 2).pop("identifier"),
                                        res(d, 2).update(birthDate="2021-06-03")),
     [(f"{PATIENT}.birthDate", "date")]),
    ("impossible birth date", lambda d: res(d, 2).update(birthDate="2011-02-30"),
     [(f"{PATIENT}.birthDate", "date")]),
    ("malformed birth date", lambda d: res(d, 2).update(birthDate="12.11.2011"),
     [(f"{PATIENT}.birthDate", "format")]),
    ("gender", lambda d: res(d, 2).update(gender="m"), [(f"{PATIENT}.gender", "closed-list")]),
    ("gender case", lambda d: res(d, 2).update(gender="Male"),
     [(f"{PATIENT}.gender", "closed-list")]),
    ("deceased not boolean", lambda d: res(d, 2).update(deceasedBoolean="yes"),
     [(f"{PATIENT}.deceasedBoolean", "format")]),
    ("district", lambda d: res(d, 2)["address"][0].update(district="Пловдив"),
     [(f"{PATIENT}.address[0].district", "format")]),
    ("city", lambda d: res(d, 2)["address"][0].update(city="5678"),
     [(f"{PATIENT}.address[0].city", "format")]),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_each_problem_is_located(
    edit: Callable[[dict[str, Any]], object], expected: list[tuple[str, str]]
) -> None:
    assert problems(changed(edit)) == expected


def test_every_problem_is_listed_at_once() -> None:
    def edit(d: dict[str, Any]) -> None:
        res(d, 0)["eventCoding"]["code"] = "other"
        res(d, 2)["identifier"][0]["value"] = "1151126927"
        res(d, 2)["gender"] = "x"
        res(d, 4)["code"]["coding"][0]["code"] = "T74.7"

    assert problems(changed(edit)) == [
        (f"{HEADER}.eventCoding", "closed-list"),
        (f"{C0}.code.coding[0].code", "closed-list"),
        (f"{PATIENT}.identifier[0].value", "check-digit"),
        (f"{PATIENT}.gender", "closed-list"),
    ]


def test_refuted_conditions_are_not_checked() -> None:
    def edit(d: dict[str, Any]) -> None:
        res(d, 5)["verificationStatus"] = {"coding": [{"code": "entered-in-error"}]}
        res(d, 5)["code"]["coding"][0]["code"] = "T74.7"
        res(d, 5)["subject"] = {"reference": "Patient/nobody"}

    assert translate(changed(edit)).implied_outcomes == frozenset()


@pytest.mark.parametrize("document", [None, [], {}, {"entry": [{"resource": {}}]}])
def test_not_a_message_is_a_problem_and_has_no_id(document: Any) -> None:
    assert ADAPTER.message_id(document) is None
    assert problems(document) == [(HEADER, "required")]


# -- references, nulls, unknown elements -------------------------------------------------------


def test_references_resolve_by_full_url_then_by_type_and_id() -> None:
    document = sample()
    # Another server's entry of the same type/id: the RESTful base of the referrer wins.
    decoy = copy.deepcopy(document["entry"][2])
    decoy["fullUrl"] = "https://elsewhere.bg/fhir/Patient/p1"
    decoy["resource"]["identifier"][0]["value"] = "1002003008"
    decoy["resource"]["identifier"][0]["system"] = "https://nhis.bg/fhir/sid/lnch"
    document["entry"].insert(1, decoy)
    assert translate(document).children[0].pseudonyms[0].value == pseudonym(
        b"1" * 32, "EGN", SAMPLE_EGN
    )
    # Without fullUrls, `Patient/p1` is matched on type and id.
    for entry in document["entry"]:
        entry.pop("fullUrl")
    record = translate(document)
    assert record.children[0].pseudonyms[0].value == pseudonym(b"1" * 32, "LNCH", "1002003008")
    # An absolute reference must be a fullUrl.
    res(document, 0)["sender"] = {"reference": "https://nhis.bg/fhir/Organization/o1"}
    assert problems(document) == [(f"{HEADER}.sender.reference", "required")]


def test_nulls_and_unknown_elements_are_ignored() -> None:
    def edit(d: dict[str, Any]) -> None:
        res(d, 2).update(gender=None, address=None, futureElement={"x": 1})
        res(d, 4)["onsetDateTime"] = None

    record = translate(changed(edit))
    assert record.children[0].sex == "male" and record.place is None


@pytest.mark.parametrize("path", sorted((SAMPLES / "invalid").glob("*.json")), ids=lambda p: p.name)
def test_the_invalid_samples_are_refused(path: Path) -> None:
    expected = orjson.loads(expected_path(path).read_bytes())
    if expected["status"] == 422:  # the 400s are the transport's (tests/test_health_fhir.py)
        assert sorted(map(list, problems(orjson.loads(path.read_bytes())))) == expected["problems"]
