"""The ОЗД adapter alone: the contract of ozd.md, translated with the shipped ConceptMaps."""

from __future__ import annotations

import copy
import hashlib
import hmac
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from adapters.ozd import OzdAdapter
from adapters.ozd.adapter import FORMS_MAP, PERPETRATOR_MAP, SEX_MAP, SOURCE_MAP, STATUS_MAP
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.resources import mappings_dir

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "ozd" / "samples"
OZD_MAPS = mappings_dir() / "ozd"
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
ROTATING = Keyring((LinkageKey("k2", b"3" * 32), LinkageKey("k1", b"1" * 32)), b"2" * 32)
RECEIVED = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
ADAPTER = OzdAdapter()

SAMPLE_EGN = "1046122291"  # the shared sample's child: 2010-06-12, female

# ozd.md, written out again here so that a wrong mapping file cannot pass unnoticed.
FORMS: dict[str, tuple[set[str], set[str]]] = {
    "физическо": ({"physical"}, set()),
    "психическо": ({"psychological"}, set()),
    "сексуално": ({"sexual"}, set()),
    "неглижиране": ({"neglect"}, set()),
    "изоставяне": ({"neglect"}, set()),
    "експлоатация": ({"exploitation"}, set()),
    "детски труд": ({"exploitation"}, set()),
    "просия": ({"exploitation"}, {"public-place"}),
    "трафик": ({"trafficking", "exploitation"}, set()),
    "тормоз": ({"bullying"}, set()),
    "онлайн насилие": ({"online"}, {"online"}),
    "свидетел на домашно насилие": ({"psychological"}, {"family"}),
}
PERPETRATORS = {
    "родител": "parent",
    "втори родител": "step-parent",
    "роднина": "other-relative",
    "партньор": "intimate-partner",
    "връстник": "peer",
    "служител": "caregiver-professional",
    "познат": "acquaintance",
    "непознат": "stranger",
    "неизвестен": "unknown",
}
STATUSES = {
    "регистриран": "reported",
    "проучване": "under-assessment",
    "потвърден": "substantiated",
    "непотвърден": "unsubstantiated",
    "приключен": "closed",
}
SOURCES = (
    "police",
    "school",
    "health",
    "helpline",
    "citizen",
    "relative",
    "child",
    "ngo",
    "anonymous",
    "other",
)


def sample(name: str = "ozd-signal.json") -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return document


def ctx(received_at: datetime = RECEIVED, keyring: Keyring = KEYS) -> TranslateContext:
    return TranslateContext(keyring, MAPPINGS, received_at)


def translate(document: Any, received_at: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, ctx(received_at))


def problems(document: Any, received_at: datetime = RECEIVED) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document, received_at)
    return [(p.path, p.code) for p in caught.value.problems]


def pseudonym(secret: bytes, kind: str, digits: str) -> str:
    return hmac.new(secret, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()


# -- the adapter and its mapping files ---------------------------------------------------------


def test_the_adapter_declares_its_contract() -> None:
    assert isinstance(ADAPTER, Adapter)
    assert ADAPTER.slug == "ozd" and ADAPTER.child_key == "record"
    spec = ADAPTER.transport
    assert (spec.kind, spec.path, spec.max_bytes) == ("json", "/api/v1/ozd/signals", 1 << 20)
    assert spec.media_types == ("application/json",)


@pytest.mark.parametrize("path", sorted(OZD_MAPS.glob("*.json")), ids=lambda p: p.stem)
def test_every_mapping_file_is_an_r4_conceptmap_of_the_mapping_set(path: Path) -> None:
    raw = orjson.loads(path.read_bytes())
    cm = ConceptMap.model_validate(raw)
    assert cm.id == path.stem and cm.version == "2026-1"
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    for group in cm.group or []:
        for element in group.element or []:
            for target in element.target or []:
                assert (target.code is None) == (target.equivalence == "unmatched")


@pytest.mark.parametrize(
    ("map_id", "codes"),
    [
        (FORMS_MAP, set(FORMS)),
        (PERPETRATOR_MAP, set(PERPETRATORS)),
        (STATUS_MAP, {*STATUSES, "анулиран"}),
        (SOURCE_MAP, set(SOURCES)),
        (SEX_MAP, {"male", "female", "unknown"}),
    ],
)
def test_each_closed_list_is_exactly_the_contracts(map_id: str, codes: set[str]) -> None:
    assert MAPPINGS.codes(map_id) == codes


# -- a valid signal, field by field ------------------------------------------------------------


def test_the_shared_sample_translates_field_by_field() -> None:
    record = translate(sample())
    assert record.message_id == "943b8c46-3855-40d4-b2a4-68cf73759505"
    assert record.record_key == "ОЗД-ПД-2021-144322"
    assert (record.source_event, record.source_event_path, record.version) == (
        "first",
        "#/version",
        1,
    )
    assert record.incident_date == date(2021, 10, 21)
    assert record.in_scope is True
    assert record.forms == {"physical", "psychological"}
    assert record.attempted is False and record.implied_outcomes == frozenset()
    assert record.explicit_setting is None
    assert record.implied_settings == {"family"} and record.setting_path == "#/violenceForms"
    assert record.relationships == {"parent"}
    assert record.case_stage == "under-assessment"
    assert record.place == Place(kind="residence", ekatte="68850")
    assert record.references == {}
    assert record.warnings == []
    (child,) = record.children
    assert (child.path, child.sex, child.birth_date) == ("#/child", "female", "2010-06-12")
    assert child.pseudonyms[0].key_id == "k1"
    assert child.pseudonyms[0].value == pseudonym(b"1" * 32, "EGN", SAMPLE_EGN)
    assert child.internal_id == pseudonym(b"2" * 32, "EGN", SAMPLE_EGN)
    assert (child.stated_outcome, child.age, child.age_band) == (None, None, None)

    def code(field: str, value: str) -> SourceCode:
        return SourceCode(source_system("ozd", field), value)

    assert record.source_codes == (
        code("source", "school"),
        code("sex", "female"),
        code("violenceForms", "физическо"),
        code("violenceForms", "свидетел на домашно насилие"),
        code("perpetrator", "родител"),
        code("status", "проучване"),
        code("coordinationMechanism", "true"),
    )


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_every_shipped_sample_is_valid(name: str) -> None:
    document = sample(name)
    record = translate(document)
    assert record.message_id == ADAPTER.message_id(document) == document["eventId"]
    assert len(record.children) == 1


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_violence_form(form: str) -> None:
    document = sample()
    document["violenceForms"] = [form]
    record = translate(document)
    forms, settings = FORMS[form]
    assert record.forms == forms and record.implied_settings == settings and record.in_scope
    assert SourceCode(source_system("ozd", "violenceForms"), form) in record.source_codes


def test_every_form_at_once() -> None:
    record = translate(sample("every-form.json"))
    assert record.forms == {
        "physical",
        "psychological",
        "sexual",
        "neglect",
        "exploitation",
        "trafficking",
        "bullying",
        "online",
    }
    assert record.implied_settings == {"public-place", "online", "family"}
    assert record.relationships == {"step-parent"}
    assert record.case_stage == "reported"
    assert record.references == {"mvr": "ЗМ-77/2026 01 РУ-СДВР"}
    coordination = SourceCode(source_system("ozd", "coordinationMechanism"), "false")
    assert coordination in record.source_codes


def test_witness_of_domestic_violence_and_begging_give_conflicting_implied_settings() -> None:
    record = translate(sample("conflicting-settings.json"))
    assert record.implied_settings == {"family", "public-place"}
    assert record.explicit_setting is None and record.setting_path == "#/violenceForms"
    assert record.forms == {"psychological", "exploitation"}


def test_a_form_listed_twice_counts_once() -> None:
    document = sample()
    document["violenceForms"] = ["тормоз", " тормоз"]
    record = translate(document)
    forms = [c for c in record.source_codes if c.system.endswith("/violenceForms")]
    assert forms == [SourceCode(source_system("ozd", "violenceForms"), "тормоз")]


@pytest.mark.parametrize(("value", "relationship"), sorted(PERPETRATORS.items()))
def test_each_perpetrator(value: str, relationship: str) -> None:
    document = sample()
    document["perpetrator"] = value
    assert translate(document).relationships == {relationship}


@pytest.mark.parametrize("absent", ["delete", None])
def test_no_perpetrator_gives_unknown(absent: str | None) -> None:
    document = sample()
    if absent == "delete":
        del document["perpetrator"]
    else:
        document["perpetrator"] = None
    record = translate(document)
    assert record.relationships == {"unknown"}
    assert not [c for c in record.source_codes if c.system.endswith("/perpetrator")]


@pytest.mark.parametrize(("status", "stage"), sorted(STATUSES.items()))
def test_each_status_gives_a_case_stage(status: str, stage: str) -> None:
    document = sample()
    document["status"] = status
    record = translate(document)
    assert (record.case_stage, record.source_event) == (stage, "first")


def test_withdrawn_signal() -> None:
    record = translate(sample("withdrawal.json"))
    assert (record.source_event, record.source_event_path) == ("withdraw", "#/status")
    assert record.case_stage is None and record.version == 3
    assert SourceCode(source_system("ozd", "status"), "анулиран") in record.source_codes


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_is_kept_as_a_source_code(source: str) -> None:
    document = sample()
    document["source"] = source
    assert SourceCode(source_system("ozd", "source"), source) in translate(document).source_codes


@pytest.mark.parametrize("sex", ["male", "female", "unknown"])
def test_each_sex_without_egn(sex: str) -> None:
    document = sample()
    del document["child"]["egn"]
    document["child"]["sex"] = sex
    record = translate(document)
    assert record.children[0].sex == sex and record.warnings == []
    assert record.children[0].pseudonyms == () and record.children[0].internal_id is None


def test_version_two_is_a_later_event() -> None:
    record = translate(sample("update-version-2.json"))
    assert (record.source_event, record.version) == ("later", 2)
    assert record.record_key == translate(sample()).record_key
    assert record.case_stage == "substantiated"
    assert record.references == {"mvr": "ЗМ-5521/2021 05 РУ-Стара Загора"}


def test_lnch_child() -> None:
    record = translate(sample("lnch-child.json"))
    (child,) = record.children
    assert child.pseudonyms[0].value == pseudonym(b"1" * 32, "LNCH", "1002003008")
    assert child.internal_id == pseudonym(b"2" * 32, "LNCH", "1002003008")
    assert (child.birth_date, child.sex) == ("2014-07-09", "male")
    assert record.implied_settings == {"public-place"} and record.relationships == {"stranger"}


def test_rotating_keys_give_two_pseudonyms() -> None:
    record = ADAPTER.translate(sample(), ctx(keyring=ROTATING))
    assert [p.key_id for p in record.children[0].pseudonyms] == ["k2", "k1"]


def test_no_personal_number_with_a_birth_date() -> None:
    record = translate(sample("no-egn-birthdate.json"))
    (child,) = record.children
    assert (child.birth_date, child.sex, child.pseudonyms) == ("2019-02-28", "unknown", ())
    # No incidentDate: the date of receivedAt.
    assert record.incident_date == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("received_at", "day"),
    [
        ("2026-03-01T23:30:00-05:00", date(2026, 3, 1)),
        ("2026-03-02T00:30:00+02:00", date(2026, 3, 2)),
        ("2026-03-02t00:30:00.125z", date(2026, 3, 2)),
    ],
)
def test_the_incident_date_defaults_to_the_date_of_received_at_in_its_own_offset(
    received_at: str, day: date
) -> None:
    document = sample()
    document["receivedAt"] = received_at
    del document["incidentDate"]
    assert translate(document).incident_date == day


def test_nulls_are_absent_fields() -> None:
    record = translate(sample("nulls-everywhere.json"))
    assert record.incident_date == date(2026, 3, 5)
    assert record.relationships == {"unknown"} and record.references == {}
    assert not [c for c in record.source_codes if "coordinationMechanism" in c.system]
    assert record.children[0].birth_date == "2011-09-30"


def test_unknown_fields_are_ignored() -> None:
    record = translate(sample("unknown-fields.json"))
    assert record.forms == {"bullying", "online"} and record.implied_settings == {"online"}
    assert record.references == {}
    assert record.children[0].birth_date == "2015-11-03"


def test_references_are_kept() -> None:
    assert translate(sample("references.json")).references == {
        "mvr": "ЗМ-1234/2026 02 РУ-СДВР",
        "prosecution": "СРП-5678/2026",
        "helpline": "116111-2026-000987",
    }


def test_an_adult_is_still_given_to_the_core() -> None:
    record = translate(sample("adult.json"))
    assert record.children[0].birth_date == "2005-01-01" and record.in_scope


def test_codes_are_trimmed_and_nfc_normalised_but_case_is_exact() -> None:
    document = sample()
    document["violenceForms"] = [unicodedata.normalize("NFD", " свидетел на домашно насилие\t")]
    document["perpetrator"] = "  родител "
    record = translate(document)
    assert record.implied_settings == {"family"} and record.relationships == {"parent"}
    assert SourceCode(source_system("ozd", "violenceForms"), "свидетел на домашно насилие") in (
        record.source_codes
    )
    document["violenceForms"] = ["Физическо"]
    assert problems(document) == [("#/violenceForms/0", "closed-list")]


# -- warnings -----------------------------------------------------------------------------------


def test_the_egn_wins_over_a_disagreeing_birth_date_and_sex() -> None:
    record = translate(sample("mismatches.json"))
    assert record.warnings == [
        DataWarning("birthdate-mismatch", "#/child/birthDate", 0),
        DataWarning("sex-mismatch", "#/child/sex", 0),
    ]
    assert (record.children[0].birth_date, record.children[0].sex) == ("2008-03-15", "male")


def test_a_sex_recorded_as_unknown_never_disagrees() -> None:
    document = sample()
    document["child"]["sex"] = "unknown"
    record = translate(document)
    assert record.warnings == [] and record.children[0].sex == "female"


# -- the message id, read before anything else --------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"eventId": "943B8C46-3855-40D4-B2A4-68CF73759505"},
            "943b8c46-3855-40d4-b2a4-68cf73759505",
        ),
        (
            {"eventId": " 943b8c46-3855-40d4-b2a4-68cf73759505 "},
            "943b8c46-3855-40d4-b2a4-68cf73759505",
        ),
        ({"eventId": "not-a-uuid"}, None),
        ({"eventId": 7}, None),
        ({"eventId": None}, None),
        ({}, None),
        (["eventId"], None),
        ("eventId", None),
    ],
)
def test_message_id(document: Any, expected: str | None) -> None:
    assert ADAPTER.message_id(document) == expected


# -- every contract violation, with its pointer and code -----------------------------------------


REQUIRED = [
    "eventId",
    "signalNumber",
    "version",
    "directorate",
    "ekatte",
    "receivedAt",
    "source",
    "child",
    "violenceForms",
    "status",
]


@pytest.mark.parametrize("field", REQUIRED)
@pytest.mark.parametrize("how", ["missing", "null"])
def test_each_required_field(field: str, how: str) -> None:
    document = sample()
    if how == "missing":
        del document[field]
    else:
        document[field] = None
    assert problems(document) == [(f"#/{field}", "required")]


def test_the_childs_sex_is_required() -> None:
    document = sample()
    del document["child"]["sex"]
    assert problems(document) == [("#/child/sex", "required")]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("eventId", "ОЗД-1", [("#/eventId", "format")]),
        ("eventId", 12, [("#/eventId", "format")]),
        ("signalNumber", 144322, [("#/signalNumber", "format")]),
        ("signalNumber", "  ", [("#/signalNumber", "required")]),
        ("version", "1", [("#/version", "format")]),
        ("version", 0, [("#/version", "format")]),
        ("version", -3, [("#/version", "format")]),
        ("version", 1.5, [("#/version", "format")]),
        ("version", True, [("#/version", "format")]),
        ("directorate", ["ДСП"], [("#/directorate", "format")]),
        ("ekatte", "5678", [("#/ekatte", "format")]),
        ("ekatte", "568501", [("#/ekatte", "format")]),
        ("ekatte", "5685a", [("#/ekatte", "format")]),
        ("ekatte", "６８８５０", [("#/ekatte", "format")]),
        ("ekatte", 68850, [("#/ekatte", "format")]),
        ("receivedAt", "2021-10-21T09:40:00", [("#/receivedAt", "format")]),
        ("receivedAt", "2021-10-21", [("#/receivedAt", "format")]),
        ("receivedAt", "2021-10-21 09:40", [("#/receivedAt", "format")]),
        ("receivedAt", "2021-02-30T09:40:00+02:00", [("#/receivedAt", "date")]),
        ("receivedAt", 1634798400, [("#/receivedAt", "format")]),
        ("incidentDate", "21.10.2021", [("#/incidentDate", "format")]),
        ("incidentDate", "2021-10-21T09:40:00+03:00", [("#/incidentDate", "format")]),
        ("incidentDate", "2021-02-29", [("#/incidentDate", "date")]),
        ("incidentDate", 20211021, [("#/incidentDate", "format")]),
        ("source", "полиция", [("#/source", "closed-list")]),
        ("source", "Police", [("#/source", "closed-list")]),
        ("violenceForms", "физическо", [("#/violenceForms", "format")]),
        ("violenceForms", {"0": "физическо"}, [("#/violenceForms", "format")]),
        ("violenceForms", [], [("#/violenceForms", "required")]),
        ("violenceForms", ["физическо", "побой"], [("#/violenceForms/1", "closed-list")]),
        (
            "violenceForms",
            [None, 3],
            [("#/violenceForms/0", "format"), ("#/violenceForms/1", "format")],
        ),
        ("perpetrator", "баща", [("#/perpetrator", "closed-list")]),
        ("perpetrator", ["родител"], [("#/perpetrator", "format")]),
        ("status", "закрит", [("#/status", "closed-list")]),
        ("coordinationMechanism", "true", [("#/coordinationMechanism", "format")]),
        ("coordinationMechanism", 1, [("#/coordinationMechanism", "format")]),
        ("references", ["ЗМ-1"], [("#/references", "format")]),
        ("references", {"mvr": 1234}, [("#/references/mvr", "format")]),
        ("child", "Елена Петрова", [("#/child", "format")]),
        ("child", [], [("#/child", "format")]),
    ],
)
def test_each_field_rule(field: str, value: Any, expected: list[tuple[str, str]]) -> None:
    document = sample()
    document[field] = value
    assert problems(document) == expected


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ({"egn": "1046122292"}, [("#/child/egn", "check-digit")]),
        ({"egn": "104612229"}, [("#/child/egn", "format")]),
        ({"egn": 1046122291}, [("#/child/egn", "format")]),
        ({"egn": "1542301110"}, [("#/child/egn", "date")]),
        ({"lnch": "1002003008"}, [("#/child/lnch", "conflict")]),
        ({"egn": None, "lnch": "1002003009"}, [("#/child/lnch", "check-digit")]),
        ({"egn": None, "birthDate": None}, [("#/child/birthDate", "required")]),
        (
            {"egn": None, "lnch": "1002003008", "birthDate": None},
            [("#/child/birthDate", "required")],
        ),
        ({"egn": None, "birthDate": "2010-6-12"}, [("#/child/birthDate", "format")]),
        ({"egn": None, "birthDate": "2010-06-31"}, [("#/child/birthDate", "date")]),
        ({"egn": None, "birthDate": "2021-10-22"}, [("#/child/birthDate", "date")]),
        ({"sex": "other"}, [("#/child/sex", "closed-list")]),
        ({"sex": "f"}, [("#/child/sex", "closed-list")]),
        ({"sex": "жена"}, [("#/child/sex", "closed-list")]),
    ],
)
def test_each_child_rule(child: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    document = sample()
    document["child"].update(child)
    assert problems(document) == expected


def test_an_egn_born_after_the_incident_is_a_date_problem() -> None:
    document = sample()
    document["incidentDate"] = "2010-06-11"
    assert problems(document) == [("#/child/egn", "date")]


def test_an_incident_date_more_than_a_day_after_receipt() -> None:
    document = sample()
    received = datetime(2021, 10, 20, 22, 0, tzinfo=UTC)
    document["incidentDate"] = "2021-10-21"
    translate(document, received)  # one day after: allowed
    document["incidentDate"] = "2021-10-22"
    assert problems(document, received) == [("#/incidentDate", "date")]


def test_a_future_received_at_without_incident_date_is_located_at_received_at() -> None:
    document = sample()
    del document["incidentDate"]
    document["receivedAt"] = "2021-10-21T09:40:00+03:00"
    assert problems(document, datetime(2021, 10, 19, tzinfo=UTC)) == [("#/receivedAt", "date")]


@pytest.mark.parametrize("body", [[], "signal", 3, None])
def test_a_document_that_is_not_an_object(body: Any) -> None:
    assert problems(body) == [("#", "format")]


def test_every_problem_is_listed_at_once_in_the_contracts_field_order() -> None:
    document = sample()
    document["eventId"] = "x"
    del document["signalNumber"]
    document["version"] = "2"
    document["ekatte"] = "6885"
    document["receivedAt"] = "2021-10-21T09:40:00"
    document["incidentDate"] = "2099-01-01"
    document["source"] = "police station"
    document["violenceForms"] = ["физическо", "побой", 5]
    document["perpetrator"] = "баща"
    document["status"] = "нов"
    document["coordinationMechanism"] = "да"
    document["references"] = {"mvr": False}
    document["child"] = {"egn": "1046122292", "lnch": None, "sex": "girl", "firstName": "Елена"}
    assert problems(document) == [
        ("#/eventId", "format"),
        ("#/signalNumber", "required"),
        ("#/version", "format"),
        ("#/ekatte", "format"),
        ("#/receivedAt", "format"),
        ("#/incidentDate", "date"),
        ("#/source", "closed-list"),
        ("#/child/sex", "closed-list"),
        ("#/child/egn", "check-digit"),
        ("#/violenceForms/1", "closed-list"),
        ("#/violenceForms/2", "format"),
        ("#/perpetrator", "closed-list"),
        ("#/status", "closed-list"),
        ("#/coordinationMechanism", "format"),
        ("#/references/mvr", "format"),
    ]


def test_problems_name_the_field_and_the_rule_never_the_value() -> None:
    document = sample()
    document["child"].update({"egn": "1046122292", "firstName": "Елена", "sex": "Елена"})
    document["violenceForms"] = ["Петрова"]
    document["signalNumber"] = 1046122292
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    text = repr(caught.value.problems) + str(caught.value)
    for value in ("1046122292", "Елена", "Петрова"):
        assert value not in text


# -- what never leaves the adapter ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_no_name_or_personal_number_in_the_record(name: str) -> None:
    document = sample(name)
    child = document["child"]
    secrets = [child.get(k) for k in ("egn", "lnch", "firstName", "lastName", "middleName")]
    text = repr(translate(document))
    for secret in filter(None, secrets):
        assert secret not in text


def test_the_adapter_is_pure() -> None:
    document = sample()
    before = copy.deepcopy(document)
    first = translate(document)
    assert document == before
    assert translate(document) == first
    later = RECEIVED + timedelta(days=400)
    assert ADAPTER.translate(document, ctx(later)) == first
