"""What happened, in each institution's own vocabulary: the kinds of incident the world draws.

Each kind fixes what every institution would record about it: police article and setting
code, ОЗД violence forms, helpline categories, school forms and ICD-10 codes, and how likely
each institution is to hear of it. Relationships are listed canonically and translated per
institution by `RELATION`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    weight: int
    relations: tuple[str, ...]
    crime: float  # chance the police register it (and then the prosecution may open a file)
    school: float  # chance a school records it under the anti-bullying mechanism
    health: float  # chance a hospital or GP sees the child for it
    article: str
    setting_code: str  # МВР SettingCode
    ozd_forms: tuple[str, ...]
    helpline: tuple[str, ...]
    school_forms: tuple[str, ...]
    icd: tuple[str, ...]
    injury: str  # МВР InjuryCode


KINDS: tuple[Kind, ...] = (
    Kind("beating", 30, ("parent", "step-parent"), 0.5, 0.0, 0.3, "130", "1",
         ("физическо",), ("AV.PHY",), (), ("T74.1", "S00.8"), "1"),
    Kind("domestic-witness", 15, ("parent", "step-parent"), 0.3, 0.0, 0.05, "296", "1",
         ("свидетел на домашно насилие",), ("AV.DVW", "AV.EMO"), (), ("T74.3",), "0"),
    Kind("neglect", 18, ("parent", "other-relative"), 0.15, 0.0, 0.15, "182", "1",
         ("неглижиране",), ("AV.NEG",), (), ("T74.0",), "0"),
    Kind("sexual", 10, ("acquaintance", "other-relative"), 0.8, 0.0, 0.4, "149", "4",
         ("сексуално",), ("AV.SEX",), (), ("T74.2",), "0"),
    Kind("bullying", 15, ("peer",), 0.1, 0.9, 0.1, "130", "2",
         ("тормоз", "физическо"), ("AV.BUL",), ("физически", "вербален"), ("Y04.2", "S00.8"), "1"),
    Kind("online", 6, ("stranger", "peer"), 0.5, 0.4, 0.0, "155а", "5",
         ("онлайн насилие",), ("AV.OSE",), ("кибер",), (), "0"),
    Kind("street-assault", 4, ("stranger", "acquaintance"), 0.9, 0.0, 0.6, "129", "4",
         ("физическо",), ("AV.PHY",), (), ("Y04.4", "S02.0"), "2"),
    Kind("staff", 2, ("caregiver-professional",), 0.4, 0.7, 0.1, "143", "2",
         ("психическо",), ("AV.EMO",), ("психически",), ("T74.3",), "0"),
)  # fmt: skip

#: canonical relationship -> (МВР code, prosecution value, ОЗД value, school perpetrator)
RELATION: dict[str, tuple[str, str, str, str]] = {
    "parent": ("1", "РОДИТЕЛ", "родител", "родител"),
    "step-parent": ("2", "ДОПЪЛНИТЕЛЕН_РОДИТЕЛ", "втори родител", "друг"),
    "other-relative": ("3", "ДРУГ_РОДНИНА", "роднина", "друг"),
    "peer": ("5", "ВРЪСТНИК", "връстник", "ученик"),
    "caregiver-professional": ("6", "ДЛЪЖНОСТНО_ЛИЦЕ", "служител", "служител"),
    "acquaintance": ("7", "ПОЗНАТ", "познат", "друг"),
    "stranger": ("8", "НЕПОЗНАТ", "непознат", "друг"),
}

#: EKATTE, ISO 3166-2:BG region, the city's name as units and directorates carry it.
PLACES: tuple[tuple[str, str, str], ...] = (
    ("68134", "BG-22", "София"),
    ("56784", "BG-16", "Пловдив"),
    ("10135", "BG-03", "Варна"),
    ("07079", "BG-02", "Бургас"),
    ("63427", "BG-18", "Русе"),
    ("72624", "BG-24", "Стара Загора"),
    ("51500", "BG-15", "Плевен"),
    ("68850", "BG-27", "Шумен"),
)

GIRLS = ("Мария", "Елена", "Йоана", "Виктория", "Александра", "Никол", "Габриела", "Ивана")
BOYS = ("Иван", "Петър", "Даниел", "Георги", "Александър", "Никола", "Мартин", "Калоян")
SURNAMES = ("Иванов", "Петров", "Георгиев", "Димитров", "Николов", "Стоянов", "Христов")
