"""Prosecution (Прокуратура) proceeding notifications: SOAP 1.2 envelopes, one per event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from xml.sax.saxutils import escape

from registry.simulate.kinds import PLACES, RELATION
from registry.simulate.render import Message, Phase, Unit, details, message_id
from registry.simulate.world import Report, World

PATH = "/soap/prosecution"
HEADERS = {
    "content-type": 'application/soap+xml; charset=utf-8; action="urn:bg:prb:pretrial:v2/'
    'NotifyProceeding"'
}
# Each phase is a later event of the proceeding, so that no notification is stale.
EVENT = {"first": ("ОБРАЗУВАНО", 10), "update": ("ОБВИНИТЕЛЕН_АКТ", 60), "cancel": ("ОТМЕНЕНО", 70)}
GENDER = {"male": "1", "female": "2"}


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    return [
        Message("prosecution", PATH, HEADERS, document(world, r, phase), (Unit(r),), soap=True)
        for r in reports
    ]


def document(world: World, report: Report, phase: Phase) -> bytes:
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    event, after = EVENT[phase]
    victims = []
    for index, view in enumerate(report.views):
        child = world.child(report, index)
        number = ""
        if view.carries_number:
            kind = "EGN" if child.number_kind == "egn" else "LNCH"
            number = f'<p:PersonalNumber kind="{kind}">{child.number}</p:PersonalNumber>'
        birth = f"<p:BirthDate>{view.birth.isoformat()}</p:BirthDate>" if view.birth else ""
        name = escape(f"{child.first_name} {child.last_name}")
        victims.append(
            f"<p:Victim>{number}{birth}<p:Gender>{GENDER[child.sex]}</p:Gender>"
            f"<p:Deceased>{str(incident.kind.fatal).lower()}</p:Deceased>"
            f"<p:Name>{name}</p:Name></p:Victim>"
        )
    police = report.references.get("mvr")
    ref = f"<p:PoliceRef>{escape(police)}</p:PoliceRef>" if police else ""
    city = PLACES[incident.place][2]
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:p="urn:bg:prb:pretrial:v2"><env:Body><p:ProceedingNotification>'
        f"<p:NotificationId>{message_id(rng)}</p:NotificationId>"
        f"<p:ProceedingNumber>{escape(report.number)}</p:ProceedingNumber>"
        f"<p:ProsecutionOffice>Районна прокуратура {escape(city)}</p:ProsecutionOffice>"
        f"<p:Event>{event}</p:Event>"
        f"<p:EventDate>{(report.day + timedelta(days=after)).isoformat()}</p:EventDate>"
        f"<p:OffenceDate>{report.day.isoformat()}</p:OffenceDate>"
        f"<p:Ekatte>{PLACES[incident.place][0]}</p:Ekatte>"
        + ref
        + f"<p:Qualification><p:Article>{incident.kind.article}</p:Article>"
        "<p:Attempt>false</p:Attempt></p:Qualification>"
        + "".join(victims)
        + f"<p:AccusedRelation>{RELATION[incident.relation][1]}</p:AccusedRelation>"
        + "</p:ProceedingNotification></env:Body></env:Envelope>\n"
    ).encode()
