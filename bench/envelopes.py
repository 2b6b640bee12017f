"""Distinct, valid police (МВР) SOAP 1.1 incident reports for the benchmark, from an embedded
template.

The template is the contract's own `mvr-incident.xml` sample (`adapters/mvr/samples/`), embedded
so that the bench reads nothing outside the project at run time. Each message gets its own
`ReportId` (UUID), `RegistrationNumber` and child: a valid ЕГН (check digit computed here) with
the matching birth date and sex, under 18 on an incident date in the recent past.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

SOAP_ACTION = '"urn:bg:mvr:child-incident:v1/SubmitIncidentReport"'
CONTENT_TYPE = "text/xml; charset=utf-8"
PATH = "/soap/mvr"

TEMPLATE = """<?xml version='1.0' encoding='utf-8'?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:m="urn:bg:mvr:child-incident:v1">
  <soap:Header/>
  <soap:Body>
    <m:IncidentReport>
      <m:ReportId>{report_id}</m:ReportId>
      <m:RegistrationNumber>{registration}</m:RegistrationNumber>
      <m:ReportType>NEW</m:ReportType>
      <m:Unit>02 РУ-СДВР</m:Unit>
      <m:IncidentDate>{incident_date}</m:IncidentDate>
      <m:Ekatte>{ekatte}</m:Ekatte>
      <m:SettingCode>1</m:SettingCode>
      <m:Offence>
        <m:Article>129</m:Article>
        <m:Attempt>false</m:Attempt>
      </m:Offence>
      <m:Victim>
        <m:Egn>{egn}</m:Egn>
        <m:BirthDate>{birth_date}</m:BirthDate>
        <m:Sex>{sex}</m:Sex>
        <m:FirstName>{first_name}</m:FirstName>
        <m:LastName>{last_name}</m:LastName>
        <m:InjuryCode>2</m:InjuryCode>
      </m:Victim>
      <m:Perpetrator>
        <m:RelationCode>1</m:RelationCode>
      </m:Perpetrator>
    </m:IncidentReport>
  </soap:Body>
</soap:Envelope>
"""

EGN_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6)
#: Sofia, Plovdiv, Varna, Burgas, Ruse.
EKATTE = ("68134", "56784", "10135", "07079", "63427")
NAMES = {
    "Ж": (("Мария", "Димитрова"), ("Елена", "Петрова"), ("Йоана", "Николова")),
    "М": (("Иван", "Георгиев"), ("Петър", "Стоянов"), ("Даниел", "Христов")),
}


def egn(birth: date, serial: int) -> str:
    """A valid ЕГН for `birth` and the 3-digit `serial` (its last digit even: male, odd: female)."""
    if not 1800 <= birth.year <= 2099:
        raise ValueError("an ЕГН encodes years 1800–2099 only")
    month = birth.month + (40 if birth.year >= 2000 else 20 if birth.year < 1900 else 0)
    digits = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{serial % 1000:03d}"
    check = sum(int(d) * w for d, w in zip(digits, EGN_WEIGHTS, strict=True)) % 11
    return digits + str(check % 10)


def egn_sex(value: str) -> str:
    """`М` or `Ж`, as the ninth digit of the ЕГН says."""
    return "М" if int(value[8]) % 2 == 0 else "Ж"


class Envelopes:
    """Makes the messages of one sender process: `next()` gives a new, distinct message."""

    def __init__(self, worker: int, *, today: date | None = None, seed: int | None = None) -> None:
        self.worker = worker
        self.today = today or date.today()
        self.count = 0
        self._random = random.Random(seed if seed is not None else worker)

    def next(self) -> bytes:
        rng = self._random
        self.count += 1
        incident = self.today - timedelta(days=rng.randint(1, 300))
        # 2 to 16 whole years before the incident: a child on the incident date.
        birth = incident - timedelta(days=rng.randint(2 * 366, 16 * 365))
        number = egn(birth, rng.randint(0, 999))
        sex = egn_sex(number)
        first, last = rng.choice(NAMES[sex])
        text = TEMPLATE.format(
            report_id=uuid.uuid4(),
            registration=f"ЗМ-{self.worker}-{self.count}/{incident.year} 02 РУ-СДВР",
            incident_date=incident.isoformat(),
            ekatte=rng.choice(EKATTE),
            egn=number,
            birth_date=birth.isoformat(),
            sex=sex,
            first_name=first,
            last_name=last,
        )
        return text.encode("utf-8")
