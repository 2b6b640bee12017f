"""Every ConceptMap of `mappings/` cross-checked against the institutions' contracts.

The contracts (`../shared/institutions/*.md`, beside the clone in CI) are the source of truth for
every code table; the ConceptMaps are their copy as data. Each check below reads one table or
"`x` → `y`" list of a contract (`tests/contract_tables.py`) and compares it with the ConceptMap
that serves that field, both ways:

- every code the contract lists is known to the map (`Mappings.knows`);
- the map knows no code the contract does not list (closed lists, and the tables the maps copy
  whole); for the ICD-10 place of occurrence, "others none": an unlisted code yields nothing;
- each listed translation gives exactly the contract's targets (`Mappings.translate`, as sets,
  with the `dependsOn` context the adapter passes).

A change in a contract, or in a ConceptMap, therefore fails here, naming the contract line. In a
clone without `../shared/institutions` every test of this file is skipped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.mappings import Mappings
from gateway.resources import mappings_dir
from tests import contract_tables as ct
from tests.contract_tables import (
    CONTRACTS,
    GENDER,
    VOCABULARY,
    ContractParseError,
    Contracts,
    Entry,
)

pytestmark = [
    pytest.mark.contracts,
    pytest.mark.skipif(
        not CONTRACTS.is_dir(),
        reason="../shared/institutions is not beside this clone: the contract cross-check runs "
        "in CI only",
    ),
]


@dataclass(frozen=True)
class Check:
    id: str
    contract: str  # the contract the list is read from
    field: str  # the institution's field, and what the contract maps it to
    map_id: str  # the ConceptMap the adapter translates the field with
    target: str | None  # the group target passed to translate(); None: membership only
    read: Callable[[Contracts], list[Entry]]
    # a code the map knows that the contract does not list: "error" (closed list or whole
    # table), "nothing" (allowed, but must yield nothing in `target`)
    unlisted: str = "error"
    prefix: str = ""  # with "error": only the map's codes that start with it


SETTING, RELATIONSHIP, STAGE = "setting", "perpetrator-relationship", "case-stage"
FORM, OUTCOME = "violence-form", "outcome"

# field → map id → target. Map ids as the adapters use them: adapters/mvr/adapter.py,
# adapters/prosecution/{adapter,victims}.py (criminal-code, prosecution-*),
# adapters/ozd/adapter.py, adapters/helpline/{contact,adapter}.py, adapters/schools/adapter.py
# (forms with context {"perpetrator": <perpetrator>}), adapters/health/{adapter,patient,
# diagnoses}.py (the place map is looked up with the ICD-10 code's fourth character).
CHECKS: tuple[Check, ...] = (
    # criminal-code.md (shared by mvr and prosecution)
    Check("cc-forms", "criminal-code.md", "article (table) → forms",
          "criminal-code", FORM, ct.criminal_code_forms),
    Check("cc-outcome-completed", "criminal-code.md",
          "article (table), completed {attempt: false} → outcome implied",
          "criminal-code", OUTCOME, ct.criminal_code_outcome_completed),
    Check("cc-outcome-attempted", "criminal-code.md",
          "article, attempted {attempt: true} → no outcome (Attempts)",
          "criminal-code", OUTCOME, ct.criminal_code_outcome_attempted),
    Check("cc-injury-outcome", "criminal-code.md",
          "МВР InjuryCode → outcome (Outcome, in this order, item 1)",
          "mvr-injury-code", OUTCOME, ct.injury_code_outcomes),
    # mvr.md
    Check("mvr-report-type", "mvr.md", "m:ReportType → case-stage (CANCEL withdraws)",
          "mvr-report-type", STAGE, ct.mvr_report_type),
    Check("mvr-setting", "mvr.md", "m:SettingCode → setting",
          "mvr-setting-code", SETTING, ct.mvr_setting),
    Check("mvr-injury-list", "mvr.md", "m:Victim/m:InjuryCode closed list",
          "mvr-injury-code", None, ct.mvr_injury_list),
    Check("mvr-sex", "mvr.md", "m:Victim/m:Sex → sex",
          "mvr-sex", GENDER, ct.mvr_sex),
    Check("mvr-relation", "mvr.md", "m:Perpetrator/m:RelationCode → relationship",
          "mvr-relation-code", RELATIONSHIP, ct.mvr_relation),
    # ozd.md
    Check("ozd-forms", "ozd.md", "violenceForms → forms",
          "ozd-violence-forms", FORM, ct.ozd_forms),
    Check("ozd-forms-setting", "ozd.md", "violenceForms → setting implied",
          "ozd-violence-forms", SETTING, ct.ozd_forms_setting),
    Check("ozd-perpetrator", "ozd.md", "perpetrator → relationship",
          "ozd-perpetrator", RELATIONSHIP, ct.ozd_perpetrator),
    Check("ozd-status", "ozd.md", "status → case-stage (анулиран withdraws)",
          "ozd-status", STAGE, ct.ozd_status),
    Check("ozd-source", "ozd.md", "source closed list",
          "ozd-source", None, ct.ozd_source_list),
    Check("ozd-sex", "ozd.md", "child.sex → sex",
          "ozd-sex", GENDER, ct.ozd_sex),
    # prosecution.md
    Check("prosecution-event", "prosecution.md", "p:Event → case-stage (ОТМЕНЕНО withdraws)",
          "prosecution-event", STAGE, ct.prosecution_event),
    Check("prosecution-relation", "prosecution.md", "p:AccusedRelation → relationship",
          "prosecution-accused-relation", RELATIONSHIP, ct.prosecution_relation),
    Check("prosecution-gender", "prosecution.md", "p:Victim/p:Gender → sex",
          "prosecution-gender", GENDER, ct.prosecution_gender),
    Check("prosecution-number-kind", "prosecution.md", "p:PersonalNumber/@kind closed list",
          "prosecution-personal-number-kind", None, ct.prosecution_number_kind),
    # helpline.md
    Check("helpline-forms", "helpline.md", "categories AV.* → forms",
          "helpline-categories", FORM, ct.helpline_forms),
    Check("helpline-setting", "helpline.md", "categories AV.* → setting implied",
          "helpline-categories", SETTING, ct.helpline_setting),
    Check("helpline-channel", "helpline.md", "channel closed list",
          "helpline-channel", None, ct.helpline_channel_list),
    Check("helpline-caller", "helpline.md", "caller closed list",
          "helpline-caller", None, ct.helpline_caller_list),
    Check("helpline-age-band", "helpline.md", "child.ageBand closed list",
          "helpline-age-band", None, ct.helpline_age_band_list),
    Check("helpline-sex", "helpline.md", "child.sex → sex",
          "helpline-sex", GENDER, ct.helpline_sex),
    # schools.md
    Check("schools-forms-list", "schools.md", "forms closed list",
          "schools-forms", None, ct.school_forms_list),
    Check("schools-forms", "schools.md", "forms × perpetrator {perpetrator: …} → forms",
          "schools-forms", FORM, ct.school_forms),
    Check("schools-perpetrator-list", "schools.md", "perpetrator closed list",
          "schools-perpetrator", None, ct.school_perpetrator_list),
    Check("schools-relationship", "schools.md", "perpetrator → relationship",
          "schools-perpetrator", RELATIONSHIP, ct.school_relationship),
    Check("schools-level-list", "schools.md", "level closed list",
          "schools-level", None, ct.school_level_list),
    Check("schools-level", "schools.md", "level → case-stage",
          "schools-level", STAGE, ct.school_level),
    Check("schools-sex", "schools.md", "victim_sex → sex",
          "schools-sex", GENDER, ct.school_sex),
    # health.md
    Check("health-event", "health.md", "MessageHeader.eventCoding → case-stage",
          "health-event", STAGE, ct.health_event),
    Check("health-gender", "README.md", "Patient.gender → sex (README §6 sexes)",
          "health-gender", GENDER, ct.health_gender),
    Check("health-t74-list", "health.md", "T74 fourth character closed list",
          "health-icd10-maltreatment", None, ct.health_t74_list, prefix="T74."),
    Check("health-maltreatment-forms", "health.md", "ICD-10 T74.x, Y06.x, Y07.x → forms",
          "health-icd10-maltreatment", FORM, ct.health_maltreatment_forms),
    Check("health-maltreatment-relationship", "health.md",
          "ICD-10 T74.x (none), Y06/Y07 fourth character → relationship",
          "health-icd10-maltreatment", RELATIONSHIP, ct.health_maltreatment_relationship),
    Check("health-assault-forms", "health.md", "ICD-10 X85–Y04, Y08, Y09, Y05 → forms",
          "health-icd10-assault", FORM, ct.health_assault_forms),
    Check("health-place", "health.md",
          "assault fourth character (place of occurrence) → setting; others none",
          "health-icd10-place", SETTING, ct.health_place_setting, unlisted="nothing"),
    Check("health-injury", "health.md", "ICD-10 S00–T71 → outcome injured",
          "health-icd10-injury", OUTCOME, ct.health_injury),
)  # fmt: skip

CHECK = {c.id: c for c in CHECKS}


def cross_check(mappings: Mappings, check: Check, entries: Sequence[Entry]) -> list[str]:
    """Every disagreement between the contract's entries and the ConceptMap, one line each,
    naming the contract line."""
    if not entries:
        raise ContractParseError(f"{check.contract}: nothing read for {check.field}")
    allowed = VOCABULARY.get(check.target or "")
    for e in entries:
        if allowed and e.targets is not None and not e.targets <= set(allowed):
            raise ContractParseError(
                f"{e.where}: `{e.code}` → {sorted(e.targets)} is not in the canonical "
                f"{check.target} codes {list(allowed)}: misread, or a new canonical code "
                f"| {e.line}"
            )
    known = mappings.codes(check.map_id)
    if not known:
        return [
            f"ConceptMap `{check.map_id}` is missing or empty: {check.contract} lists "
            f"{len({e.code for e in entries})} codes for {check.field}"
        ]
    problems: list[str] = []
    listed: dict[str, Entry] = {}
    for e in entries:
        listed.setdefault(e.code, e)
    for code, e in listed.items():
        if not mappings.knows(check.map_id, code):
            problems.append(
                f"{e.where}: `{code}` ({check.field}) is unknown to ConceptMap "
                f"`{check.map_id}` | {e.line}"
            )
    for code in sorted(known - set(listed)):
        if check.unlisted == "error" and code.startswith(check.prefix):
            problems.append(
                f"ConceptMap `{check.map_id}` knows `{code}`, which {check.contract} does not "
                f"list for {check.field}"
            )
        elif check.unlisted == "nothing" and check.target is not None:
            got = mappings.translate(check.map_id, code, check.target)
            if got:
                problems.append(
                    f"ConceptMap `{check.map_id}` maps `{code}` to {got} in {check.target}; "
                    f"{check.contract} lists no target for it ({check.field})"
                )
    for e in entries:
        if check.target is None or e.targets is None or not mappings.knows(check.map_id, e.code):
            continue
        context = dict(e.context) or None
        got = mappings.translate(check.map_id, e.code, check.target, context)
        if set(got or ()) != e.targets:
            where = f" with {context}" if context else ""
            problems.append(
                f"{e.where}: `{e.code}`{where} → {sorted(e.targets)} in the contract, "
                f"ConceptMap `{check.map_id}` gives {sorted(got or ())} in {check.target} "
                f"| {e.line}"
            )
    return problems


@pytest.fixture(scope="module")
def contracts() -> Contracts:
    return Contracts(CONTRACTS)


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return Mappings.load(mappings_dir())


def _pairs(entries: Sequence[Entry]) -> int:
    return sum(e.targets is not None for e in entries)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_contract_table_matches_its_conceptmap(
    check: Check, contracts: Contracts, mappings: Mappings
) -> None:
    entries = check.read(contracts)
    problems = cross_check(mappings, check, entries)
    assert not problems, (
        f"{check.contract} {check.field} vs ConceptMap `{check.map_id}` "
        f"({len({e.code for e in entries})} codes, {_pairs(entries)} pairs):\n  "
        + "\n  ".join(problems)
    )


def test_every_conceptmap_is_cross_checked() -> None:
    """A new ConceptMap needs its contract check here."""
    ids = {json.loads(p.read_text(encoding="utf-8"))["id"] for p in mappings_dir().rglob("*.json")}
    assert ids - {c.map_id for c in CHECKS} == set()
    assert {c.map_id for c in CHECKS} - ids == set(), "a checked ConceptMap is missing"


# -- each check can fail ---------------------------------------------------------------------


def _group(raw: dict[str, Any], target_suffix: str) -> dict[str, Any]:
    groups: list[dict[str, Any]] = raw["group"]
    (group,) = [g for g in groups if g["target"].endswith(target_suffix)]
    return group


def _element(raw: dict[str, Any], target_suffix: str, code: str) -> dict[str, Any]:
    elements: list[dict[str, Any]] = _group(raw, target_suffix)["element"]
    (element,) = [e for e in elements if e["code"] == code]
    return element


def _retarget(suffix: str, code: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        (t,) = [t for t in _element(raw, suffix, code)["target"] if t.get("code") == old]
        t["code"], t["equivalence"] = new, "wider"

    return edit


def _drop(suffix: str, code: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        group = _group(raw, suffix)
        group["element"] = [e for e in group["element"] if e["code"] != code]

    return edit


def _add(suffix: str, code: str, target: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        element = {"code": code, "target": [{"code": target, "equivalence": "equivalent"}]}
        _group(raw, suffix)["element"].append(element)

    return edit


def _undepend(suffix: str, code: str, target: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        for t in _element(raw, suffix, code)["target"]:
            if t.get("code") == target:
                t.pop("dependsOn", None)

    return edit


def _unmatched_to(suffix: str, code: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        _element(raw, suffix, code)["target"] = [{"code": new, "equivalence": "wider"}]

    return edit


# (check, file under mappings/, edit, the code the new problem must name)
MUTATIONS = [
    ("cc-forms", "shared/criminal-code.json", _retarget(FORM, "155а", "online", "exploitation"),
     "`155а`"),
    ("cc-outcome-completed", "shared/criminal-code.json",
     _retarget(OUTCOME, "128", "injured", "fatal"), "`128`"),
    ("mvr-setting", "mvr/mvr-setting-code.json", _drop(SETTING, "5"), "`5`"),
    ("mvr-injury-list", "mvr/mvr-injury-code.json", _add(OUTCOME, "5", "fatal"), "`5`"),
    ("ozd-status", "ozd/ozd-status.json", _unmatched_to(STAGE, "анулиран", "closed"),
     "`анулиран`"),
    ("ozd-forms-setting", "ozd/ozd-violence-forms.json",
     _unmatched_to(SETTING, "тормоз", "school"), "`тормоз`"),
    ("prosecution-gender", "prosecution/prosecution-gender.json",
     _retarget(GENDER, "0", "unknown", "other"), "`0`"),
    ("helpline-setting", "helpline/helpline-categories.json",
     _retarget(SETTING, "AV.DVW", "family", "online"), "`AV.DVW`"),
    ("helpline-channel", "helpline/helpline-channel.json",
     _add("helpline/channel", "fax", "fax"), "`fax`"),
    ("schools-forms", "schools/schools-forms.json", _undepend(FORM, "кибер", "bullying"),
     "`кибер`"),
    ("health-place", "health/health-icd10-place.json", _unmatched_to(SETTING, "7", "other"),
     "`7`"),
    ("health-maltreatment-relationship", "health/health-icd10-maltreatment.json",
     _retarget(RELATIONSHIP, "Y07", "unknown", "parent"), "`Y07`"),
    ("health-assault-forms", "health/health-icd10-assault.json", _drop(FORM, "Y09"), "`Y09`"),
]  # fmt: skip


@pytest.fixture
def mapping_copy(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), folder)
    yield folder


@pytest.mark.parametrize(
    ("check_id", "file", "edit", "named"), MUTATIONS, ids=[f"{m[0]}:{m[3]}" for m in MUTATIONS]
)
def test_an_altered_conceptmap_is_reported(
    check_id: str,
    file: str,
    edit: Callable[[dict[str, Any]], None],
    named: str,
    mapping_copy: Path,
    contracts: Contracts,
    mappings: Mappings,
) -> None:
    check = CHECK[check_id]
    entries = check.read(contracts)
    path = mapping_copy / file
    raw = json.loads(path.read_text(encoding="utf-8"))
    edit(raw)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")

    before = set(cross_check(mappings, check, entries))
    after = set(cross_check(Mappings.load(mapping_copy), check, entries))

    new = after - before
    assert new, f"altering {file} went unnoticed by {check_id}"
    assert all(named in p for p in new), new


# -- a contract change fails too; an unreadable contract fails loudly ---------------------------


@pytest.fixture
def contract_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "institutions"
    shutil.copytree(CONTRACTS, folder)
    return folder


def _edit_contract(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} changed: update this demonstration ({old!r} is gone)"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


CONTRACT_EDITS = [
    ("mvr-setting", "mvr.md", "`5` internet → `online`", "`5` internet → `public-place`",
     "mvr.md:"),
    ("helpline-channel", "helpline.md", "`email`, `sms`", "`email`, `sms`, `viber`", "`viber`"),
    ("schools-forms", "schools.md", "| `социален` | `bullying` |",
     "| `социален` | `bullying`, `psychological` |", "`социален`"),
    ("health-injury", "health.md", "`S00` to `T71`", "`S00` to `T72`", "`T72`"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("check_id", "name", "old", "new", "named"),
    CONTRACT_EDITS,
    ids=[e[0] for e in CONTRACT_EDITS],
)
def test_an_altered_contract_is_reported(
    check_id: str,
    name: str,
    old: str,
    new: str,
    named: str,
    contract_copy: Path,
    mappings: Mappings,
) -> None:
    check = CHECK[check_id]
    before = set(cross_check(mappings, check, check.read(Contracts(CONTRACTS))))
    _edit_contract(contract_copy, name, old, new)
    after = set(cross_check(mappings, check, check.read(Contracts(contract_copy))))
    new_problems = after - before
    assert new_problems, f"changing {name} went unnoticed by {check_id}"
    assert all(named in p for p in new_problems), new_problems


UNREADABLE = [
    ("ozd-forms", "ozd.md", "| value | forms | setting implied |", "| value | forms |",
     "ozd.md"),
    ("mvr-relation", "mvr.md", "`7` acquaintance → `acquaintance`",
     "`7` acquaintance `acquaintance`", "codes without a target"),
    ("cc-forms", "criminal-code.md", "| 182 |", "| §182 |", "criminal-code.md:"),
    ("health-assault-forms", "health.md", "| `Y05` sexual assault", "| `Z05` sexual assault",
     "neither all maltreatment"),
    ("helpline-setting", "helpline.md", "| `psychological` | `family` |",
     "| `psychological` | family |", "helpline.md:"),
    ("cc-outcome-completed", "criminal-code.md", "| `fatal` |", "| fatal |", "criminal-code.md:"),
    ("schools-sex", "schools.md", "`ж` female", "`ж` girl", "no sex for `ж`"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("check_id", "name", "old", "new", "message"),
    UNREADABLE,
    ids=[f"{u[0]}:{u[1]}" for u in UNREADABLE],
)
def test_an_unreadable_contract_table_fails_loudly(
    check_id: str,
    name: str,
    old: str,
    new: str,
    message: str,
    contract_copy: Path,
    mappings: Mappings,
) -> None:
    _edit_contract(contract_copy, name, old, new)
    check = CHECK[check_id]
    with pytest.raises(ContractParseError, match=message):
        cross_check(mappings, check, check.read(Contracts(contract_copy)))
