"""The police (МВР) adapter alone: mvr.md and criminal-code.md, with the shipped ConceptMaps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap
from lxml import etree

from adapters.criminal_code import article
from adapters.mvr import MvrAdapter
from adapters.mvr.adapter import NAMESPACE
from gateway import methodology
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.resources import mappings_dir
from gateway.transports.xml import parse_xml

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "mvr" / "samples"
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
RECEIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ADAPTER = MvrAdapter()
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"m": NAMESPACE}
V1 = "/m:IncidentReport/m:Victim[1]"


def ctx(received: datetime = RECEIVED) -> TranslateContext:
    return TranslateContext(KEYS, MAPPINGS, received)


def body(raw: bytes) -> etree._Element:
    found = parse_xml(raw).find(f"{{{SOAP}}}Body")
    assert found is not None
    return found[0]


def sample(name: str) -> etree._Element:
    return body((SAMPLES / name).read_bytes())


def translate(document: etree._Element, received: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, ctx(received))


def problems(document: etree._Element) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    return [(p.path, p.code) for p in caught.value.problems]


def edited(name: str, *edits: Callable[[etree._Element], None]) -> etree._Element:
    document = sample(name)
    for edit in edits:
        edit(document)
    return document


def put(xpath: str, text: str) -> Callable[[etree._Element], None]:
    """Set the text of the element at `xpath` (relative to m:IncidentReport)."""

    def edit(document: etree._Element) -> None:
        (node,) = document.xpath(xpath, namespaces=NS)
        node.text = text

    return edit


def drop(xpath: str) -> Callable[[etree._Element], None]:
    def edit(document: etree._Element) -> None:
        for node in document.xpath(xpath, namespaces=NS):
            node.getparent().remove(node)

    return edit


def add(parent: str, name: str, text: str) -> Callable[[etree._Element], None]:
    def edit(document: etree._Element) -> None:
        (node,) = document.xpath(parent, namespaces=NS) if parent != "." else (document,)
        etree.SubElement(node, f"{{{NAMESPACE}}}{name}").text = text

    return edit


def code(field: str, value: str) -> SourceCode:
    return SourceCode(source_system("mvr", field), value)


# -- the adapter's surface ----------------------------------------------------------------------


def test_adapter_satisfies_the_protocol_and_names_its_transport() -> None:
    assert isinstance(ADAPTER, Adapter)
    spec = ADAPTER.transport
    assert (ADAPTER.slug, ADAPTER.child_key) == ("mvr", "person")
    assert (spec.kind, spec.path, spec.media_types) == ("soap11", "/soap/mvr", ("text/xml",))
    assert spec.max_bytes == 5 * 1024 * 1024
    assert (spec.namespace, spec.submit_element, spec.submit_operation) == (
        "urn:bg:mvr:child-incident:v1",
        "IncidentReport",
        "SubmitIncidentReport",
    )
    assert spec.wsdl is not None and spec.wsdl.is_file()
    assert spec.xsd is not None and spec.xsd.is_file()


def test_message_id_is_read_before_anything_else_and_canonical() -> None:
    assert ADAPTER.message_id(sample("mvr-incident.xml")) == "799bfdc3-4bcc-43f7-851b-15e150180001"
    upper = sample("mvr-incident-unknown-elements.xml")
    assert ADAPTER.message_id(upper) == "ff17ae65-6de8-4943-b7e6-6b0ede23edfe"
    broken = edited("mvr-incident.xml", put("m:Victim/m:Egn", "x"), put("m:Ekatte", "?"))
    assert ADAPTER.message_id(broken) == "799bfdc3-4bcc-43f7-851b-15e150180001"
    assert ADAPTER.message_id(edited("mvr-incident.xml", drop("m:ReportId"))) is None
    assert ADAPTER.message_id(edited("mvr-incident.xml", put("m:ReportId", "42"))) is None
    twice = edited("mvr-incident.xml", add(".", "ReportId", "76c37398-7f79-400b-89a1-dd64055e3d76"))
    assert ADAPTER.message_id(twice) is None


# -- the samples ------------------------------------------------------------------------------


SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.xml"))


def test_the_shared_samples_are_shipped() -> None:
    shared = {"mvr-incident.xml", "mvr-incident-update-two-victims.xml", "mvr-incident-cancel.xml"}
    assert shared <= set(SAMPLE_FILES)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_no_name_or_personal_number_survives_translation(name: str) -> None:
    document = sample(name)
    secrets = [
        (node.text or "").strip()
        for node in document.iter()
        if etree.QName(node).localname in {"FirstName", "MiddleName", "LastName", "Egn", "Lnch"}
    ]
    assert secrets
    record = translate(document)
    text = repr(record)
    assert not [s for s in secrets if s in text]


def test_the_shared_sample() -> None:
    record = translate(sample("mvr-incident.xml"))
    assert record.message_id == "799bfdc3-4bcc-43f7-851b-15e150180001"
    assert record.record_key == "ЗМ-1045/2021 02 РУ-СДВР"
    assert (record.source_event, record.source_event_path) == (
        "first",
        "/m:IncidentReport/m:ReportType",
    )
    assert record.incident_date == date(2021, 7, 21)
    assert record.place == Place("incident", ekatte="68134")
    assert record.in_scope is True
    assert record.forms == {"physical", "psychological"}
    assert record.attempted is False
    assert record.implied_outcomes == {"injured"}
    assert (record.explicit_setting, record.setting_path) == (
        "family",
        "/m:IncidentReport/m:SettingCode",
    )
    assert record.implied_settings == frozenset()
    assert record.relationships == {"parent"}
    assert record.case_stage == "reported"
    assert record.references == {}
    assert record.version is None
    assert record.warnings == []
    assert record.source_codes == (
        code("ReportType", "NEW"),
        code("SettingCode", "1"),
        code("Article", "129"),
        code("Article", "143"),
        code("RelationCode", "1"),
    )
    (child,) = record.children
    assert child.path == V1
    assert child.pseudonyms == KEYS.pseudonyms("EGN", "0443056096")
    assert child.internal_id == KEYS.internal_id("EGN", "0443056096")
    assert (child.birth_date, child.sex) == ("2004-03-05", "female")
    assert (child.stated_outcome, child.stated_outcome_path) == ("injured", f"{V1}/m:InjuryCode")


def test_update_with_two_victims_one_by_lnch() -> None:
    record = translate(sample("mvr-incident-update-two-victims.xml"))
    assert record.source_event == "later"
    assert [c.path for c in record.children] == [V1, "/m:IncidentReport/m:Victim[2]"]
    first, second = record.children
    assert first.pseudonyms == KEYS.pseudonyms("EGN", "0646271398")
    assert second.pseudonyms == KEYS.pseudonyms("LNCH", "7485561332")
    assert second.internal_id == KEYS.internal_id("LNCH", "7485561332")
    assert (second.birth_date, second.sex) == ("2015-04-18", "female")
    assert record.relationships == {"step-parent"}


def test_cancel_withdraws_and_has_no_stage() -> None:
    record = translate(sample("mvr-incident-cancel.xml"))
    assert record.source_event == "withdraw"
    assert record.case_stage is None
    assert code("ReportType", "CANCEL") in record.source_codes


def test_lnch_child_minor_perpetrator_and_time() -> None:
    record = translate(sample("mvr-incident-lnch-child.xml"))
    (child,) = record.children
    assert child.pseudonyms == KEYS.pseudonyms("LNCH", "1002003019")
    assert (child.birth_date, child.sex, child.stated_outcome) == (
        "2016-01-20",
        "female",
        "injured",
    )
    assert record.explicit_setting == "school"
    assert record.relationships == {"peer"}
    assert code("Minor", "true") in record.source_codes


def test_an_adult_victim_is_kept_beside_the_child_for_the_core_to_drop() -> None:
    record = translate(sample("mvr-incident-adult-and-child.xml"))
    adult, child = record.children
    assert (adult.birth_date, adult.sex) == ("1985-02-11", "female")
    assert (child.birth_date, child.sex) == ("2014-11-02", "male")
    assert [methodology.is_child(c, record.incident_date) for c in record.children] == [False, True]
    assert record.forms == {"physical", "psychological"}


def test_attempt_gives_forms_but_no_outcome_and_foreign_articles_do_not_count() -> None:
    record = translate(sample("mvr-incident-attempt.xml"))
    assert record.in_scope is True
    assert record.attempted is True  # 194 (theft) is not in the table, so 115 alone decides
    assert record.forms == {"physical"}
    assert record.implied_outcomes == frozenset()
    assert record.children[0].stated_outcome == "not-injured"
    assert [c.code for c in record.source_codes if c.system.endswith("/Article")] == ["115", "194"]


def test_trafficking_without_perpetrator_and_latin_m() -> None:
    record = translate(sample("mvr-incident-trafficking.xml"))
    assert record.forms == {"trafficking", "exploitation"}
    assert record.relationships == frozenset()
    assert methodology.relationships(record.relationships) == ("unknown",)
    assert record.explicit_setting == "unknown"
    assert record.children[0].sex == "male"
    assert record.warnings == []
    assert code("Article", "159а") in record.source_codes


def test_homicide_with_injury_below_4_keeps_the_stated_outcome() -> None:
    record = translate(sample("mvr-incident-homicide-injury-below-4.xml"))
    assert record.implied_outcomes == {"fatal"}
    assert record.children[0].stated_outcome == "injured"
    assert record.references == {"prosecution": "ДП 1204/2025 РП-Русе"}
    # criminal-code.md rule 4, applied by the core from these candidates.
    assert methodology.outcome("injured", record.implied_outcomes) == ("injured", True)


def test_latin_and_upper_case_article_suffixes_are_the_cyrillic_letters() -> None:
    record = translate(sample("mvr-incident-online-latin-article.xml"))
    articles = [c.code for c in record.source_codes if c.system.endswith("/Article")]
    assert articles == ["155а", "155б"]
    assert record.forms == {"sexual", "online"}
    assert record.attempted is False  # 155б is attempted, 155а is not
    assert record.explicit_setting == "online"
    assert record.references == {"prosecution": "ДП 88/2026 СГП"}


def test_other_order_unknown_elements_and_another_prefix_with_identity_warnings() -> None:
    record = translate(sample("mvr-incident-unknown-elements.xml"))
    assert record.message_id == "ff17ae65-6de8-4943-b7e6-6b0ede23edfe"
    (child,) = record.children
    # The ЕГН wins over the stated birth date and sex.
    assert (child.birth_date, child.sex) == ("2016-01-20", "female")
    assert record.warnings == [
        DataWarning("birthdate-mismatch", f"{V1}/m:BirthDate", 0),
        DataWarning("sex-mismatch", f"{V1}/m:Sex", 0),
    ]
    assert record.forms == {"neglect"}
    assert record.explicit_setting == "residential-care"
    assert record.relationships == {"caregiver-professional"}


def test_out_of_scope_record_keeps_its_articles() -> None:
    record = translate(sample("mvr-incident-out-of-scope.xml"))
    assert record.in_scope is False
    assert record.forms == frozenset()
    assert record.attempted is False
    assert code("Article", "194") in record.source_codes


def test_windows_1251_body() -> None:
    raw = (SAMPLES / "mvr-incident-windows-1251.xml").read_bytes()
    assert "ЗМ".encode("cp1251") in raw
    record = translate(body(raw))
    assert record.record_key == "ЗМ-1180/2026 ОДМВР Бургас"
    assert record.forms == {"psychological"}
    assert code("Article", "144а") in record.source_codes


def test_the_published_xsd_accepts_every_sample_in_the_published_order() -> None:
    spec = ADAPTER.transport
    assert spec.xsd is not None
    schema = etree.XMLSchema(etree.parse(str(spec.xsd)))
    for name in SAMPLE_FILES:
        if name != "mvr-incident-unknown-elements.xml":
            assert schema.validate(sample(name)), (name, schema.error_log.last_error)


# -- fields, one rule at a time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("155а", "155а"), (" 155a ", "155а"), ("155A", "155а"), ("159Б", "159б"), ("296", "296")],
)
def test_article_normalisation(written: str, normalised: str) -> None:
    assert article(written) == normalised


@pytest.mark.parametrize(
    ("attempts", "attempted", "outcomes"),
    [
        (("true", "true"), True, set()),
        (("1", "0"), False, set()),
        (("false", "true"), False, {"injured"}),
        ((" 0 ", "1"), False, {"injured"}),
    ],
)
def test_attempt_flags(attempts: tuple[str, str], attempted: bool, outcomes: set[str]) -> None:
    # 129 implies `injured` when completed; 143 implies nothing.
    record = translate(
        edited(
            "mvr-incident.xml",
            put("m:Offence[1]/m:Attempt", attempts[0]),
            put("m:Offence[2]/m:Attempt", attempts[1]),
        )
    )
    assert record.attempted is attempted
    assert record.implied_outcomes == outcomes
    assert record.forms == {"physical", "psychological"}


def test_attempt_defaults_to_false() -> None:
    record = translate(edited("mvr-incident.xml", drop("m:Offence/m:Attempt")))
    assert record.attempted is False
    assert record.implied_outcomes == {"injured"}


def test_attempted_homicide_beside_a_completed_injury_implies_only_the_injury() -> None:
    record = translate(
        edited(
            "mvr-incident.xml",
            put("m:Offence[1]/m:Article", "115"),
            put("m:Offence[1]/m:Attempt", "true"),
            put("m:Offence[2]/m:Article", "131"),
        )
    )
    assert (record.attempted, record.implied_outcomes) == (False, {"injured"})


@pytest.mark.parametrize(
    ("injury", "outcome"),
    [("0", "not-injured"), ("1", "injured"), ("2", "injured"), ("3", "injured"), ("4", "fatal")],
)
def test_injury_code_is_the_stated_outcome(injury: str, outcome: str) -> None:
    record = translate(edited("mvr-incident.xml", put("m:Victim/m:InjuryCode", injury)))
    assert record.children[0].stated_outcome == outcome


@pytest.mark.parametrize(
    ("setting", "canonical"),
    [("1", "family"), ("2", "school"), ("3", "residential-care"), ("4", "public-place"),
     ("5", "online"), ("9", "unknown")],
)  # fmt: skip
def test_setting_codes(setting: str, canonical: str) -> None:
    record = translate(edited("mvr-incident.xml", put("m:SettingCode", setting)))
    assert record.explicit_setting == canonical


@pytest.mark.parametrize(
    ("relation", "canonical"),
    [("1", "parent"), ("2", "step-parent"), ("3", "other-relative"), ("4", "intimate-partner"),
     ("5", "peer"), ("6", "caregiver-professional"), ("7", "acquaintance"), ("8", "stranger"),
     ("9", "unknown")],
)  # fmt: skip
def test_relation_codes(relation: str, canonical: str) -> None:
    record = translate(edited("mvr-incident.xml", put("m:Perpetrator/m:RelationCode", relation)))
    assert record.relationships == {canonical}


def test_every_perpetrator_counts_once() -> None:
    record = translate(
        edited(
            "mvr-incident.xml",
            add(".", "Perpetrator", ""),
            add("m:Perpetrator[2]", "RelationCode", "8"),
            add("m:Perpetrator[2]", "Minor", "1"),
            add(".", "Perpetrator", ""),
            add("m:Perpetrator[3]", "RelationCode", "1"),
        )
    )
    assert record.relationships == {"parent", "stranger"}
    relations = [c.code for c in record.source_codes if c.system.endswith("/RelationCode")]
    assert relations == ["1", "8"]
    assert code("Minor", "true") in record.source_codes


def test_empty_optional_elements_count_as_absent() -> None:
    record = translate(
        edited("mvr-incident.xml", add(".", "ProsecutionRef", "  "), add("m:Victim", "Lnch", ""))
    )
    assert record.references == {}
    assert record.children[0].pseudonyms == KEYS.pseudonyms("EGN", "0443056096")


def test_birth_date_with_a_timezone_and_lnch_child_without_egn() -> None:
    record = translate(
        edited("mvr-incident-lnch-child.xml", put("m:Victim/m:BirthDate", "2016-01-20+02:00"))
    )
    assert record.children[0].birth_date == "2016-01-20"


def test_incident_date_may_be_the_next_day_of_receipt_but_not_later() -> None:
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    tomorrow = edited("mvr-incident.xml", put("m:IncidentDate", "2026-11-25"))
    assert translate(tomorrow, late).incident_date == date(2026, 11, 25)
    after = edited("mvr-incident.xml", put("m:IncidentDate", "2026-11-26"))
    assert problems(after) == [("/m:IncidentReport/m:IncidentDate", "date")]


# -- every error, with its path and code --------------------------------------------------------


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ([put("m:Victim/m:Egn", "0443056097")], [(f"{V1}/m:Egn", "check-digit")]),
        ([put("m:Victim/m:Egn", "0443326099")], [(f"{V1}/m:Egn", "date")]),
        ([put("m:Victim/m:Egn", "044305609")], [(f"{V1}/m:Egn", "format")]),
        ([add("m:Victim", "Lnch", "1002003019")], [(f"{V1}/m:Lnch", "conflict")]),
        (
            [drop("m:Victim/m:Egn"), drop("m:Victim/m:BirthDate")],
            [(f"{V1}/m:BirthDate", "required")],
        ),
        (
            [drop("m:Victim/m:Egn"), add("m:Victim", "Lnch", "1002003018")],
            [(f"{V1}/m:Lnch", "check-digit")],
        ),
        (
            [drop("m:Victim/m:Egn"), put("m:Victim/m:BirthDate", "2021-07-22")],
            [(f"{V1}/m:BirthDate", "date")],
        ),
        ([put("m:Victim/m:BirthDate", "2004-02-30")], [(f"{V1}/m:BirthDate", "date")]),
        ([put("m:Victim/m:BirthDate", "05.03.2004")], [(f"{V1}/m:BirthDate", "format")]),
        ([put("m:SettingCode", "6")], [("/m:IncidentReport/m:SettingCode", "closed-list")]),
        (
            [put("m:Perpetrator/m:RelationCode", "0")],
            [("/m:IncidentReport/m:Perpetrator[1]/m:RelationCode", "closed-list")],
        ),
        ([put("m:Victim/m:InjuryCode", "5")], [(f"{V1}/m:InjuryCode", "closed-list")]),
        ([put("m:Victim/m:Sex", "F")], [(f"{V1}/m:Sex", "closed-list")]),
        ([put("m:Victim/m:Sex", "ж")], [(f"{V1}/m:Sex", "closed-list")]),
        ([put("m:ReportType", "new")], [("/m:IncidentReport/m:ReportType", "closed-list")]),
        ([put("m:ReportType", "DELETE")], [("/m:IncidentReport/m:ReportType", "closed-list")]),
        ([put("m:Ekatte", "6813")], [("/m:IncidentReport/m:Ekatte", "format")]),
        ([put("m:Ekatte", "68134a")], [("/m:IncidentReport/m:Ekatte", "format")]),
        (
            [put("m:Offence[2]/m:Article", "чл. 155")],
            [("/m:IncidentReport/m:Offence[2]/m:Article", "format")],
        ),
        (
            [put("m:Offence[1]/m:Article", "159b")],
            [("/m:IncidentReport/m:Offence[1]/m:Article", "format")],
        ),
        (
            [put("m:Offence[1]/m:Article", "1290")],
            [("/m:IncidentReport/m:Offence[1]/m:Article", "format")],
        ),
        (
            [put("m:Offence[1]/m:Attempt", "yes")],
            [("/m:IncidentReport/m:Offence[1]/m:Attempt", "format")],
        ),
        (
            [add("m:Offence[1]", "Paragraph", "1a")],
            [("/m:IncidentReport/m:Offence[1]/m:Paragraph", "format")],
        ),
        (
            [add("m:Perpetrator", "Minor", "no")],
            [("/m:IncidentReport/m:Perpetrator[1]/m:Minor", "format")],
        ),
        ([put("m:IncidentDate", "2021-13-01")], [("/m:IncidentReport/m:IncidentDate", "date")]),
        ([put("m:IncidentDate", "21.07.2021")], [("/m:IncidentReport/m:IncidentDate", "format")]),
        ([add(".", "IncidentTime", "25:00:00")], [("/m:IncidentReport/m:IncidentTime", "format")]),
        ([put("m:ReportId", "not-a-uuid")], [("/m:IncidentReport/m:ReportId", "format")]),
        (
            [put("m:RegistrationNumber", "З" * 41)],
            [("/m:IncidentReport/m:RegistrationNumber", "format")],
        ),
        ([add(".", "Ekatte", "68134")], [("/m:IncidentReport/m:Ekatte", "format")]),
        ([drop("m:Offence")], [("/m:IncidentReport/m:Offence[1]", "required")]),
        ([drop("m:Victim")], [("/m:IncidentReport/m:Victim[1]", "required")]),
        (
            [drop("m:Perpetrator/m:RelationCode")],
            [("/m:IncidentReport/m:Perpetrator[1]/m:RelationCode", "required")],
        ),
        (
            [drop("m:Offence[2]/m:Article")],
            [("/m:IncidentReport/m:Offence[2]/m:Article", "required")],
        ),
        ([drop("m:Victim/m:Sex")], [(f"{V1}/m:Sex", "required")]),
        ([drop("m:Victim/m:InjuryCode")], [(f"{V1}/m:InjuryCode", "required")]),
        ([put("m:Unit", " ")], [("/m:IncidentReport/m:Unit", "required")]),
    ],
)
def test_each_problem_is_located(
    edits: list[Callable[[etree._Element], None]], expected: list[tuple[str, str]]
) -> None:
    assert problems(edited("mvr-incident.xml", *edits)) == expected


@pytest.mark.parametrize(
    "element",
    [
        "ReportId",
        "RegistrationNumber",
        "ReportType",
        "Unit",
        "IncidentDate",
        "Ekatte",
        "SettingCode",
    ],
)
def test_each_required_element(element: str) -> None:
    document = edited("mvr-incident.xml", drop(f"m:{element}"))
    assert problems(document) == [(f"/m:IncidentReport/m:{element}", "required")]


def test_every_problem_is_listed_at_once_in_document_order() -> None:
    document = edited(
        "mvr-incident-update-two-victims.xml",
        put("m:ReportType", "REPLACE"),
        put("m:Ekatte", "681"),
        put("m:Offence[2]/m:Article", "296x"),
        put("m:Victim[1]/m:Egn", "0646271399"),
        drop("m:Victim[2]/m:BirthDate"),
        put("m:Victim[2]/m:InjuryCode", "9"),
        put("m:Perpetrator/m:RelationCode", "10"),
    )
    assert problems(document) == [
        ("/m:IncidentReport/m:ReportType", "closed-list"),
        ("/m:IncidentReport/m:Ekatte", "format"),
        ("/m:IncidentReport/m:Offence[2]/m:Article", "format"),
        ("/m:IncidentReport/m:Victim[1]/m:Egn", "check-digit"),
        ("/m:IncidentReport/m:Victim[2]/m:BirthDate", "required"),
        ("/m:IncidentReport/m:Victim[2]/m:InjuryCode", "closed-list"),
        ("/m:IncidentReport/m:Perpetrator[1]/m:RelationCode", "closed-list"),
    ]


def test_problem_messages_name_the_field_never_the_value() -> None:
    document = edited(
        "mvr-incident.xml",
        put("m:Victim/m:Egn", "0443056097"),
        put("m:Victim/m:Sex", "Q"),
        put("m:Offence[1]/m:Article", "чл. 999"),
    )
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    for problem in caught.value.problems:
        assert "0443056097" not in problem.message
        assert "999" not in problem.message
        assert "Q" not in problem.message.replace("МВР", "")
    messages = [p.message for p in caught.value.problems]
    assert any("Sex" in m and "М" in m and "Ж" in m for m in messages)


def test_warnings_point_at_their_victim() -> None:
    document = edited(
        "mvr-incident-update-two-victims.xml",
        put("m:Victim[1]/m:Sex", "М"),
        put("m:Victim[1]/m:BirthDate", "2006-06-28"),
    )
    record = translate(document)
    assert record.warnings == [
        DataWarning("birthdate-mismatch", f"{V1}/m:BirthDate", 0),
        DataWarning("sex-mismatch", f"{V1}/m:Sex", 0),
    ]
    # An ЛНЧ encodes nothing, so the second victim never disagrees.
    second = edited("mvr-incident-update-two-victims.xml", put("m:Victim[2]/m:Sex", "М"))
    assert translate(second).warnings == []


def test_another_body_element_is_refused() -> None:
    other = etree.Element(f"{{{NAMESPACE}}}GetReceiptStatus")
    assert problems(other) == [("/m:IncidentReport", "required")]


# -- the mapping files --------------------------------------------------------------------------

MVR_MAPS = [
    *sorted((mappings_dir() / "mvr").glob("*.json")),
    mappings_dir() / "shared" / "criminal-code.json",
]

# criminal-code.md, written out again so that a wrong mapping file cannot pass unnoticed.
TABLE: dict[str, tuple[set[str], str | None]] = {
    **{a: ({"physical"}, "fatal") for a in ("115", "116", "117", "118")},
    **{a: ({"physical"}, "injured") for a in ("128", "129", "130", "131")},
    **{a: ({"psychological"}, None) for a in ("143", "144", "144а", "296")},
    **{a: ({"sexual"}, None) for a in ("149", "150", "151", "152", "153")},
    **{a: ({"sexual", "exploitation"}, None) for a in ("155", "156", "159")},
    **{a: ({"sexual", "online"}, None) for a in ("155а", "155б")},
    **{a: ({"trafficking", "exploitation"}, None) for a in ("159а", "159б", "159в", "159г")},
    "182": ({"neglect"}, None),
}


@pytest.mark.parametrize("path", MVR_MAPS, ids=lambda p: p.name)
def test_mapping_files_are_r4_conceptmaps_of_the_one_version(path: Path) -> None:
    raw = orjson.loads(path.read_bytes())
    cm = ConceptMap.model_validate(raw)
    assert cm.version == "2026-1" == MAPPINGS.version
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    assert path.stem == cm.id
    targets = [g.target for g in cm.group]
    assert len(targets) == len(set(targets))


def test_the_criminal_code_table() -> None:
    assert MAPPINGS.codes("criminal-code") == set(TABLE)
    for written, (forms, outcome) in TABLE.items():
        assert set(MAPPINGS.translate("criminal-code", written, "violence-form") or ()) == forms
        completed = MAPPINGS.translate("criminal-code", written, "outcome", {"attempt": "false"})
        attempted = MAPPINGS.translate("criminal-code", written, "outcome", {"attempt": "true"})
        assert completed == ([outcome] if outcome else [])
        assert attempted == []
    assert MAPPINGS.translate("criminal-code", "194", "violence-form") is None


def test_the_closed_lists_are_exactly_the_contracts() -> None:
    assert MAPPINGS.codes("mvr-report-type") == {"NEW", "UPDATE", "CANCEL"}
    assert MAPPINGS.codes("mvr-setting-code") == {"1", "2", "3", "4", "5", "9"}
    assert MAPPINGS.codes("mvr-injury-code") == {"0", "1", "2", "3", "4"}
    assert MAPPINGS.codes("mvr-relation-code") == {str(n) for n in range(1, 10)}
    assert MAPPINGS.codes("mvr-sex") == {"\u041c", "\u0416", "M"}
