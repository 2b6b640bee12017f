"""The year's statistics against a hand-counted table, and its CSV, HTML and command line."""

from __future__ import annotations

import csv
import gc
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry import report
from registry.cli import app as cli
from registry.linking import link
from registry.stats import Statistics, for_year, read_and_count, statistics
from registry.store import Store
from tests.registry.cases import case

# Four children, five incidents of 2021 (and one of 2020):
# A (k1:aa, girl born 2015-06-15): police file F1 and the ОЗД signal citing it (one incident, aged
#   5), then a helpline call in September (aged 6, a second incident);
# B: an anonymous helpline call (boy, 13), linked to nothing;
# C (k1:cc, boy born 29 Feb 2004): police file F2 (fatal; place by EKATTE only) and the
#   prosecution's proceeding citing it; 17 on 28 Feb 2021;
# D (k1:dd, girl born in 2010): a police file of 30 Dec 2020, and school bullying on 2 Jan 2021
#   (forms incompatible: another incident).
CASES = [
    case("a1", "mvr:F1", "2021-03-01", "k1:aa", birth="2015-06-15"),
    case("a2", "ozd:S1", "2021-03-02", "k1:aa", refs={"mvr": "F1"}, forms=("psychological",),
         outcome="not-injured"),
    case("a3", "helpline:H1", "2021-09-10", "k1:aa", birth="2015-06-15",
         forms=("psychological",), outcome="unknown", relationships=["unknown"],
         setting="unknown", region="BG-16"),
    case("b1", "helpline:H2", "2021-05-05", sex="male", age=13, forms=("sexual",),
         outcome="unknown", relationships=["stranger"], setting="public-place", region="BG-03"),
    case("c1", "mvr:F2", "2021-02-28", "k1:cc", sex="male", birth="2004-02-29",
         outcome="fatal", region=None, ekatte="56784"),
    case("c2", "prosecution:P2", "2021-03-15", "k1:cc", sex="male", refs={"mvr": "F2"},
         region="BG-16"),
    case("d1", "mvr:F3", "2020-12-30", "k1:dd", birth="2010"),
    case("d2", "schools:000123/9", "2021-01-02", "k1:dd", birth="2010", forms=("bullying",),
         outcome="not-injured", relationships=["peer"], setting="school", region=None),
]  # fmt: skip

# (dimension, value): (children, incidents, {institution: notifications}), nonzero rows only.
EXPECTED: dict[tuple[str, str], tuple[int, int, dict[str, int]]] = {
    ("total", "all"): (4, 5, {"mvr": 2, "prosecution": 1, "ozd": 1, "helpline": 2, "schools": 1}),
    ("violence-form", "physical"): (2, 2, {"mvr": 2, "prosecution": 1}),
    ("violence-form", "psychological"): (1, 2, {"ozd": 1, "helpline": 1}),
    ("violence-form", "sexual"): (1, 1, {"helpline": 1}),
    ("violence-form", "bullying"): (1, 1, {"schools": 1}),
    ("outcome", "fatal"): (1, 1, {"mvr": 1}),
    ("outcome", "injured"): (1, 1, {"mvr": 1, "prosecution": 1}),
    ("outcome", "not-injured"): (1, 1, {"ozd": 1, "schools": 1}),
    ("outcome", "unknown"): (2, 2, {"helpline": 2}),
    ("age-band", "0-5"): (1, 1, {"mvr": 1}),
    ("age-band", "6-11"): (2, 2, {"helpline": 1, "schools": 1}),
    ("age-band", "12-14"): (1, 1, {"helpline": 1}),
    ("age-band", "15-17"): (1, 1, {"mvr": 1}),
    ("age-band", "unknown"): (0, 0, {"ozd": 1, "prosecution": 1}),
    ("sex", "female"): (2, 3, {"mvr": 1, "ozd": 1, "helpline": 1, "schools": 1}),
    ("sex", "male"): (2, 2, {"mvr": 1, "prosecution": 1, "helpline": 1}),
    ("region", "BG-22"): (1, 1, {"mvr": 1, "ozd": 1}),
    ("region", "BG-16"): (2, 2, {"mvr": 1, "prosecution": 1, "helpline": 1}),
    ("region", "BG-03"): (1, 1, {"helpline": 1}),
    ("region", "unknown"): (1, 1, {"schools": 1}),
    ("setting", "family"): (2, 2, {"mvr": 2, "ozd": 1, "prosecution": 1}),
    ("setting", "school"): (1, 1, {"schools": 1}),
    ("setting", "public-place"): (1, 1, {"helpline": 1}),
    ("setting", "unknown"): (1, 1, {"helpline": 1}),
    ("perpetrator-relationship", "parent"): (2, 2, {"mvr": 2, "ozd": 1, "prosecution": 1}),
    ("perpetrator-relationship", "peer"): (1, 1, {"schools": 1}),
    ("perpetrator-relationship", "stranger"): (1, 1, {"helpline": 1}),
    ("perpetrator-relationship", "unknown"): (1, 1, {"helpline": 1}),
    ("institution", "mvr"): (2, 2, {"mvr": 2}),
    ("institution", "prosecution"): (1, 1, {"prosecution": 1}),
    ("institution", "ozd"): (1, 1, {"ozd": 1}),
    ("institution", "helpline"): (2, 2, {"helpline": 2}),
    ("institution", "schools"): (1, 1, {"schools": 1}),
}


def table(stats: Statistics) -> dict[tuple[str, str], tuple[int, int, dict[str, int]]]:
    found = {}
    for row in [stats.total, *stats.rows]:
        notified = {slug: n for slug, n in row.notifications.items() if n}
        if row.children or row.incidents or notified:
            found[(row.dimension, row.value)] = (row.children, row.incidents, notified)
    return found


def test_statistics_match_the_hand_counted_table() -> None:
    stats = for_year(CASES, 2021)
    assert table(stats) == EXPECTED
    assert (stats.unlinked, stats.ambiguous) == (1, 0)


def test_statistics_of_cases_in_another_order_than_linked_are_the_same() -> None:
    # The linkage is read by position when given the cases it linked, by case key otherwise.
    linkage = link(CASES)
    stats = statistics(CASES[::-1], linkage, 2021)
    assert table(stats) == EXPECTED
    assert (stats.unlinked, stats.ambiguous) == (1, 0)
    assert linkage.aligned([c["case_key"] for c in CASES[::-1]])[0] == [
        linkage.child_of[c["case_key"]] for c in CASES[::-1]
    ]


def test_read_and_count_reads_with_the_gc_paused_and_restores_it() -> None:
    # Enabled between the read and the count, the GC would walk a million cases just read.
    seen: list[bool] = []

    def read() -> list[dict[str, Any]]:
        seen.append(gc.isenabled())
        return CASES

    assert gc.isenabled()
    stats = read_and_count(read, 2021)
    assert seen == [False]
    assert gc.isenabled()
    assert table(stats) == EXPECTED


def test_single_valued_dimensions_add_up_to_the_incidents() -> None:
    stats = for_year(CASES, 2021)
    for dimension in ("outcome", "sex", "age-band"):
        assert sum(r.incidents for r in stats.rows if r.dimension == dimension) == 5


def test_the_previous_year_holds_the_earlier_incident() -> None:
    stats = for_year(CASES, 2020)
    assert (stats.total.children, stats.total.incidents) == (1, 1)
    assert stats.total.notifications["mvr"] == 1
    assert table(stats)[("age-band", "6-11")] == (1, 1, {"mvr": 1})


def test_a_partial_birth_date_straddling_a_band_gives_an_unknown_band() -> None:
    # Born in 2015: 5 or 6 on 1 June 2021.
    stats = for_year([case("x", "mvr:F9", "2021-06-01", "k1:xx", birth="2015")], 2021)
    assert table(stats)[("age-band", "unknown")] == (1, 1, {"mvr": 1})


@pytest.mark.parametrize(
    ("police", "other", "bands"),
    [
        pytest.param(
            case("y1", "mvr:F8", "2021-06-01", "k1:yy", birth="2015-06-05"),
            case("y2", "ozd:S8", "2021-06-01", "k1:yy", birth="2015-05-06", refs={"mvr": "F8"}),
            {"unknown": (1, 1, {}), "0-5": (0, 0, {"mvr": 1}), "6-11": (0, 0, {"ozd": 1})},
            id="birth-dates-a-typo-apart-across-an-edge-give-unknown",
        ),
        pytest.param(  # the girl turned 6 on 5 June: 5 on the incident's (earliest) date
            case("w1", "mvr:F6", "2021-06-04", "k1:ww", birth="2015-06-05"),
            case("w2", "ozd:S6", "2021-06-06", "k1:ww", birth="2015-06-05", refs={"mvr": "F6"}),
            {"unknown": (0, 0, {}), "0-5": (1, 1, {"mvr": 1}), "6-11": (0, 0, {"ozd": 1})},
            id="a-birthday-between-the-dates-takes-the-earliest",
        ),
        pytest.param(  # 6 by the full birth date, 5 by the helpline's age
            case("z1", "mvr:F7", "2021-06-01", "k1:zz", birth="2015-05-04"),
            case("z2", "helpline:H7", "2021-06-01", "k1:zz", age=5, refs={"mvr": "F7"}),
            {"unknown": (0, 0, {}), "0-5": (0, 0, {"helpline": 1}), "6-11": (1, 1, {"mvr": 1})},
            id="the-more-precise-source-decides",
        ),
    ],
)
def test_an_incidents_age_band_whichever_case_the_store_lists_first(
    police: dict[str, Any], other: dict[str, Any], bands: dict[str, Any]
) -> None:
    # One child (one pseudonym) in one incident (a police file and a case citing it).
    for given in ([police, other], [other, police]):
        rows = table(for_year(given, 2021))
        assert rows[("total", "all")][:2] == (1, 1)
        assert {band: rows.get(("age-band", band), (0, 0, {})) for band in bands} == bands


def test_csv_is_long_format_with_every_value() -> None:
    stats = for_year(CASES, 2021)
    rows = list(csv.DictReader(io.StringIO(report.to_csv(stats))))
    assert list(rows[0]) == [
        "year",
        "dimension",
        "value",
        "children",
        "incidents",
        *(f"notifications_{s}" for s in stats.institutions),
    ]
    physical = next(
        r for r in rows if (r["dimension"], r["value"]) == ("violence-form", "physical")
    )
    assert (physical["children"], physical["incidents"], physical["notifications_mvr"]) == (
        "2",
        "2",
        "2",
    )
    neglect = next(r for r in rows if (r["dimension"], r["value"]) == ("violence-form", "neglect"))
    assert neglect["children"] == "0"  # the statistics office gets every value, zeros included
    assert len(rows) == 2 + len(stats.rows)
    # Last, the totals as estimated (registry/estimated.py), with one decimal.
    assert stats.estimate is not None
    assert (rows[-1]["dimension"], rows[-1]["value"]) == ("total (estimated)", "all")
    assert float(rows[-1]["children"]) == round(stats.estimate.estimated_children, 1)
    assert float(rows[-1]["incidents"]) == round(stats.estimate.estimated_incidents, 1)
    assert rows[-1]["notifications_mvr"] == ""


def test_html_report_has_a_chart_per_dimension() -> None:
    page = report.to_html(for_year(CASES, 2021))
    assert page.startswith("<!doctype html>")
    assert "<strong>4</strong> distinct children" in page
    assert "Estimated: " in page and "in expectation under the linkage model" in page
    assert page.count("<svg") == 1 + 8  # the legend, then one chart per dimension
    assert "<script" not in page


def flat(item: dict[str, Any], event: str = "new") -> dict[str, Any]:
    return {**item, "notification_id": str(uuid.uuid4()), "event": event}


def test_command_prints_the_table_and_writes_csv_and_html(tmp_path: Path) -> None:
    db = tmp_path / "register.sqlite3"
    withdrawn = case("gone", "mvr:F8", "2021-04-04", "k1:gg", sex="male")
    with Store(db) as store:
        store.receive_many([(flat(c), b"{}") for c in [*CASES, withdrawn]])
        store.receive(flat(withdrawn, "cancel"), b"{}")
    out_csv, out_html = tmp_path / "s.csv", tmp_path / "s.html"
    result = CliRunner().invoke(
        cli,
        [
            "stats",
            "--year",
            "2021",
            "--db",
            str(db),
            "--csv",
            str(out_csv),
            "--html",
            str(out_html),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "dimension",
        "value",
        "children",
        "incidents",
        "mvr",
        "prosecution",
        "ozd",
        "helpline",
        "schools",
        "health",
    ]
    assert "total all 4 5 2 1 1 2 1 0" in [" ".join(line.split()) for line in lines]
    assert "1 case(s) without a pseudonym could not be linked" in result.output
    assert out_csv.read_text("utf-8").startswith("year,dimension,value,children,incidents")
    assert "<svg" in out_html.read_text("utf-8")
