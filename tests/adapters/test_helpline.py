"""The helpline adapter alone: helpline.md's contract, translated with the shipped ConceptMaps."""

from __future__ import annotations

import copy
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from adapters.helpline import HelplineAdapter
from adapters.helpline.contact import (
    AGE_BAND_MAP,
    CALLER_MAP,
    CATEGORIES_MAP,
    CHANNEL_MAP,
    SEX_MAP,
)
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.resources import mappings_dir

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "helpline" / "samples"
MAPS = mappings_dir() / "helpline"
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
RECEIVED = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
ADAPTER = HelplineAdapter()
SHARED = "helpline-contacts.ndjson"

# helpline.md, written out again here so that a wrong mapping file cannot pass unnoticed.
CATEGORIES: dict[str, tuple[set[str], set[str]]] = {
    "AV.PHY": ({"physical"}, set()),
    "AV.EMO": ({"psychological"}, set()),
    "AV.SEX": ({"sexual"}, set()),
    "AV.NEG": ({"neglect"}, set()),
    "AV.BUL": ({"bullying"}, set()),
    "AV.CYB": ({"bullying", "online"}, {"online"}),
    "AV.OSE": ({"sexual", "online", "exploitation"}, {"online"}),
    "AV.CSE": ({"sexual", "exploitation"}, set()),
    "AV.LAB": ({"exploitation"}, set()),
    "AV.TRF": ({"trafficking", "exploitation"}, set()),
    "AV.DVW": ({"psychological"}, {"family"}),
}
CHANNELS = ("phone", "chat", "email", "sms")
CALLERS = ("child", "parent", "relative", "professional", "other", "anonymous")
SEXES = {"m": "male", "f": "female", "x": "unknown"}
BANDS = {"0-5": (0, 5), "6-11": (6, 11), "12-14": (12, 14), "15-17": (15, 17)}


def lines(name: str) -> list[dict[str, Any]]:
    raw = (SAMPLES / name).read_bytes().removeprefix(b"\xef\xbb\xbf")
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def sample(index: int = 1) -> dict[str, Any]:
    """A line of the shared sample (the second: `AV.EMO` + `AV.DVW`, age 8, sex x, BG-16)."""
    return lines(SHARED)[index]


def ctx(received_at: datetime = RECEIVED) -> TranslateContext:
    return TranslateContext(KEYS, MAPPINGS, received_at)


def translate(document: Any, received_at: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, ctx(received_at))


def problems(document: Any, received_at: datetime = RECEIVED) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document, received_at)
    return [(p.path, p.code) for p in caught.value.problems]


def code(field: str, value: str) -> SourceCode:
    return SourceCode(source_system("helpline", field), value)


# -- the adapter and its mapping files ---------------------------------------------------------


def test_the_adapter_declares_its_contract() -> None:
    assert isinstance(ADAPTER, Adapter)
    assert ADAPTER.slug == "helpline" and ADAPTER.child_key == "record"
    assert ADAPTER.policy.older_version == "duplicate"
    assert ADAPTER.policy.duplicates == "message-id"
    spec = ADAPTER.transport
    assert (spec.kind, spec.path, spec.max_bytes) == (
        "ndjson",
        "/api/v1/helpline/contacts",
        10 << 20,
    )
    assert spec.media_types == ("application/x-ndjson", "application/ndjson")
    assert (ADAPTER.max_lines, ADAPTER.item_key) == (10_000, "contactId")


@pytest.mark.parametrize("path", sorted(MAPS.glob("*.json")), ids=lambda p: p.stem)
def test_every_mapping_file_is_an_r4_conceptmap_of_the_mapping_set(path: Path) -> None:
    cm = ConceptMap.model_validate(orjson.loads(path.read_bytes()))
    assert cm.id == path.stem and cm.version == "2026-1"
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    for group in cm.group or []:
        assert group.source == source_system("helpline", group.source.rsplit("/", 1)[1])
        for element in group.element or []:
            for target in element.target or []:
                assert (target.code is None) == (target.equivalence == "unmatched")


@pytest.mark.parametrize(
    ("map_id", "codes"),
    [
        (CATEGORIES_MAP, set(CATEGORIES)),
        (CHANNEL_MAP, set(CHANNELS)),
        (CALLER_MAP, set(CALLERS)),
        (SEX_MAP, set(SEXES)),
        (AGE_BAND_MAP, set(BANDS)),
    ],
)
def test_each_closed_list_is_exactly_the_contracts(map_id: str, codes: set[str]) -> None:
    assert MAPPINGS.codes(map_id) == codes


# -- a valid contact, field by field -----------------------------------------------------------


def test_a_shared_sample_line_translates_field_by_field() -> None:
    record = translate(sample())
    assert record.message_id == "HL-2021-82749-1#1" == ADAPTER.message_id(sample())
    assert record.record_key == "HL-2021-82749-1"
    assert (record.source_event, record.source_event_path, record.version) == (
        "first",
        "#/revision",
        1,
    )
    assert record.incident_date == date(2021, 6, 14)
    assert record.in_scope is True
    assert record.forms == {"psychological"}
    assert record.implied_settings == {"family"} and record.setting_path == "#/categories"
    assert record.explicit_setting is None
    assert record.attempted is False and record.implied_outcomes == frozenset()
    assert record.relationships == {"unknown"}
    assert record.case_stage == "reported"
    assert record.place == Place(kind="residence", region="BG-16")
    assert record.references == {} and record.warnings == []
    assert record.event_date is None
    (child,) = record.children
    assert (child.path, child.sex, child.age, child.age_band) == ("#/child", "unknown", 8, None)
    assert (child.pseudonyms, child.internal_id, child.birth_date) == ((), None, None)
    assert record.source_codes == (
        code("channel", "phone"),
        code("caller", "child"),
        code("sex", "x"),
        code("categories", "AV.EMO"),
        code("categories", "AV.DVW"),
    )


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SAMPLES.glob("*.ndjson")), ids=lambda n: n.split(".")[0]
)
def test_every_shipped_sample_line_is_valid(name: str) -> None:
    for document in lines(name):
        record = translate(document)
        assert record.message_id == ADAPTER.message_id(document)
        assert record.message_id == f"{document['contactId']}#{document.get('revision') or 1}"
        assert len(record.children) == 1


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_each_violence_category(category: str) -> None:
    document = sample()
    document["categories"] = [category]
    record = translate(document)
    forms, settings = CATEGORIES[category]
    assert record.forms == forms and record.implied_settings == settings and record.in_scope
    assert code("categories", category) in record.source_codes


def test_every_category_at_once() -> None:
    record = translate(lines("every-category.ndjson")[-1])
    assert record.forms == {f for forms, _ in CATEGORIES.values() for f in forms}
    assert record.implied_settings == {"online", "family"}
    assert [c.code for c in record.source_codes if c.system.endswith("/categories")] == [
        *CATEGORIES,
        "MH.ANX",
        "FR.REL",
        "INF.GEN",
    ]


@pytest.mark.parametrize("categories", [["MH.ANX"], ["FR.REL", "INF.GEN"], ["av"], ["AVX.1"]])
def test_no_violence_category_is_out_of_scope_but_kept(categories: list[str]) -> None:
    document = sample()
    document["categories"] = categories
    record = translate(document)
    assert record.in_scope is False and record.forms == frozenset()
    assert [c.code for c in record.source_codes if c.system.endswith("/categories")] == categories


def test_open_categories_add_no_form_and_keep_their_case() -> None:
    document = sample()
    document["categories"] = ["AV.PHY", "mh.anx", "Something Else", "mh.anx"]
    record = translate(document)
    assert record.forms == {"physical"}
    assert [c.code for c in record.source_codes if c.system.endswith("/categories")] == [
        "AV.PHY",
        "mh.anx",
        "Something Else",
    ]


def test_categories_are_trimmed_and_nfc_normalised_and_count_once() -> None:
    document = sample()
    document["categories"] = [" AV.DVW\t", "AV.DVW", unicodedata.normalize("NFD", "ЗДР.Й")]
    record = translate(document)
    assert [c.code for c in record.source_codes if c.system.endswith("/categories")] == [
        "AV.DVW",
        unicodedata.normalize("NFC", "ЗДР.Й"),
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_is_kept_as_a_source_code(channel: str) -> None:
    document = sample()
    document["channel"] = f" {channel} "
    assert code("channel", channel) in translate(document).source_codes


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_is_kept_as_a_source_code(caller: str) -> None:
    document = sample()
    document["caller"] = caller
    assert code("caller", caller) in translate(document).source_codes


@pytest.mark.parametrize(("sex", "canonical"), sorted(SEXES.items()))
def test_each_sex(sex: str, canonical: str) -> None:
    document = sample()
    document["child"]["sex"] = sex
    record = translate(document)
    assert record.children[0].sex == canonical and code("sex", sex) in record.source_codes


@pytest.mark.parametrize("child", [None, {}, {"sex": None}, "delete"])
def test_no_sex_is_unknown_and_no_child_is_an_unknown_age(child: Any) -> None:
    document = sample()
    if child == "delete":
        del document["child"]
    else:
        document["child"] = child
    record = translate(document)
    (found,) = record.children
    assert (found.sex, found.age, found.age_band) == ("unknown", None, None)
    assert record.in_scope and record.place is None
    assert not [c for c in record.source_codes if c.system.endswith(("/sex", "/ageBand"))]


@pytest.mark.parametrize(("band", "bounds"), sorted(BANDS.items()))
def test_each_age_band_alone_is_carried(band: str, bounds: tuple[int, int]) -> None:
    document = sample()
    document["child"] = {"ageBand": band}
    record = translate(document)
    assert (record.children[0].age, record.children[0].age_band) == (None, band)
    assert record.warnings == [] and code("ageBand", band) in record.source_codes


@pytest.mark.parametrize(("band", "bounds"), sorted(BANDS.items()))
def test_age_wins_over_the_band_and_a_disagreeing_band_is_a_warning(
    band: str, bounds: tuple[int, int]
) -> None:
    low, high = bounds
    document = sample()
    for age in (low, high):
        document["child"] = {"age": age, "ageBand": band}
        record = translate(document)
        assert (record.children[0].age, record.children[0].age_band) == (age, None)
        assert record.warnings == []
    for age in (low - 1, high + 1):
        if age < 0:
            continue
        document["child"] = {"age": age, "ageBand": band}
        record = translate(document)
        assert (record.children[0].age, record.children[0].age_band) == (age, None)
        assert record.warnings == [DataWarning("ageband-mismatch", "#/child/ageBand", 0)]
        assert code("ageBand", band) in record.source_codes


@pytest.mark.parametrize("age", [0, 17, 18, 45])
def test_any_whole_age_is_given_to_the_core(age: int) -> None:
    document = sample()
    document["child"]["age"] = age
    assert translate(document).children[0].age == age  # 18 and more: out of scope in the core


@pytest.mark.parametrize("region", ["BG-01", "BG-09", "BG-10", "BG-22", "BG-28", " BG-16 "])
def test_each_region_is_a_residence(region: str) -> None:
    document = sample()
    document["child"]["region"] = region
    assert translate(document).place == Place(kind="residence", region=region.strip())


@pytest.mark.parametrize(
    ("revision", "event", "version"),
    [(None, "first", 1), (1, "first", 1), (2, "later", 2), (40, "later", 40)],
)
def test_revisions(revision: int | None, event: str, version: int) -> None:
    document = sample()
    document["revision"] = revision
    record = translate(document)
    assert (record.source_event, record.version) == (event, version)
    assert record.message_id == f"HL-2021-82749-1#{version}"


def test_the_referral_is_a_reference_to_the_child_protection_signal() -> None:
    document = sample()
    document["referral"] = {"ozdSignalNumber": " ОЗД-ПД-2021-000311 ", "other": 1}
    assert translate(document).references == {"ozd": "ОЗД-ПД-2021-000311"}
    document["referral"] = {"ozdSignalNumber": "  "}
    assert translate(document).references == {}


@pytest.mark.parametrize(
    ("started_at", "day"),
    [
        ("2021-06-14T23:30:00-05:00", date(2021, 6, 14)),
        ("2021-06-15T00:30:00+03:00", date(2021, 6, 15)),
        ("2021-06-15t00:30:00.125z", date(2021, 6, 15)),
    ],
)
def test_the_incident_date_is_the_date_of_started_at_in_its_own_offset(
    started_at: str, day: date
) -> None:
    document = sample()
    document["startedAt"] = started_at
    assert translate(document).incident_date == day


def test_a_contact_may_start_up_to_a_day_after_receipt() -> None:
    document = sample()
    received = datetime(2021, 6, 13, 22, 0, tzinfo=UTC)
    translate(document, received)  # 2021-06-14 is one day after 2021-06-13
    document["startedAt"] = "2021-06-15T00:00:00+03:00"
    assert problems(document, received) == [("#/startedAt", "date")]


def test_names_and_unknown_fields_are_ignored() -> None:
    named = next(d for d in lines("child-variants.ndjson") if d["contactId"].endswith("NAMED"))
    record = translate(named)
    assert record.references == {"ozd": "ОЗД-ПД-2026-000207"}
    assert (record.children[0].age, record.children[0].sex) == (15, "female")
    text = repr(record)
    for value in ("Златомира", "Стойчева-Панайотова"):
        assert value not in text


# -- the message id, read before anything else --------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"contactId": "HL-1"}, "HL-1#1"),
        ({"contactId": " HL-1 ", "revision": None}, "HL-1#1"),
        ({"contactId": "HL-1", "revision": 3}, "HL-1#3"),
        ({"contactId": "HL#1", "revision": 2}, "HL#1#2"),
        ({"contactId": "HL-1", "revision": 0}, None),
        ({"contactId": "HL-1", "revision": "2"}, None),
        ({"contactId": "HL-1", "revision": True}, None),
        ({"contactId": "HL-1", "revision": 2.0}, None),
        ({"contactId": "  "}, None),
        ({"contactId": 17}, None),
        ({}, None),
        (["contactId"], None),
        ("HL-1", None),
    ],
)
def test_message_id(document: Any, expected: str | None) -> None:
    assert ADAPTER.message_id(document) == expected


# -- every contract violation, with its pointer and code -----------------------------------------


@pytest.mark.parametrize("field", ["contactId", "startedAt", "channel", "caller", "categories"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_each_required_field(field: str, how: str) -> None:
    document = sample()
    if how == "missing":
        del document[field]
    else:
        document[field] = None
    assert problems(document) == [(f"#/{field}", "required")]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("contactId", 4417, [("#/contactId", "format")]),
        ("contactId", " ", [("#/contactId", "required")]),
        ("revision", 0, [("#/revision", "format")]),
        ("revision", -1, [("#/revision", "format")]),
        ("revision", "2", [("#/revision", "format")]),
        ("revision", 1.5, [("#/revision", "format")]),
        ("revision", True, [("#/revision", "format")]),
        ("startedAt", "2021-06-14T16:05:11", [("#/startedAt", "format")]),
        ("startedAt", "2021-06-14", [("#/startedAt", "format")]),
        ("startedAt", "2021-06-14 16:05:11+03:00", [("#/startedAt", "format")]),
        ("startedAt", "2021-02-29T16:05:11+03:00", [("#/startedAt", "date")]),
        ("startedAt", "2021-06-14T25:05:11+03:00", [("#/startedAt", "date")]),
        ("startedAt", 1623675911, [("#/startedAt", "format")]),
        ("channel", "fax", [("#/channel", "closed-list")]),
        ("channel", "Phone", [("#/channel", "closed-list")]),
        ("channel", ["phone"], [("#/channel", "format")]),
        ("caller", "teacher", [("#/caller", "closed-list")]),
        ("caller", " ", [("#/caller", "required")]),
        ("categories", "AV.PHY", [("#/categories", "format")]),
        ("categories", {"0": "AV.PHY"}, [("#/categories", "format")]),
        ("categories", [], [("#/categories", "required")]),
        ("categories", ["AV.PHY", "AV.XYZ"], [("#/categories/1", "closed-list")]),
        ("categories", ["av.phy"], [("#/categories/0", "closed-list")]),
        ("categories", ["Av.Emo", "AV."],
         [("#/categories/0", "closed-list"), ("#/categories/1", "closed-list")]),
        ("categories", ["AV.PHYS"], [("#/categories/0", "closed-list")]),
        ("categories", [" av.dvw "], [("#/categories/0", "closed-list")]),
        ("categories", [None, 3, " "],
         [("#/categories/0", "format"), ("#/categories/1", "format"),
          ("#/categories/2", "format")]),
        ("child", "Мария", [("#/child", "format")]),
        ("child", [], [("#/child", "format")]),
        ("referral", "ОЗД-ПД-1", [("#/referral", "format")]),
        ("referral", {"ozdSignalNumber": 311}, [("#/referral/ozdSignalNumber", "format")]),
    ],
)  # fmt: skip
def test_each_field_rule(field: str, value: Any, expected: list[tuple[str, str]]) -> None:
    document = sample()
    document[field] = value
    assert problems(document) == expected


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ({"age": -1}, [("#/child/age", "format")]),
        ({"age": 12.5}, [("#/child/age", "format")]),
        ({"age": 12.0}, [("#/child/age", "format")]),
        ({"age": "12"}, [("#/child/age", "format")]),
        ({"age": True}, [("#/child/age", "format")]),
        ({"ageBand": "12-15"}, [("#/child/ageBand", "closed-list")]),
        ({"ageBand": "18+"}, [("#/child/ageBand", "closed-list")]),
        ({"ageBand": 12}, [("#/child/ageBand", "format")]),
        ({"sex": "F"}, [("#/child/sex", "closed-list")]),
        ({"sex": "female"}, [("#/child/sex", "closed-list")]),
        ({"sex": "u"}, [("#/child/sex", "closed-list")]),
        ({"region": "BG-00"}, [("#/child/region", "format")]),
        ({"region": "BG-29"}, [("#/child/region", "format")]),
        ({"region": "bg-16"}, [("#/child/region", "format")]),
        ({"region": "BG16"}, [("#/child/region", "format")]),
        ({"region": "Пловдив"}, [("#/child/region", "format")]),
        ({"region": 16}, [("#/child/region", "format")]),
    ],
)
def test_each_child_rule(child: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    document = sample()
    document["child"].update(child)
    assert problems(document) == expected


@pytest.mark.parametrize("body", [[], "contact", 3, None, True])
def test_a_document_that_is_not_an_object(body: Any) -> None:
    assert problems(body) == [("#", "format")]


def test_every_problem_is_listed_at_once_in_the_contracts_field_order() -> None:
    document = {
        "contactId": 5,
        "revision": "2",
        "startedAt": "2099-01-01T00:00:00+02:00",
        "channel": "fax",
        "caller": "teacher",
        "child": {
            "age": -3,
            "ageBand": "1-2",
            "sex": "girl",
            "region": "BG-99",
            "firstName": "Мария",
        },
        "categories": ["AV.PHY", "AV.NOPE", 5],
        "referral": {"ozdSignalNumber": ["ОЗД"]},
    }
    assert problems(document) == [
        ("#/contactId", "format"),
        ("#/revision", "format"),
        ("#/startedAt", "date"),
        ("#/channel", "closed-list"),
        ("#/caller", "closed-list"),
        ("#/child/age", "format"),
        ("#/child/ageBand", "closed-list"),
        ("#/child/sex", "closed-list"),
        ("#/child/region", "format"),
        ("#/categories/1", "closed-list"),
        ("#/categories/2", "format"),
        ("#/referral/ozdSignalNumber", "format"),
    ]


def test_problems_name_the_field_and_the_rule_never_the_value() -> None:
    document = sample()
    document["child"].update({"firstName": "Мария", "sex": "Мария", "region": "Мария"})
    document["categories"] = ["AV.Мария"]
    document["channel"] = "Мария"
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    assert "Мария" not in repr(caught.value.problems) + str(caught.value)


# -- what never leaves the adapter ---------------------------------------------------------------


def test_no_name_in_any_record() -> None:
    names = (SAMPLES / "personal-data.txt").read_text("utf-8").split()
    assert names
    for path in SAMPLES.glob("*.ndjson"):
        for document in lines(path.name):
            text = repr(translate(document))
            assert not [n for n in names if n in text]


def test_the_adapter_is_pure() -> None:
    document = lines("child-variants.ndjson")[1]
    before = copy.deepcopy(document)
    first = translate(document)
    assert document == before
    assert translate(document) == first
    assert ADAPTER.translate(document, ctx(RECEIVED + timedelta(days=400))) == first
