"""Police (МВР) incident reports: SOAP 1.1 envelopes, one per record version."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from registry.simulate.kinds import PLACES, RELATION
from registry.simulate.render import Message, Phase, Unit, details, message_id
from registry.simulate.world import Report, World

PATH = "/soap/mvr"
HEADERS = {
    "content-type": "text/xml; charset=utf-8",
    "soapaction": '"urn:bg:mvr:child-incident:v1/SubmitIncidentReport"',
}
REPORT_TYPE = {"first": "NEW", "update": "UPDATE", "cancel": "CANCEL"}
SEX = {"male": "М", "female": "Ж"}


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    return [
        Message("mvr", PATH, HEADERS, document(world, r, phase), (Unit(r),), soap=True)
        for r in reports
    ]


def document(world: World, report: Report, phase: Phase) -> bytes:
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    kind = incident.kind
    # An update reports a worse injury than first thought; death is final.
    worse = phase == "update" and not kind.fatal
    injury = str(min(3, int(kind.injury) + 1)) if worse else kind.injury
    victims = []
    for index, view in enumerate(report.views):
        child = world.child(report, index)
        number = ""
        if view.carries_number:
            tag = "Egn" if child.number_kind == "egn" else "Lnch"
            number = f"<m:{tag}>{child.number}</m:{tag}>"
        birth = f"<m:BirthDate>{view.birth.isoformat()}</m:BirthDate>" if view.birth else ""
        victims.append(
            f"<m:Victim>{number}{birth}<m:Sex>{SEX[child.sex]}</m:Sex>"
            f"<m:FirstName>{escape(child.first_name)}</m:FirstName>"
            f"<m:LastName>{escape(child.last_name)}</m:LastName>"
            f"<m:InjuryCode>{injury}</m:InjuryCode></m:Victim>"
        )
    prosecution = report.references.get("prosecution")
    ref = f"<m:ProsecutionRef>{escape(prosecution)}</m:ProsecutionRef>" if prosecution else ""
    unit = escape(report.number.split(" ", 1)[1])
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:m="urn:bg:mvr:child-incident:v1"><soap:Header/><soap:Body><m:IncidentReport>'
        f"<m:ReportId>{message_id(rng)}</m:ReportId>"
        f"<m:RegistrationNumber>{escape(report.number)}</m:RegistrationNumber>"
        f"<m:ReportType>{REPORT_TYPE[phase]}</m:ReportType>"
        f"<m:Unit>{unit}</m:Unit>"
        f"<m:IncidentDate>{report.day.isoformat()}</m:IncidentDate>"
        f"<m:IncidentTime>{rng.randrange(24):02d}:{rng.randrange(60):02d}:00</m:IncidentTime>"
        f"<m:Ekatte>{PLACES[incident.place][0]}</m:Ekatte>"
        f"<m:SettingCode>{kind.setting_code}</m:SettingCode>"
        f"<m:Offence><m:Article>{kind.article}</m:Article><m:Attempt>false</m:Attempt></m:Offence>"
        + "".join(victims)
        + f"<m:Perpetrator><m:RelationCode>{RELATION[incident.relation][0]}</m:RelationCode>"
        "</m:Perpetrator>" + ref + "</m:IncidentReport></soap:Body></soap:Envelope>\n"
    ).encode()
