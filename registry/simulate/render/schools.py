"""School incidents under the anti-bullying mechanism: CSV files as Excel writes them.

Excel drops leading zeros: an ЕГН of a pupil born in 2000–2009 and some EKATTE codes lose
their first digit, as the regional offices' exports do (the gateway restores them). Dates are
written `D.M.YYYY` in about half of the files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from registry.simulate.kinds import PLACES, RELATION
from registry.simulate.render import Message, Phase, Unit, details
from registry.simulate.world import Report, World

PATH = "/api/v1/schools/incidents"
HEADERS = {"content-type": "text/csv; charset=utf-8"}
BATCH = 400
COLUMNS = (
    "incident_id", "school_code", "ekatte", "incident_date", "level", "forms", "victim_egn",
    "victim_birth_date", "victim_sex", "perpetrator", "ozd_signal_number",
    "mvr_registration_number",
)  # fmt: skip
SEX = {"male": "м", "female": "ж"}


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    rows: list[tuple[dict[str, str], Unit]] = []
    for report in reports:
        rows += [(row, Unit(report, i)) for i, row in enumerate(report_rows(world, report, phase))]
    messages = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(row for row, _ in chunk)
        units = tuple(unit for _, unit in chunk)
        messages.append(Message("schools", PATH, HEADERS, out.getvalue().encode(), units))
    return messages


def report_rows(world: World, report: Report, phase: Phase) -> list[dict[str, str]]:
    """One row per pupil: the school's record key includes the victim."""
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    school_code, incident_id = report.number.split("/", 1)
    excel_dates = rng.random() < 0.5
    day = report.day
    written_day = f"{day.day}.{day.month}.{day.year}" if excel_dates else day.isoformat()
    rows = []
    for index, view in enumerate(report.views):
        child = world.child(report, index)
        birth = ""
        if view.birth:
            b = view.birth
            birth = f"{b.day}.{b.month}.{b.year}" if excel_dates else b.isoformat()
        rows.append(
            {
                "incident_id": incident_id,
                "school_code": school_code,
                "ekatte": PLACES[incident.place][0].lstrip("0"),
                "incident_date": written_day,
                # A later export finds the incident escalated to the police or ОЗД.
                "level": "3" if phase == "update" else "2",
                "forms": "|".join(incident.kind.school_forms or ("физически",)),
                "victim_egn": (child.number or "").lstrip("0") if view.carries_number else "",
                "victim_birth_date": birth,
                "victim_sex": SEX[child.sex],
                "perpetrator": RELATION.get(incident.relation, ("", "", "", "неизвестен"))[3],
                "ozd_signal_number": report.references.get("ozd", ""),
                "mvr_registration_number": report.references.get("mvr", ""),
            }
        )
    return rows
