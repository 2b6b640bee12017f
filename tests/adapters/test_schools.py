"""The schools adapter alone: schools.md, translated with the shipped ConceptMaps."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from adapters.schools import SchoolsAdapter
from adapters.schools.adapter import FORMS_MAP, LEVEL_MAP, PERPETRATOR_MAP, SEX_MAP
from adapters.schools.rows import COLUMNS, parse_date
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.resources import mappings_dir
from gateway.transports.csv_table import CsvContract, decode, read_table

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "schools" / "samples"
SCHOOLS_MAPS = mappings_dir() / "schools"
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
RECEIVED = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
ADAPTER = SchoolsAdapter()
EGN = "0847027871"  # 2008-07-02, female

# schools.md, written out again here so that a wrong mapping file cannot pass unnoticed.
FORMS_BY_PUPIL = {
    "физически": {"bullying", "physical"},
    "вербален": {"bullying", "psychological"},
    "психически": {"bullying", "psychological"},
    "социален": {"bullying"},
    "сексуален": {"bullying", "sexual"},
    "кибер": {"bullying", "online"},
}
FORMS_BY_OTHERS = {
    "физически": {"physical"},
    "вербален": {"psychological"},
    "психически": {"psychological"},
    "социален": {"psychological"},
    "сексуален": {"sexual"},
    "кибер": {"online"},
}
PERPETRATORS = {
    "ученик": "peer",
    "служител": "caregiver-professional",
    "родител": "parent",
    "друг": "acquaintance",
    "неизвестен": "unknown",
}
LEVELS = {"1": "reported", "2": "reported", "3": "substantiated"}


def row(**changes: str | None) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "incident_id": "2021-017",
        "school_code": "160001",
        "ekatte": "56784",
        "incident_date": "2021-11-12",
        "level": "2",
        "forms": "физически",
        "victim_egn": EGN,
        "victim_birth_date": "",
        "victim_sex": "ж",
        "perpetrator": "ученик",
        "ozd_signal_number": "",
        "mvr_registration_number": "",
    }
    base.update(changes)
    return base


def translate(document: Any, received_at: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, TranslateContext(KEYS, MAPPINGS, received_at))


def problems(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    return [(p.path, p.code) for p in caught.value.problems]


def keyed(text: str) -> str:
    return hmac.new(b"2" * 32, text.encode(), hashlib.sha256).hexdigest()


def sample_rows(name: str) -> list[dict[str, str]]:
    encoding = "cp1251" if "1251" in name else "utf-8-sig"
    table = read_table(decode((SAMPLES / name).read_bytes(), encoding), CsvContract.of(ADAPTER))
    return [dict(zip(table.names, cells, strict=False)) for _, cells in table.rows]


# -- the adapter and its mapping files ---------------------------------------------------------


def test_the_adapter_declares_its_contract() -> None:
    assert isinstance(ADAPTER, Adapter)
    contract = CsvContract.of(ADAPTER)
    assert contract.columns == COLUMNS and contract.label_column == "incident_id"
    assert "victim_egn" not in contract.required_columns
    assert "victim_birth_date" not in contract.required_columns
    assert (ADAPTER.slug, ADAPTER.child_key, ADAPTER.policy.duplicates) == (
        "schools",
        "record",
        "latest-content",
    )
    spec = ADAPTER.transport
    assert (spec.kind, spec.path, spec.max_bytes) == ("csv", "/api/v1/schools/incidents", 20 << 20)
    assert spec.media_types == ("text/csv",) and ADAPTER.max_rows == 50_000
    assert ADAPTER.message_id(row()) is None  # no sender's id: translate makes a content digest


@pytest.mark.parametrize("path", sorted(SCHOOLS_MAPS.glob("*.json")), ids=lambda p: p.stem)
def test_every_mapping_file_is_an_r4_conceptmap_of_the_mapping_set(path: Path) -> None:
    cm = ConceptMap.model_validate(orjson.loads(path.read_bytes()))
    assert cm.id == path.stem and cm.version == "2026-1"
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    for group in cm.group or []:
        assert group.source == source_system("schools", group.source.rsplit("/", 1)[-1])


@pytest.mark.parametrize(
    ("map_id", "codes"),
    [
        (FORMS_MAP, set(FORMS_BY_PUPIL)),
        (PERPETRATOR_MAP, set(PERPETRATORS)),
        (LEVEL_MAP, set(LEVELS)),
        (SEX_MAP, {"м", "ж"}),
    ],
)
def test_each_closed_list_is_exactly_the_contracts(map_id: str, codes: set[str]) -> None:
    assert MAPPINGS.codes(map_id) == codes


@pytest.mark.parametrize("perpetrator", sorted(PERPETRATORS))
@pytest.mark.parametrize("form", sorted(FORMS_BY_PUPIL))
def test_the_forms_table_depends_on_the_perpetrator(form: str, perpetrator: str) -> None:
    table = FORMS_BY_PUPIL if perpetrator == "ученик" else FORMS_BY_OTHERS
    context = {"perpetrator": perpetrator}
    found = MAPPINGS.translate(FORMS_MAP, form, "violence-form", context)
    assert found is not None and set(found) == table[form]
    record = translate(row(forms=form, perpetrator=perpetrator))
    assert record.forms == table[form]
    assert record.relationships == {PERPETRATORS[perpetrator]}


# -- a valid row, field by field ---------------------------------------------------------------


def test_a_row_translates_field_by_field() -> None:
    record = translate(row(ozd_signal_number=" ОЗД-1 ", mvr_registration_number="ЗМ-2/2021"))
    victim = keyed(f"schools-victim|160001/2021-017|EGN:{EGN}")
    assert record.record_key == f"160001/2021-017#{victim[:32]}"
    assert EGN not in record.record_key and EGN not in record.message_id
    assert (record.source_event, record.version, record.event_date) == ("snapshot", None, None)
    assert record.incident_date == date(2021, 11, 12) and record.in_scope
    assert record.forms == {"bullying", "physical"} and record.relationships == {"peer"}
    assert (record.explicit_setting, record.implied_settings) == ("school", frozenset())
    assert record.case_stage == "reported" and record.attempted is False
    assert record.implied_outcomes == frozenset()
    assert record.place == Place(kind="school", ekatte="56784")
    assert record.references == {"ozd": "ОЗД-1", "mvr": "ЗМ-2/2021"}
    assert record.warnings == []
    (child,) = record.children
    assert (child.path, child.sex, child.birth_date) == ("victim_egn", "female", "2008-07-02")
    assert child.internal_id == keyed(f"EGN:{EGN}")
    expected = hmac.new(b"1" * 32, f"EGN:{EGN}".encode(), hashlib.sha256).hexdigest()
    assert [(p.key_id, p.value) for p in child.pseudonyms] == [("k1", expected)]

    def code(field: str, value: str) -> SourceCode:
        return SourceCode(source_system("schools", field), value)

    assert record.source_codes == (
        code("level", "2"),
        code("forms", "физически"),
        code("victim_sex", "ж"),
        code("perpetrator", "ученик"),
    )


def test_no_personal_value_in_the_record() -> None:
    record = translate(row())
    assert EGN not in repr(record) and EGN[1:] not in repr(record)


@pytest.mark.parametrize(("level", "stage"), sorted(LEVELS.items()))
def test_each_level(level: str, stage: str) -> None:
    assert translate(row(level=level)).case_stage == stage


@pytest.mark.parametrize(
    ("forms", "setting"),
    [("кибер", "online"), (" кибер | кибер |", "online"), ("кибер|вербален", "school"),
     ("физически", "school")],
)  # fmt: skip
def test_setting_is_online_only_when_cyber_is_the_only_form(forms: str, setting: str) -> None:
    assert translate(row(forms=forms)).explicit_setting == setting


def test_forms_are_trimmed_empty_and_repeated_segments_dropped_order_ignored() -> None:
    one = translate(row(forms=" вербален || физически | вербален "))
    two = translate(row(forms="физически|вербален"))
    assert one.forms == two.forms == {"bullying", "physical", "psychological"}
    assert one.message_id == two.message_id and one.source_codes == two.source_codes


def test_every_form_at_once_with_a_pupil() -> None:
    record = translate(row(forms="|".join(FORMS_BY_PUPIL)))
    assert record.forms == {"bullying", "physical", "psychological", "sexual", "online"}


@pytest.mark.parametrize("spelling", ["2021-11-12", "12.11.2021", "12.11.2021 ", " 2021-11-12"])
def test_both_date_formats_give_the_same_values(spelling: str) -> None:
    record = translate(row(incident_date=spelling))
    assert record.incident_date == date(2021, 11, 12)
    assert record.message_id == translate(row()).message_id


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1.2.2021", date(2021, 2, 1)), ("01.02.2021", date(2021, 2, 1)),
     ("29.2.2020", date(2020, 2, 29)), ("2021-2-1", None), ("1/2/2021", None),
     ("1.2.21", None), ("001.2.2021", None)],
)  # fmt: skip
def test_date_shapes(text: str, parsed: date | None) -> None:
    assert parse_date(text) == parsed


def test_a_birth_date_and_sex_without_egn() -> None:
    record = translate(row(victim_egn="", victim_birth_date="7.6.2011", victim_sex="м"))
    (child,) = record.children
    assert (child.path, child.sex, child.birth_date, child.pseudonyms) == (
        "victim_birth_date",
        "male",
        "2011-06-07",
        (),
    )
    victim = keyed("schools-victim|160001/2021-017|2011-06-07|м")
    assert record.record_key == f"160001/2021-017#{victim[:32]}"


def test_the_record_key_separates_victims_and_incidents_not_spellings() -> None:
    base = translate(row()).record_key
    assert translate(row(victim_egn=EGN[1:], level="3")).record_key == base
    assert translate(row(victim_egn="1249304511", victim_sex="ж")).record_key != base
    assert translate(row(incident_id="2021-018")).record_key != base
    assert translate(row(school_code="160002")).record_key != base


def test_the_message_id_is_a_keyed_digest_of_every_parsed_value() -> None:
    base = translate(row()).message_id
    assert len(base) == 64
    for column, value in [("level", "3"), ("forms", "вербален"), ("perpetrator", "друг"),
                          ("ozd_signal_number", "ОЗД-1"), ("mvr_registration_number", "ЗМ-1"),
                          ("victim_birth_date", "2008-07-02"), ("ekatte", "56785")]:  # fmt: skip
        assert translate(row(**{column: value})).message_id != base, column
    assert translate(row(incident_id=" 2021-017 ", victim_egn=EGN[1:])).message_id == base
    # an unknown column is no parsed value
    assert translate({**row(), "бележка": "x"}).message_id == base


def test_references_blank_are_absent() -> None:
    assert translate(row(ozd_signal_number="  ", mvr_registration_number=None)).references == {}


def test_optional_columns_may_be_missing() -> None:
    document = row()
    for column in ("victim_birth_date", "ozd_signal_number", "mvr_registration_number"):
        del document[column]
    assert translate(document).references == {}


# -- Excel's lost leading zeros ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"victim_egn": "847027871"}, "victim_egn"),
        ({"ekatte": "7079"}, "ekatte"),
        ({"school_code": "10135"}, "school_code"),
        ({"school_code": "10135", "ekatte": "7079", "victim_egn": "847027871"}, "school_code"),
    ],
)
def test_leading_zeros_are_restored_with_one_warning(changes: dict[str, str], path: str) -> None:
    record = translate(row(**changes))
    assert record.warnings == [DataWarning("leading-zeros-restored", path)]
    assert record.children[0].birth_date == "2008-07-02"
    if "ekatte" in changes:
        assert record.place == Place(kind="school", ekatte="07079")


def test_a_year_2000_egn_lost_two_zeros() -> None:
    record = translate(row(victim_egn="41151248", victim_sex="м", incident_date="2017-11-12"))
    assert record.children[0].birth_date == "2000-01-15"
    assert record.warnings == [DataWarning("leading-zeros-restored", "victim_egn")]


def test_a_padded_egn_is_still_checked() -> None:
    assert problems(row(victim_egn="847027872")) == [("victim_egn", "check-digit")]


# -- warnings from the identity rules ----------------------------------------------------------


def test_birth_date_and_sex_disagreeing_with_the_egn() -> None:
    record = translate(row(victim_birth_date="1.7.2008", victim_sex="м"))
    assert record.warnings == [
        DataWarning("birthdate-mismatch", "victim_birth_date", 0),
        DataWarning("sex-mismatch", "victim_sex", 0),
    ]
    assert (record.children[0].birth_date, record.children[0].sex) == ("2008-07-02", "female")


# -- errors: every problem, with its column and code -------------------------------------------


def test_every_required_column_blank() -> None:
    blank = dict.fromkeys(COLUMNS, " ")
    assert problems(blank) == [
        ("incident_id", "required"),
        ("school_code", "required"),
        ("ekatte", "required"),
        ("incident_date", "required"),
        ("level", "required"),
        ("forms", "required"),
        ("victim_birth_date", "required"),
        ("victim_sex", "required"),
        ("perpetrator", "required"),
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"school_code": "1600010"}, [("school_code", "format")]),
        ({"school_code": "16000A"}, [("school_code", "format")]),
        ({"ekatte": "567840"}, [("ekatte", "format")]),
        ({"ekatte": "5678.4"}, [("ekatte", "format")]),
        ({"incident_date": "2021/11/12"}, [("incident_date", "format")]),
        ({"incident_date": "31.11.2021"}, [("incident_date", "date")]),
        ({"incident_date": "2026-03-13"}, [("incident_date", "date")]),
        ({"level": "4"}, [("level", "closed-list")]),
        ({"forms": "физическо"}, [("forms", "closed-list")]),
        ({"forms": "кибер|побой|Вербален"}, [("forms", "closed-list"), ("forms", "closed-list")]),
        ({"forms": " | | "}, [("forms", "required")]),
        ({"victim_sex": "М"}, [("victim_sex", "closed-list")]),
        ({"victim_sex": "female"}, [("victim_sex", "closed-list")]),
        ({"perpetrator": "учител"}, [("perpetrator", "closed-list")]),
        ({"victim_egn": "8.47E+08"}, [("victim_egn", "format")]),
        ({"victim_egn": "08470278710"}, [("victim_egn", "format")]),
        ({"victim_egn": "0813327870"}, [("victim_egn", "date")]),
        ({"victim_egn": "", "victim_birth_date": ""}, [("victim_birth_date", "required")]),
        ({"victim_egn": "", "victim_birth_date": "2021-11-13"}, [("victim_birth_date", "date")]),
        ({"victim_egn": "", "victim_birth_date": "13.13.2010"}, [("victim_birth_date", "date")]),
        ({"victim_egn": "", "victim_birth_date": "2010"}, [("victim_birth_date", "format")]),
        ({"incident_date": "1.1.2008"}, [("victim_egn", "date")]),
    ],
)
def test_each_error(changes: dict[str, str], expected: list[tuple[str, str]]) -> None:
    assert problems(row(**changes)) == expected


def test_every_problem_at_once_in_column_order_never_quoting_a_value() -> None:
    document = row(perpetrator="x", victim_egn="0847027872", level="9", ekatte="abc")
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    assert [(p.path, p.code) for p in caught.value.problems] == [
        ("ekatte", "format"),
        ("level", "closed-list"),
        ("victim_egn", "check-digit"),
        ("perpetrator", "closed-list"),
    ]
    assert "0847027872" not in repr(caught.value.problems)


def test_a_document_that_is_not_a_row() -> None:
    assert problems(["not", "a", "row"]) == [("", "format")]


# -- the samples -------------------------------------------------------------------------------


def test_the_shared_windows_1251_sample() -> None:
    records = [translate(r) for r in sample_rows("schools-incidents.windows-1251.csv")]
    assert [(r.incident_date, r.case_stage, r.relationships) for r in records] == [
        (date(2021, 11, 4), "substantiated", {"peer"}),
        (date(2021, 7, 6), "substantiated", {"caregiver-professional"}),
        (date(2021, 12, 1), "reported", {"caregiver-professional"}),
    ]
    assert [r.forms for r in records] == [{"bullying", "physical"}, {"physical"}, {"physical"}]
    assert [(c.birth_date, c.sex) for r in records for c in r.children] == [
        ("2013-02-19", "male"),
        ("2009-03-25", "female"),
        ("2006-02-09", "male"),
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.csv")))
def test_every_shipped_sample_row_is_valid(name: str) -> None:
    for document in sample_rows(name):
        record = translate(document)
        assert ADAPTER.row_identity(document) is not None
        assert len(record.children) == 1


def test_the_personal_data_listing_covers_every_egn_of_the_samples() -> None:
    listed = set((SAMPLES / "personal-data.txt").read_text("utf-8").split())
    for name in (p.name for p in SAMPLES.glob("*.csv")):
        for document in sample_rows(name):
            egn = (document.get("victim_egn") or "").strip()
            assert not egn or egn in listed, (name, egn)
