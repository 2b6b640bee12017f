"""The Prosecutor's Office adapter alone: prosecution.md and criminal-code.md, with the shipped
ConceptMaps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from fhir.resources.R4B.conceptmap import ConceptMap
from lxml import etree

from adapters.criminal_code import article
from adapters.prosecution import ProsecutionAdapter
from adapters.prosecution.reading import NAMESPACE
from gateway.adapter import Adapter, TranslateContext
from gateway.codes import CANONICAL_BASE, source_system
from gateway.errors import ContractViolation
from gateway.facts import DataWarning, Place, SourceCode, SourceRecord
from gateway.identity import Keyring, LinkageKey
from gateway.mappings import Mappings
from gateway.resources import mappings_dir
from gateway.transports.xml import parse_xml

ROOT_DIR = Path(__file__).resolve().parents[2]
SAMPLES = ROOT_DIR / "adapters" / "prosecution" / "samples"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.xml"))
MAPPINGS = Mappings.load(mappings_dir())
KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
RECEIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ADAPTER = ProsecutionAdapter()
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = {"p": NAMESPACE}
R = "/p:ProceedingNotification"
V1, V2 = f"{R}/p:Victim[1]", f"{R}/p:Victim[2]"
SHARED = "prosecution-proceeding.xml"


def body(raw: bytes) -> etree._Element:
    found = parse_xml(raw).find(f"{{{SOAP12}}}Body")
    assert found is not None
    return found[0]


def sample(name: str = SHARED) -> etree._Element:
    return body((SAMPLES / name).read_bytes())


def translate(document: etree._Element, received: datetime = RECEIVED) -> SourceRecord:
    return ADAPTER.translate(document, TranslateContext(KEYS, MAPPINGS, received))


def problems(document: etree._Element) -> list[tuple[str, str]]:
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    return [(p.path, p.code) for p in caught.value.problems]


Edit = Callable[[etree._Element], None]


def edited(name: str, *edits: Edit) -> etree._Element:
    document = sample(name)
    for edit in edits:
        edit(document)
    return document


def put(xpath: str, text: str) -> Edit:
    """Set the text of the element at `xpath` (relative to p:ProceedingNotification)."""

    def edit(document: etree._Element) -> None:
        (node,) = document.xpath(xpath, namespaces=NS)
        node.text = text

    return edit


def drop(xpath: str) -> Edit:
    def edit(document: etree._Element) -> None:
        for node in document.xpath(xpath, namespaces=NS):
            node.getparent().remove(node)

    return edit


def add(parent: str, name: str, text: str, **attributes: str) -> Edit:
    def edit(document: etree._Element) -> None:
        (node,) = document.xpath(parent, namespaces=NS) if parent != "." else (document,)
        etree.SubElement(node, f"{{{NAMESPACE}}}{name}", attributes).text = text

    return edit


def set_kind(xpath: str, kind: str | None) -> Edit:
    def edit(document: etree._Element) -> None:
        (node,) = document.xpath(xpath, namespaces=NS)
        if kind is None:
            del node.attrib["kind"]
        else:
            node.set("kind", kind)

    return edit


def code(field: str, value: str) -> SourceCode:
    return SourceCode(source_system("prosecution", field), value)


def homicide(
    *deceased: str | None, articles: tuple[tuple[str, str], ...] = (("115", "false"),)
) -> etree._Element:
    """The shared sample with `articles` (article, attempt) and one victim per `deceased` value
    (None: no Deceased element); every victim by birth date only."""
    document = edited(SHARED, drop("p:Qualification"), drop("p:Victim"))
    anchor = document.find(f"{{{NAMESPACE}}}AccusedRelation")
    assert anchor is not None
    for written, attempt in articles:
        q = etree.Element(f"{{{NAMESPACE}}}Qualification")
        etree.SubElement(q, f"{{{NAMESPACE}}}Article").text = written
        etree.SubElement(q, f"{{{NAMESPACE}}}Attempt").text = attempt
        anchor.addprevious(q)
    for i, value in enumerate(deceased):
        v = etree.Element(f"{{{NAMESPACE}}}Victim")
        etree.SubElement(v, f"{{{NAMESPACE}}}BirthDate").text = f"201{i}-01-01"
        etree.SubElement(v, f"{{{NAMESPACE}}}Gender").text = "1"
        if value is not None:
            etree.SubElement(v, f"{{{NAMESPACE}}}Deceased").text = value
        anchor.addprevious(v)
    return document


# -- the adapter's surface ----------------------------------------------------------------------


def test_adapter_satisfies_the_protocol_and_names_its_transport() -> None:
    assert isinstance(ADAPTER, Adapter)
    spec = ADAPTER.transport
    assert (ADAPTER.slug, ADAPTER.child_key) == ("prosecution", "person")
    assert (spec.kind, spec.path, spec.media_types) == (
        "soap12",
        "/soap/prosecution",
        ("application/soap+xml",),
    )
    assert spec.max_bytes == 5 * 1024 * 1024
    assert (spec.namespace, spec.submit_element, spec.submit_operation) == (
        "urn:bg:prb:pretrial:v2",
        "ProceedingNotification",
        "NotifyProceeding",
    )
    assert spec.wsdl is not None and spec.wsdl.is_file()
    assert spec.xsd is not None and spec.xsd.is_file()
    assert (ADAPTER.policy.duplicates, ADAPTER.policy.older_version) == ("message-id", "stale")


def test_message_id_is_read_before_anything_else_and_canonical() -> None:
    assert ADAPTER.message_id(sample()) == "66b47a0a-3f39-4f56-8f9a-d3f9d4a70a1d"
    upper = sample("prosecution-unknown-elements.xml")
    assert ADAPTER.message_id(upper) == "d41f7a2c-93b8-4e65-8f0a-6c2e1b9d7f53"
    broken = edited(SHARED, put("p:Victim/p:PersonalNumber", "x"), put("p:Event", "?"))
    assert ADAPTER.message_id(broken) == "66b47a0a-3f39-4f56-8f9a-d3f9d4a70a1d"
    assert ADAPTER.message_id(edited(SHARED, put("p:NotificationId", "42"))) is None
    assert ADAPTER.message_id(edited(SHARED, drop("p:NotificationId"))) is None
    twice = edited(SHARED, add(".", "NotificationId", "66b47a0a-3f39-4f56-8f9a-d3f9d4a70a1d"))
    assert ADAPTER.message_id(twice) is None


# -- the samples ------------------------------------------------------------------------------


def test_the_shared_sample_is_shipped_unchanged() -> None:
    shared = ROOT_DIR.parent / "shared" / "institutions" / "samples" / SHARED
    if shared.exists():
        assert (SAMPLES / SHARED).read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_no_name_or_personal_number_survives_translation(name: str) -> None:
    record = translate(sample(name))
    listed = (SAMPLES / "personal-data.txt").read_text("utf-8").splitlines()
    text = repr(record)
    assert not [value for value in listed if value and value in text]


def test_the_shared_sample() -> None:
    record = translate(sample())
    assert record.message_id == "66b47a0a-3f39-4f56-8f9a-d3f9d4a70a1d"
    assert record.record_key == "ДП 437/2021 РП-Пловдив"
    assert (record.source_event, record.source_event_path) == ("first", f"{R}/p:Event")
    assert (record.event_date, record.event_date_path) == (date(2021, 5, 8), f"{R}/p:EventDate")
    assert record.incident_date == date(2021, 5, 5)
    assert record.in_scope and record.forms == {"physical"}
    # An attempted homicide gives its form but no outcome.
    assert record.attempted is True and record.implied_outcomes == frozenset()
    assert record.relationships == {"parent"} and record.explicit_setting is None
    assert record.case_stage == "criminal-proceedings"
    assert record.place == Place("incident", ekatte="56784")
    assert record.references == {} and record.warnings == [] and record.version is None
    assert record.source_codes == (
        code("Event", "ОБРАЗУВАНО"),
        code("Article", "116"),
        code("AccusedRelation", "РОДИТЕЛ"),
    )
    (child,) = record.children
    assert (child.path, child.sex, child.birth_date) == (V1, "female", "2013-05-04")
    assert [p.key_id for p in child.pseudonyms] == ["k1"] and child.internal_id
    assert (child.stated_outcome, child.stated_outcome_path) == (None, None)
    assert child.pseudonyms == KEYS.pseudonyms("EGN", "1345049638")


# name -> (source event, forms, attempted, implied outcomes, children (sex, birth date, stated),
#          relationships, case stage, ekatte, references, warnings)
EXPECTED: dict[str, tuple[object, ...]] = {
    "prosecution-adult-and-child.xml": (
        "later", {"psychological"}, False, set(),
        [("male", "1985-02-11", None), ("male", "2011-04-19", None)],
        {"parent"}, "closed", None, {},
        [("birthdate-mismatch", f"{V2}/p:BirthDate"), ("sex-mismatch", f"{V2}/p:Gender")],
    ),
    "prosecution-homicide-conflict.xml": (
        "first", {"physical"}, False, set(), [("male", "2012-06-03", None)],
        {"unknown"}, "criminal-proceedings", "63427", {},
        [("outcome-conflict", f"{R}/p:Qualification[1]/p:Article")],
    ),
    "prosecution-homicide-deceased.xml": (
        "later", {"physical"}, False, {"injured"},
        [("male", "2014-01-22", "fatal"), ("female", "2009-11-30", None)],
        {"intimate-partner", "stranger"}, "criminal-proceedings", "07079", {}, [],
    ),
    "prosecution-homicide-one-victim.xml": (
        "first", {"physical"}, False, {"fatal"}, [("male", "2015-07-04", None)],
        {"other-relative"}, "criminal-proceedings", "10135", {}, [],
    ),
    "prosecution-indictment-two-victims.xml": (
        "later", {"physical", "psychological"}, False, {"injured"},
        [("female", "2010-09-14", None), ("unknown", "2012-02-29", None)],
        {"step-parent", "acquaintance"}, "indicted", "68134", {"mvr": "ЗМ-884/2025 02 РУ-СДВР"}, [],
    ),
    "prosecution-online-latin-article.xml": (
        "later", {"sexual", "online", "trafficking", "exploitation"}, False, set(),
        [("female", "2011-12-01", None)],
        {"caregiver-professional", "peer"}, "criminal-proceedings", None, {}, [],
    ),
    "prosecution-out-of-scope.xml": (
        "first", set(), False, set(), [("female", "2013-08-08", None)],
        {"peer"}, "criminal-proceedings", "10135", {}, [],
    ),
    SHARED: (
        "first", {"physical"}, True, set(), [("female", "2013-05-04", None)],
        {"parent"}, "criminal-proceedings", "56784", {}, [],
    ),
    "prosecution-unknown-elements.xml": (
        "later", {"neglect"}, False, set(), [("female", "2013-08-08", None)],
        {"parent", "unknown"}, "convicted", None, {},
        [("birthdate-mismatch", f"{V1}/p:BirthDate"), ("sex-mismatch", f"{V1}/p:Gender")],
    ),
    "prosecution-windows-1251.xml": (
        "later", {"sexual"}, False, set(), [("male", "2012-06-03", None)],
        {"caregiver-professional"}, "closed", "56722", {}, [],
    ),
    "prosecution-withdrawal.xml": (
        "withdraw", {"physical"}, False, {"injured"}, [("female", "2010-09-14", None)],
        set(), None, None, {}, [],
    ),
}  # fmt: skip


def test_every_sample_is_described() -> None:
    assert set(EXPECTED) == set(SAMPLE_FILES)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_translates_as_expected(name: str) -> None:
    record = translate(sample(name))
    event, forms, attempted, outcomes, children, rels, stage, ekatte, refs, warnings = EXPECTED[
        name
    ]
    assert record.source_event == event
    assert record.forms == forms and record.attempted is attempted
    assert record.implied_outcomes == outcomes
    assert [(c.sex, c.birth_date, c.stated_outcome) for c in record.children] == children
    assert record.relationships == rels and record.case_stage == stage
    assert record.place == (Place("incident", ekatte=str(ekatte)) if ekatte else None)
    assert record.references == refs
    assert [(w.code, w.path) for w in record.warnings] == warnings
    assert record.in_scope is (name != "prosecution-out-of-scope.xml")
    assert record.event_date is not None and record.event_date_path == f"{R}/p:EventDate"


def test_the_published_xsd_accepts_every_sample_in_the_published_order() -> None:
    spec = ADAPTER.transport
    assert spec.xsd is not None
    schema = etree.XMLSchema(etree.parse(str(spec.xsd)))
    for name in SAMPLE_FILES:
        if name != "prosecution-unknown-elements.xml":
            assert schema.validate(sample(name)), (name, schema.error_log.last_error)


def test_unknown_elements_other_order_and_another_prefix() -> None:
    record = translate(sample("prosecution-unknown-elements.xml"))
    assert record.record_key == "ДП 18/2026 РП-Бургас"
    assert record.incident_date == date(2026, 2, 14)  # the offset does not move the date
    assert record.source_codes == (
        code("Event", "ОСЪДИТЕЛНА_ПРИСЪДА"),
        code("Article", "182"),
        code("AccusedRelation", "РОДИТЕЛ"),
        code("AccusedRelation", "НЕУСТАНОВЕН"),
    )
    # The ЕГН wins over the birth date and gender given beside it.
    assert record.children[0].pseudonyms == KEYS.pseudonyms("EGN", "1348089151")


def test_lnch_children_are_pseudonymised_as_lnch() -> None:
    record = translate(sample("prosecution-indictment-two-victims.xml"))
    assert record.children[1].pseudonyms == KEYS.pseudonyms("LNCH", "1002003008")
    assert record.children[0].pseudonyms == KEYS.pseudonyms("EGN", "1049144313")
    assert code("Article", "129") in record.source_codes


# -- fields, one rule at a time ---------------------------------------------------------------

EVENTS = {
    "ОБРАЗУВАНО": ("first", "criminal-proceedings"),
    "СПРЯНО": ("later", "criminal-proceedings"),
    "ОБВИНИТЕЛЕН_АКТ": ("later", "indicted"),
    "ОСЪДИТЕЛНА_ПРИСЪДА": ("later", "convicted"),
    "ОПРАВДАТЕЛНА_ПРИСЪДА": ("later", "closed"),
    "ПРЕКРАТЕНО": ("later", "closed"),
    "ОТМЕНЕНО": ("withdraw", None),
}


@pytest.mark.parametrize("event", EVENTS)
def test_events(event: str) -> None:
    record = translate(edited(SHARED, put("p:Event", f" {event} ")))
    assert (record.source_event, record.case_stage) == EVENTS[event]
    assert code("Event", event) in record.source_codes


RELATIONS = {
    "РОДИТЕЛ": "parent",
    "ДОПЪЛНИТЕЛЕН_РОДИТЕЛ": "step-parent",
    "ДРУГ_РОДНИНА": "other-relative",
    "ИНТИМЕН_ПАРТНЬОР": "intimate-partner",
    "ВРЪСТНИК": "peer",
    "ДЛЪЖНОСТНО_ЛИЦЕ": "caregiver-professional",
    "ПОЗНАТ": "acquaintance",
    "НЕПОЗНАТ": "stranger",
    "НЕУСТАНОВЕН": "unknown",
}


@pytest.mark.parametrize("relation", RELATIONS)
def test_accused_relations(relation: str) -> None:
    record = translate(edited(SHARED, put("p:AccusedRelation", relation)))
    assert record.relationships == {RELATIONS[relation]}


def test_no_accused_relation_gives_no_candidate_and_each_counts_once() -> None:
    assert translate(edited(SHARED, drop("p:AccusedRelation"))).relationships == frozenset()
    twice = translate(edited(SHARED, add(".", "AccusedRelation", "РОДИТЕЛ")))
    assert twice.relationships == {"parent"}
    assert twice.source_codes.count(code("AccusedRelation", "РОДИТЕЛ")) == 1


@pytest.mark.parametrize(("gender", "sex"), [("1", "male"), ("2", "female"), ("0", "unknown")])
def test_gender(gender: str, sex: str) -> None:
    document = edited(
        SHARED,
        drop("p:Victim/p:PersonalNumber"),
        add("p:Victim", "BirthDate", "2013-05-04"),
        put("p:Victim/p:Gender", gender),
    )
    assert translate(document).children[0].sex == sex


def test_gender_not_recorded_never_disagrees_with_the_egn() -> None:
    record = translate(edited(SHARED, put("p:Victim/p:Gender", "0")))
    assert record.children[0].sex == "female" and record.warnings == []


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("155а", "155а"), (" 155a ", "155а"), ("155A", "155а"), ("159Б", "159б"), ("296", "296")],
)
def test_article_normalisation(written: str, normalised: str) -> None:
    assert article(written) == normalised


# deceased values (one per victim), articles (article, attempt) ->
#   (implied outcomes, stated outcomes, outcome-conflict raised)
OUTCOMES: dict[
    str,
    tuple[tuple[str | None, ...], tuple[tuple[str, str], ...], set[str], list[str | None], bool],
] = {
    "one victim, Deceased absent": ((None,), (("115", "false"),), {"fatal"}, [None], False),
    "one victim, Deceased true": (("true",), (("115", "false"),), {"fatal"}, ["fatal"], False),
    "one victim, Deceased false": (("false",), (("115", "0"),), set(), [None], True),
    "two victims, none deceased": ((None, None), (("116", "false"),), set(), [None, None], True),
    "two victims, one deceased": ((None, "1"), (("117", "false"),), set(), [None, "fatal"], False),
    "homicide beside an injury": (
        (None, "false"),
        (("118", "false"), ("128", "false")),
        {"injured"},
        [None, None],
        True,
    ),
    "attempted homicide": (("false",), (("115", "true"),), set(), [None], False),
    "injury, deceased": (("true",), (("129", "false"),), {"injured"}, ["fatal"], False),
    "attempted homicide beside a completed one": (
        (None,),
        (("115", "true"), ("116", "false")),
        {"fatal"},
        [None],
        False,
    ),
    "no homicide, Deceased false": (("false",), (("130", "false"),), {"injured"}, [None], False),
}


@pytest.mark.parametrize("case", OUTCOMES)
def test_outcome_rules_of_the_criminal_code_table(case: str) -> None:
    deceased, articles, implied, stated, conflict = OUTCOMES[case]
    record = translate(homicide(*deceased, articles=articles))
    assert record.implied_outcomes == implied
    assert [c.stated_outcome for c in record.children] == stated
    warnings = [(w.code, w.path, w.child) for w in record.warnings]
    if not conflict:
        assert warnings == []
        return
    at = next(i for i, (a, _) in enumerate(articles, 1) if a in ("115", "116", "117", "118"))
    assert warnings == [("outcome-conflict", f"{R}/p:Qualification[{at}]/p:Article", None)]


def test_a_deceased_victim_states_fatal_at_its_deceased_element() -> None:
    record = translate(homicide(None, "true"))
    child = record.children[1]
    assert (child.stated_outcome, child.stated_outcome_path) == ("fatal", f"{V2}/p:Deceased")


def test_an_adult_victim_counts_among_the_victims_of_the_proceeding() -> None:
    record = translate(sample("prosecution-adult-and-child.xml"))
    adult = edited(
        "prosecution-adult-and-child.xml",
        put("p:Qualification[1]/p:Article", "115"),
    )
    assert len(record.children) == 2
    dropped = translate(adult)
    assert dropped.implied_outcomes == frozenset()
    assert ("outcome-conflict", f"{R}/p:Qualification[1]/p:Article") in [
        (w.code, w.path) for w in dropped.warnings
    ]


@pytest.mark.parametrize(
    ("attempts", "attempted"),
    [(("true", "true"), True), (("1", "0"), False), (("false", "false"), False)],
)
def test_attempted_only_when_every_in_table_qualification_is(
    attempts: tuple[str, str], attempted: bool
) -> None:
    record = translate(homicide(None, articles=(("128", attempts[0]), ("143", attempts[1]))))
    assert record.attempted is attempted


def test_attempt_defaults_to_false_and_foreign_articles_do_not_count() -> None:
    document = edited(
        SHARED,
        drop("p:Qualification/p:Attempt"),
        drop("p:Victim/p:Deceased"),
        add(".", "Qualification", ""),
    )
    (extra,) = document.xpath("p:Qualification[2]", namespaces=NS)
    etree.SubElement(extra, f"{{{NAMESPACE}}}Article").text = "194"
    etree.SubElement(extra, f"{{{NAMESPACE}}}Attempt").text = "true"
    record = translate(document)
    assert record.attempted is False and record.implied_outcomes == {"fatal"}
    assert code("Article", "194") in record.source_codes


def test_ekatte_and_police_ref_are_optional() -> None:
    record = translate(edited(SHARED, drop("p:Ekatte"), add(".", "PoliceRef", " ЗМ-12/2021 ")))
    assert record.place is None and record.references == {"mvr": "ЗМ-12/2021"}


def test_empty_optional_elements_count_as_absent() -> None:
    document = edited(
        SHARED,
        put("p:Ekatte", " "),
        add(".", "PoliceRef", ""),
        put("p:Qualification/p:Attempt", ""),
    )
    record = translate(document)
    assert record.place is None and record.references == {} and record.attempted is False


def test_names_are_never_read() -> None:
    document = edited(SHARED)
    (name,) = document.xpath("p:Victim/p:Name", namespaces=NS)
    etree.SubElement(name, f"{{{NAMESPACE}}}First").text = "Виктория"
    assert translate(document).children[0].birth_date == "2013-05-04"


def test_offence_date_may_be_the_next_day_of_receipt_but_not_later() -> None:
    assert translate(
        edited(
            SHARED,
            put("p:OffenceDate", "2026-11-25"),
            put("p:Victim/p:PersonalNumber", "1049144313"),
        )
    )
    later = edited(SHARED, put("p:OffenceDate", "2026-11-26"))
    assert problems(later) == [(f"{R}/p:OffenceDate", "date")]


def test_event_date_is_not_checked_against_the_receipt() -> None:
    record = translate(edited(SHARED, put("p:EventDate", "2027-01-01")))
    assert record.event_date == date(2027, 1, 1)


def test_a_birth_date_is_required_for_an_lnch_and_kept_beside_an_egn() -> None:
    lnch = edited(SHARED, put("p:Victim/p:PersonalNumber", "1002003008"))
    set_kind("p:Victim/p:PersonalNumber", "LNCH")(lnch)
    assert problems(lnch) == [(f"{V1}/p:BirthDate", "required")]
    add_birth = add("p:Victim", "BirthDate", "2012-02-29")
    add_birth(lnch)
    assert translate(lnch).children[0].birth_date == "2012-02-29"


# -- problems: every one with its path and code -------------------------------------------------

PROBLEMS: dict[str, tuple[list[Edit], list[tuple[str, str]]]] = {
    "id not a uuid": ([put("p:NotificationId", "ДП-1")], [(f"{R}/p:NotificationId", "format")]),
    "event unknown": ([put("p:Event", "ЗАВЕДЕНО")], [(f"{R}/p:Event", "closed-list")]),
    "event lower case": ([put("p:Event", "образувано")], [(f"{R}/p:Event", "closed-list")]),
    "event twice": ([add(".", "Event", "СПРЯНО")], [(f"{R}/p:Event", "format")]),
    "event date format": ([put("p:EventDate", "08.05.2021")], [(f"{R}/p:EventDate", "format")]),
    "event date with a time": (
        [put("p:EventDate", "2021-05-08T10:00:00")],
        [(f"{R}/p:EventDate", "format")],
    ),
    "event date impossible": ([put("p:EventDate", "2021-02-30")], [(f"{R}/p:EventDate", "date")]),
    "offence date format": (
        [put("p:OffenceDate", "2021/05/05")],
        [(f"{R}/p:OffenceDate", "format")],
    ),
    "ekatte": ([put("p:Ekatte", "5678")], [(f"{R}/p:Ekatte", "format")]),
    "ekatte letters": ([put("p:Ekatte", "5678a")], [(f"{R}/p:Ekatte", "format")]),
    "article written out": (
        [put("p:Qualification/p:Article", "чл. 116")],
        [(f"{R}/p:Qualification[1]/p:Article", "format")],
    ),
    "article latin b": (
        [put("p:Qualification/p:Article", "159b")],
        [(f"{R}/p:Qualification[1]/p:Article", "format")],
    ),
    "paragraph": (
        [add("p:Qualification", "Paragraph", "2а")],
        [(f"{R}/p:Qualification[1]/p:Paragraph", "format")],
    ),
    "attempt": (
        [put("p:Qualification/p:Attempt", "да")],
        [(f"{R}/p:Qualification[1]/p:Attempt", "format")],
    ),
    "no qualification": ([drop("p:Qualification")], [(f"{R}/p:Qualification[1]", "required")]),
    "no victim": ([drop("p:Victim")], [(f"{R}/p:Victim[1]", "required")]),
    "kind missing": (
        [set_kind("p:Victim/p:PersonalNumber", None)],
        [(f"{V1}/p:PersonalNumber/@kind", "required")],
    ),
    "kind unknown": (
        [set_kind("p:Victim/p:PersonalNumber", "PIN")],
        [(f"{V1}/p:PersonalNumber/@kind", "closed-list")],
    ),
    "kind lower case": (
        [set_kind("p:Victim/p:PersonalNumber", "egn")],
        [(f"{V1}/p:PersonalNumber/@kind", "closed-list")],
    ),
    "egn check digit": (
        [put("p:Victim/p:PersonalNumber", "1345049639")],
        [(f"{V1}/p:PersonalNumber", "check-digit")],
    ),
    "egn impossible date": (
        [put("p:Victim/p:PersonalNumber", "1353049636")],
        [(f"{V1}/p:PersonalNumber", "date")],
    ),
    "egn nine digits": (
        [put("p:Victim/p:PersonalNumber", "134504963")],
        [(f"{V1}/p:PersonalNumber", "format")],
    ),
    "an lnch validated as an egn": (
        [put("p:Victim/p:PersonalNumber", "2007142853")],
        [(f"{V1}/p:PersonalNumber", "check-digit")],
    ),
    "an egn validated as an lnch": (
        [set_kind("p:Victim/p:PersonalNumber", "LNCH"), add("p:Victim", "BirthDate", "2013-05-04")],
        [(f"{V1}/p:PersonalNumber", "check-digit")],
    ),
    "no number, no birth date": (
        [drop("p:Victim/p:PersonalNumber")],
        [(f"{V1}/p:BirthDate", "required")],
    ),
    "birth date format": (
        [add("p:Victim", "BirthDate", "4.5.2013")],
        [(f"{V1}/p:BirthDate", "format")],
    ),
    "born after the offence": (
        [drop("p:Victim/p:PersonalNumber"), add("p:Victim", "BirthDate", "2021-05-06")],
        [(f"{V1}/p:BirthDate", "date")],
    ),
    "egn born after the offence": (
        [put("p:OffenceDate", "2013-05-03")],
        [(f"{V1}/p:PersonalNumber", "date")],
    ),
    "gender unknown": ([put("p:Victim/p:Gender", "Ж")], [(f"{V1}/p:Gender", "closed-list")]),
    "gender missing": ([drop("p:Victim/p:Gender")], [(f"{V1}/p:Gender", "required")]),
    "deceased": ([put("p:Victim/p:Deceased", "yes")], [(f"{V1}/p:Deceased", "format")]),
    "relation unknown": (
        [add(".", "AccusedRelation", "СЪСЕД")],
        [(f"{R}/p:AccusedRelation[2]", "closed-list")],
    ),
    "relation empty": (
        [put("p:AccusedRelation", " ")],
        [(f"{R}/p:AccusedRelation[1]", "required")],
    ),
    "element with elements": (
        [add("p:Victim/p:Gender", "Code", "2")],
        [(f"{V1}/p:Gender", "format")],
    ),
}


@pytest.mark.parametrize("case", PROBLEMS)
def test_each_problem_is_located(case: str) -> None:
    edits, expected = PROBLEMS[case]
    assert problems(edited(SHARED, *edits)) == expected


@pytest.mark.parametrize(
    "element",
    [
        "NotificationId",
        "ProceedingNumber",
        "ProsecutionOffice",
        "Event",
        "EventDate",
        "OffenceDate",
    ],
)
def test_each_required_element(element: str) -> None:
    assert problems(edited(SHARED, drop(f"p:{element}"))) == [(f"{R}/p:{element}", "required")]
    assert problems(edited(SHARED, put(f"p:{element}", "  "))) == [(f"{R}/p:{element}", "required")]


def test_a_qualification_needs_an_article() -> None:
    document = edited(SHARED, drop("p:Qualification/p:Article"))
    assert problems(document) == [(f"{R}/p:Qualification[1]/p:Article", "required")]


def test_every_problem_is_listed_at_once_in_document_order() -> None:
    document = edited(
        "prosecution-indictment-two-victims.xml",
        put("p:NotificationId", "x"),
        put("p:Event", "?"),
        put("p:Ekatte", "1"),
        put("p:Qualification[2]/p:Article", "чл"),
        put("p:Victim[1]/p:PersonalNumber", "1049144314"),
        put("p:Victim[1]/p:Gender", "9"),
        set_kind("p:Victim[2]/p:PersonalNumber", "ЛНЧ"),
        put("p:AccusedRelation[2]", "?"),
    )
    assert problems(document) == [
        (f"{R}/p:NotificationId", "format"),
        (f"{R}/p:Event", "closed-list"),
        (f"{R}/p:Ekatte", "format"),
        (f"{R}/p:Qualification[2]/p:Article", "format"),
        (f"{V1}/p:PersonalNumber", "check-digit"),
        (f"{V1}/p:Gender", "closed-list"),
        (f"{V2}/p:PersonalNumber/@kind", "closed-list"),
        (f"{R}/p:AccusedRelation[2]", "closed-list"),
    ]


def test_problem_messages_name_the_field_never_the_value() -> None:
    document = edited(
        SHARED,
        put("p:Victim/p:PersonalNumber", "1345049639"),
        put("p:Victim/p:Name", "Виктория Иванова"),
        put("p:Event", "ЗАВЕДЕНО"),
    )
    with pytest.raises(ContractViolation) as caught:
        translate(document)
    text = " ".join(p.message for p in caught.value.problems)
    assert "1345049639" not in text and "Виктория" not in text and "ЗАВЕДЕНО" not in text
    assert "Event" in text and "ОБРАЗУВАНО" in text  # the list is named, with its values


def test_another_body_element_is_refused() -> None:
    other = etree.Element(f"{{{NAMESPACE}}}GetReceiptStatus")
    assert problems(other) == [(R, "required")]


def test_warnings_point_at_their_victim() -> None:
    record = translate(sample("prosecution-adult-and-child.xml"))
    assert record.warnings == [
        DataWarning("birthdate-mismatch", f"{V2}/p:BirthDate", 1),
        DataWarning("sex-mismatch", f"{V2}/p:Gender", 1),
    ]


# -- the mapping files --------------------------------------------------------------------------

MAPS = sorted((ROOT_DIR / "mappings" / "prosecution").glob("*.json"))


def test_the_mapping_files_are_the_four_tables() -> None:
    assert [p.stem for p in MAPS] == [
        "prosecution-accused-relation",
        "prosecution-event",
        "prosecution-gender",
        "prosecution-personal-number-kind",
    ]


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.name)
def test_mapping_files_are_r4_conceptmaps_of_the_one_version(path: Path) -> None:
    raw = orjson.loads(path.read_bytes())
    cm = ConceptMap.model_validate(raw)
    assert cm.version == "2026-1" == MAPPINGS.version
    assert cm.url == f"{CANONICAL_BASE}/ConceptMap/{cm.id}"
    assert path.stem == cm.id
    assert [g.source for g in cm.group] == [
        source_system("prosecution", g.source.rsplit("/", 1)[1]) for g in cm.group if g.source
    ]


def test_the_closed_lists_are_exactly_the_contracts_and_the_xsd() -> None:
    assert MAPPINGS.codes("prosecution-event") == set(EVENTS)
    assert MAPPINGS.codes("prosecution-accused-relation") == set(RELATIONS)
    assert MAPPINGS.codes("prosecution-gender") == {"0", "1", "2"}
    assert MAPPINGS.codes("prosecution-personal-number-kind") == {"EGN", "LNCH"}
    assert MAPPINGS.translate("prosecution-event", "ОТМЕНЕНО", "case-stage") == []
    spec = ADAPTER.transport
    assert spec.xsd is not None
    xsd = etree.parse(str(spec.xsd))
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}

    def enumeration(name: str) -> set[str]:
        found = xsd.xpath(f"//xs:simpleType[@name='{name}']//xs:enumeration/@value", namespaces=xs)
        assert isinstance(found, list)
        return {str(v) for v in found}

    assert enumeration("Event") == set(EVENTS)
    assert enumeration("AccusedRelation") == set(RELATIONS)
    assert enumeration("Gender") == {"0", "1", "2"}
    assert enumeration("PersonalNumberKind") == {"EGN", "LNCH"}
