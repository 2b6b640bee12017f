"""Every linking rule on small hand-made cases: children, incidents, and the reasons recorded."""

from __future__ import annotations

import random
from typing import Any

from bench.linking import fingerprint, notifications
from registry.linking import Linkage, link
from registry.stats import statistics
from tests.registry.cases import case


def rules(linkage: Linkage, key: str) -> set[str]:
    return {r.rule for r in linkage.reasons_for(key)}


def one_child(linkage: Linkage, *keys: str) -> bool:
    return len({linkage.child_of[k] for k in keys}) == 1


def one_incident(linkage: Linkage, *keys: str) -> bool:
    return len({linkage.incident_of[k] for k in keys}) == 1


# -- children -----------------------------------------------------------------------------------


def test_same_child_through_two_institutions_by_pseudonym_without_references() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-03-01", "k1:aa"),
            case("ozd", "ozd:S1", "2021-03-02", "k1:aa"),
        ]
    )
    assert one_child(linkage, "police", "ozd")
    assert one_incident(linkage, "police", "ozd")
    [reason] = [r for r in linkage.reasons_for("ozd") if r.rule == "same-pseudonym"]
    assert {reason.a, reason.b} == {"police", "ozd"}
    assert reason.evidence == "same pseudonym under key k1"
    assert "incident-date-window" in rules(linkage, "ozd")
    assert linkage.unlinked == set()


def test_same_child_through_two_institutions_by_reference_without_pseudonyms() -> None:
    linkage = link(
        [
            case("police", "mvr:ЗМ-1234/2021 02 РУ-СДВР", "2021-03-01", birth="2014-05-06"),
            # The number as another institution typed it: spacing and letter case differ.
            case("ozd", "ozd:S1", "2021-03-04", refs={"mvr": "зм-1234/2021  02 ру-сдвр"}),
        ]
    )
    assert one_child(linkage, "police", "ozd")
    assert one_incident(linkage, "police", "ozd")
    assert rules(linkage, "ozd") == {"reference", "reference-incident"}
    [reason] = [r for r in linkage.reasons_for("ozd") if r.rule == "reference"]
    assert "ozd:S1 cites mvr:ЗМ-1234/2021 02 РУ-СДВР" in reason.evidence
    assert linkage.unlinked == set()


def test_same_child_without_pseudonym_or_reference_stays_two_unlinked_children() -> None:
    linkage = link(
        [
            case("helpline", "helpline:H1", "2021-03-01", age=9),
            case("ozd", "ozd:S1", "2021-03-01", birth="2012-01-01"),
        ]
    )
    assert not one_child(linkage, "helpline", "ozd")
    assert linkage.unlinked == {"helpline", "ozd"}
    assert linkage.reasons == []
    # An age, a sex, a region and a day are not enough to merge: only proposed for review.
    [possible] = linkage.possible
    assert {possible.a, possible.b} == {"helpline", "ozd"}
    assert 0 <= possible.weight < 7


def test_anonymous_helpline_contact_tied_through_its_referral() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2012-01-01"),
            case("ozd", "ozd:S1", "2021-03-02", "k1:aa", refs={"mvr": "F1"}),
            case("call", "helpline:H1", "2021-03-02", sex="unknown", band="6-11",
                 refs={"ozd": "S1"}),
        ]
    )  # fmt: skip
    assert one_child(linkage, "police", "ozd", "call")
    assert one_incident(linkage, "police", "ozd", "call")
    assert "call" not in linkage.unlinked
    [reason] = [r for r in linkage.reasons_for("call") if r.rule == "reference"]
    assert "helpline:H1 cites ozd:S1" in reason.evidence


def test_twins_of_one_police_file_stay_two_children() -> None:
    twins = [
        case("twin1", "mvr:F1", "2021-03-01", "k1:aa", birth="2015-02-02"),
        case("twin2", "mvr:F1", "2021-03-01", "k1:bb", birth="2015-02-02"),
    ]
    # The prosecution's proceeding about the same file, each twin identified.
    proceedings = [
        case("p1", "prosecution:P1", "2021-03-05", "k1:bb", refs={"mvr": "F1"}),
        case("p2", "prosecution:P1", "2021-03-05", "k1:aa", refs={"mvr": "F1"}),
    ]
    linkage = link(twins + proceedings)
    assert not one_child(linkage, "twin1", "twin2")
    assert one_child(linkage, "twin1", "p2") and one_child(linkage, "twin2", "p1")
    assert linkage.children() == 2


def test_a_reference_to_a_file_of_twins_without_a_pseudonym_is_ambiguous() -> None:
    linkage = link(
        [
            case("twin1", "mvr:F1", "2021-03-01", "k1:aa", birth="2015-02-02"),
            case("twin2", "mvr:F1", "2021-03-01", "k1:bb", birth="2015-02-02"),
            case("signal", "ozd:S1", "2021-03-02", birth="2015-02-02", refs={"mvr": "F1"}),
        ]
    )
    assert linkage.children() == 3
    assert linkage.unlinked == {"signal"}
    assert "2 compatible children" in linkage.ambiguous["signal"]


def test_an_identified_child_citing_a_file_of_two_anonymous_children_is_ambiguous() -> None:
    linkage = link(
        [
            case("first", "mvr:F1", "2021-03-01", birth="2015-02-02"),
            case("second", "mvr:F1", "2021-03-01", birth="2015-02-02"),
            case("signal", "ozd:S1", "2021-03-02", "k1:aa", refs={"mvr": "F1"}),
        ]
    )
    assert linkage.children() == 3
    assert set(linkage.ambiguous) == {"signal"}
    assert linkage.unlinked == {"first", "second"}  # the identified child is not "unlinked"


def test_a_reference_links_the_one_compatible_child_of_a_file() -> None:
    linkage = link(
        [
            case("girl", "mvr:F1", "2021-03-01", "k1:aa", sex="female", birth="2015-02-02"),
            case("boy", "mvr:F1", "2021-03-01", "k1:bb", sex="male", birth="2015-02-02"),
            case("signal", "ozd:S1", "2021-03-02", sex="male", refs={"mvr": "F1"}),
        ]
    )
    assert one_child(linkage, "boy", "signal")
    assert linkage.ambiguous == {} and linkage.unlinked == set()


def test_contradicting_child_attributes_block_a_reference_link() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-03-01", "k1:aa", sex="female", birth="2015-02-02"),
            # Another child of the incident: a brother, an older sibling, an identified other.
            case("brother", "ozd:S1", "2021-03-01", sex="male", refs={"mvr": "F1"}),
            case("older", "ozd:S2", "2021-03-01", birth="2009-07-07", refs={"mvr": "F1"}),
            case("other", "ozd:S3", "2021-03-01", "k1:cc", refs={"mvr": "F1"}),
        ]
    )
    assert linkage.children() == 4
    assert linkage.unlinked == {"brother", "older"}


def test_a_typo_in_a_birth_date_does_not_block_a_reference_link() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-03-01", birth="2015-03-12"),
            case("signal", "ozd:S1", "2021-03-01", birth="2015-03-21", refs={"mvr": "F1"}),
        ]
    )
    assert one_child(linkage, "police", "signal")


def test_two_records_citing_one_number_nobody_sent_are_one_child() -> None:
    linkage = link(
        [
            case("call", "helpline:H1", "2021-03-01", age=10, refs={"ozd": "S9"}),
            case("school", "schools:000123/7", "2021-03-02", birth="2011-01-01",
                 refs={"ozd": "S9"}),
        ]
    )  # fmt: skip
    assert one_child(linkage, "call", "school")
    assert one_incident(linkage, "call", "school")


def test_pseudonyms_of_a_key_rotation_are_one_child() -> None:
    linkage = link(
        [
            case("old", "mvr:F1", "2021-01-01", "k1:aa"),
            case("during", "ozd:S1", "2021-05-01", "k1:aa", "k2:zz"),
            case("new", "helpline:H1", "2021-09-01", "k2:zz"),
        ]
    )
    assert one_child(linkage, "old", "during", "new")
    assert not one_incident(linkage, "old", "new")
    evidence = {r.evidence for r in linkage.reasons_for("during")}
    assert evidence == {"same pseudonym under key k1", "same pseudonym under key k2"}


# -- incidents ----------------------------------------------------------------------------------


def test_two_incidents_of_one_child_a_week_apart() -> None:
    linkage = link(
        [
            case("first", "mvr:F1", "2021-03-01", "k1:aa"),
            case("second", "mvr:F2", "2021-03-08", "k1:aa"),
        ]
    )
    assert one_child(linkage, "first", "second")
    assert not one_incident(linkage, "first", "second")
    assert linkage.incidents() == 2


def test_close_dates_with_incompatible_forms_are_two_incidents() -> None:
    beaten = case("beaten", "mvr:F1", "2021-03-01", "k1:aa", forms=("physical",))
    bullied = case("bullied", "schools:1/2", "2021-03-02", "k1:aa", forms=("bullying",))
    assert not one_incident(link([beaten, bullied]), "beaten", "bullied")
    # An unspecified form fits either; single linkage then joins all three.
    unclear = case("unclear", "ozd:S1", "2021-03-03", "k1:aa", forms=("unspecified",))
    assert one_incident(link([beaten, bullied, unclear]), "beaten", "unclear", "bullied")


def test_incident_dates_differing_by_a_year_typo_are_one_incident() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-01-03", "k1:aa"),
            case("ozd", "ozd:S1", "2020-01-03", "k1:aa"),
            case("swapped", "helpline:H1", "2021-03-01", "k1:aa"),  # day and month swapped
            case("later", "schools:1/2", "2021-03-11", "k1:aa"),
        ]
    )
    assert one_incident(linkage, "police", "ozd", "swapped")
    assert "incident-date-typo" in rules(linkage, "ozd")
    assert "incident-date-typo" in rules(linkage, "swapped")
    assert not one_incident(linkage, "police", "later")


def test_references_make_one_incident_whatever_the_dates() -> None:
    linkage = link(
        [
            case("police", "mvr:F1", "2021-03-01", "k1:aa"),
            case("prosecution", "prosecution:P1", "2021-06-30", "k1:aa", refs={"mvr": "F1"}),
        ]
    )
    assert one_incident(linkage, "police", "prosecution")
    assert "reference-incident" in rules(linkage, "prosecution")


def test_incidents_never_span_children() -> None:
    linkage = link(
        [
            case("a", "mvr:F1", "2021-03-01", "k1:aa"),
            case("b", "mvr:F1", "2021-03-01", "k1:bb"),
        ]
    )
    assert not one_incident(linkage, "a", "b")
    assert linkage.child_of == {"a": "child:a", "b": "child:b"}
    assert linkage.incident_of == {"a": "incident:a", "b": "incident:b"}


def test_ids_do_not_depend_on_the_order_of_the_cases() -> None:
    cases = [
        case("x", "mvr:F1", "2021-03-01", "k1:aa"),
        case("y", "ozd:S1", "2021-03-02", refs={"mvr": "F1"}),
        case("z", "helpline:H1", "2021-04-02", "k1:aa"),
    ]
    forwards, backwards = link(cases), link(cases[::-1])
    assert forwards.child_of == backwards.child_of
    assert forwards.incident_of == backwards.incident_of


def test_a_synthetic_year_links_the_same_in_any_order_and_the_fingerprint_sees_one_change() -> None:
    """The benchmark's fingerprint (every child, incident, reason, possible link and figure)
    is what tells a speed-up that moved nothing from one that did: it must not depend on the
    order the store hands the cases over, and must change with a single case."""
    active: dict[str, dict[str, Any]] = {}  # the store's active cases: updates and cancels applied
    for flat in notifications(3_000, random.Random(11), {}):
        if flat["event"] == "cancel":
            active.pop(flat["case_key"], None)
        else:
            active[flat["case_key"]] = flat
    latest = list(active.values())

    def print_of(given: list[dict[str, Any]]) -> str:
        linkage = link(given)
        return fingerprint(linkage, statistics(given, linkage, 2021))

    forwards = print_of(latest)
    assert print_of(latest[::-1]) == forwards
    identified = next(i for i, flat in enumerate(latest) if flat["child_pseudonyms"])
    changed = [*latest]
    changed[identified] = {**latest[identified], "child_pseudonyms": [], "birth_date": None}
    assert print_of(changed) != forwards
