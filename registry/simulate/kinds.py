"""What happened, in each institution's own vocabulary: the kinds of incident the world draws.

Each kind fixes what every institution would record about it: police article and setting
code, ОЗД violence forms, helpline categories, school forms and ICD-10 codes, and how likely
each institution is to hear of it. Relationships are listed canonically and translated per
institution by `RELATION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    weight: float  # share of incidents, per cent
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

    @property
    def fatal(self) -> bool:
        """The child dies of it (МВР InjuryCode 4): the homicide question of the register."""
        return self.injury == "4"


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
    # Some 10-30 children a year in Bulgaria (the 2, 11 or 32 of 2020, by whom you ask).
    Kind("homicide", 0.3, ("parent", "step-parent", "acquaintance"), 0.98, 0.0, 0.7, "116", "1",
         ("физическо",), ("AV.PHY",), (), ("Y09", "S06.9"), "4"),
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


class Place(NamedTuple):
    """A regional centre: where a family lives and its institutions sit."""

    ekatte: str
    region: str  # ISO 3166-2:BG
    city: str  # as units and directorates carry it
    code: str  # the region's letters in ОЗД signal numbers
    weight: int  # children living in the region, thousands (roughly, after the 2021 census)


#: Every region's centre (Sofia province's: Botevgrad), EKATTE codes from registry/ekatte.csv.
#: A family lives in a region with the chance of its share of the country's children.
PLACES: tuple[Place, ...] = (
    Place("04279", "BG-01", "Благоевград", "БЛ", 43),
    Place("07079", "BG-02", "Бургас", "БС", 64),
    Place("10135", "BG-03", "Варна", "ВН", 77),
    Place("10447", "BG-04", "Велико Търново", "ВТ", 28),
    Place("10971", "BG-05", "Видин", "ВД", 9),
    Place("12259", "BG-06", "Враца", "ВР", 21),
    Place("14218", "BG-07", "Габрово", "ГБ", 12),
    Place("72624", "BG-08", "Добрич", "ДБ", 24),
    Place("40909", "BG-09", "Кърджали", "КЖ", 22),
    Place("41112", "BG-10", "Кюстендил", "КН", 13),
    Place("43952", "BG-11", "Ловеч", "ЛВ", 16),
    Place("48489", "BG-12", "Монтана", "МН", 17),
    Place("55155", "BG-13", "Пазарджик", "ПЗ", 39),
    Place("55871", "BG-14", "Перник", "ПК", 15),
    Place("56722", "BG-15", "Плевен", "ПЛ", 31),
    Place("56784", "BG-16", "Пловдив", "ПД", 104),
    Place("61710", "BG-17", "Разград", "РЗ", 16),
    Place("63427", "BG-18", "Русе", "РС", 27),
    Place("66425", "BG-19", "Силистра", "СС", 15),
    Place("67338", "BG-20", "Сливен", "СЛ", 35),
    Place("67653", "BG-21", "Смолян", "СМ", 12),
    Place("68134", "BG-22", "София", "СФ", 215),
    Place("05815", "BG-23", "Ботевград", "СО", 37),
    Place("68850", "BG-24", "Стара Загора", "СЗ", 49),
    Place("73626", "BG-25", "Търговище", "ТГ", 17),
    Place("77195", "BG-26", "Хасково", "ХК", 34),
    Place("83510", "BG-27", "Шумен", "ШН", 27),
    Place("87374", "BG-28", "Ямбол", "ЯБ", 17),
)

GIRLS = ("Мария", "Елена", "Йоана", "Виктория", "Александра", "Никол", "Габриела", "Ивана")
BOYS = ("Иван", "Петър", "Даниел", "Георги", "Александър", "Никола", "Мартин", "Калоян")
SURNAMES = ("Иванов", "Петров", "Георгиев", "Димитров", "Николов", "Стоянов", "Христов")
