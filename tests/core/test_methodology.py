"""The register's rules (README §6–§7), on hand-made cases."""

import uuid
from datetime import date

import pytest

from gateway import methodology as m
from gateway.facts import Child


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2004, 2, 29), date(2022, 2, 28), 18),  # common year: a year older on 28 February
        (date(2004, 2, 29), date(2022, 2, 27), 17),
        (date(2004, 2, 29), date(2024, 2, 28), 19),  # leap year: on the 29th
        (date(2004, 2, 29), date(2024, 2, 29), 20),
        (date(2005, 7, 21), date(2023, 7, 20), 17),
        (date(2005, 7, 21), date(2023, 7, 21), 18),
    ],
)
def test_age_in_completed_years(birth: date, day: date, age: int) -> None:
    assert m.age_on(birth, day) == age


def test_who_is_a_child() -> None:
    day = date(2021, 7, 21)
    assert m.is_child(Child("/v", "female", birth_date="2004-03-05"), day)
    assert not m.is_child(Child("/v", "female", birth_date="2003-07-21"), day)
    assert m.is_child(Child("/v", "female", birth_date="2003-07-22"), day)
    # a partial date is a child when it can be one
    assert m.is_child(Child("/v", "male", birth_date="2003"), day)
    assert not m.is_child(Child("/v", "male", birth_date="2002"), day)
    assert m.is_child(Child("/v", "male", birth_date="2003-07"), day)
    assert not m.is_child(Child("/v", "male", age=18), day)
    assert m.is_child(Child("/v", "male", age=17), day)
    assert m.is_child(Child("/v", "unknown"), day)


def test_forms_in_table_order_and_unspecified_alone() -> None:
    assert m.forms({"online", "sexual"}) == ("sexual", "online")
    assert m.forms(set()) == ("unspecified",)
    assert m.forms({"unspecified", "neglect"}) == ("neglect",)
    assert m.forms({"trafficking"}) == ("exploitation", "trafficking")


def test_outcome_precedence() -> None:
    assert m.outcome(None, {"injured", "fatal"}) == ("fatal", False)
    assert m.outcome(None, set()) == ("unknown", False)
    assert m.outcome("injured", {"fatal"}) == ("injured", True)  # МВР rule 4
    assert m.outcome("fatal", {"injured"}) == ("fatal", False)
    assert m.outcome("not-injured", {"injured"}) == ("not-injured", False)


def test_relationships_unknown_only_alone() -> None:
    assert m.relationships(set()) == ("unknown",)
    assert m.relationships({"unknown", "peer", "parent"}) == ("parent", "peer")


@pytest.mark.parametrize(
    ("explicit", "implied", "rels", "expected"),
    [
        ("school", {"online"}, ("parent",), ("school", False)),
        ("unknown", {"online"}, (), ("online", False)),  # explicit unknown falls through
        (None, {"online", "family"}, (), ("unknown", True)),
        (None, set(), ("step-parent",), ("family", False)),
        (None, set(), ("peer",), ("unknown", False)),
        ("unknown", set(), ("other-relative",), ("family", False)),
    ],
)
def test_setting_precedence(
    explicit: str | None, implied: set[str], rels: tuple[str, ...], expected: tuple[str, bool]
) -> None:
    assert m.setting(explicit, implied, rels) == expected


def test_child_keys_with_collisions() -> None:
    a = Child("/v[1]", "female", internal_id="abc")
    b = Child("/v[2]", "male", birth_date="2010-01-01")
    c = Child("/v[3]", "male", birth_date="2010-01-01")
    keys = m.child_keys([a, b, c], "person")
    assert keys == ["id:abc", "bs:2010-01-01:male", "bs:2010-01-01:male#2"]
    assert m.child_keys([a], "record") == ["record"]


def test_ids_are_deterministic() -> None:
    assert m.notification_id("mvr", "r1", "k") == m.notification_id("mvr", "r1", "k")
    assert m.notification_id("mvr", "r1", "k") != m.notification_id("mvr", "r2", "k")
    assert m.case_key("mvr", "ЗМ-1", "k") != m.case_key("ozd", "ЗМ-1", "k")
    expected = uuid.uuid5(m.NAMESPACE, "notification|mvr|r1|k")
    assert m.notification_id("mvr", "r1", "k") == str(expected)


@pytest.mark.parametrize("name", ["", "case|mvr|ЗМ-1/2021|id:abc", "x" * 300, "ДП 8/2021 РП-Варна"])
def test_name_uuid_is_uuid5_in_the_canonical_namespace(name: str) -> None:
    # Ids already sent to the register must not change with the implementation.
    assert m.name_uuid(name) == str(uuid.uuid5(m.NAMESPACE, name))
