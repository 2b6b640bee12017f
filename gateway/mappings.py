"""Code tables as data: FHIR R4 ConceptMaps loaded at start-up, and a small translation engine.

Each file under `mappings/` is one ConceptMap. A map is addressed by its `id`; each group maps
one source system to one canonical target system (`violence-form`, `outcome`, `setting`...), so
one source code may yield several targets in several systems. A target may carry `dependsOn`
(R4: `property` + `value`): it applies only when the caller's context has that value, which is
how a translation depends on another element of the message.

A code with no element is *unknown* (`translate` returns None): for a closed list the adapter
reports it as an error naming the field and the list; an element whose targets are all
`unmatched` is *known* and yields nothing.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from fhir.resources.R4B.conceptmap import ConceptMap
from pydantic import ValidationError

from gateway.codes import CANONICAL_BASE
from gateway.errors import ConfigurationError


def normalise(code: str) -> str:
    """README §3: trimmed and NFC-normalised before lookup; case stays exact."""
    return unicodedata.normalize("NFC", code.strip())


@dataclass(frozen=True, slots=True)
class _Target:
    code: str | None
    depends_on: tuple[tuple[str, str], ...]


class Mappings:
    """Every ConceptMap of the mapping set, indexed for lookup."""

    def __init__(self, maps: Iterable[dict[str, object]]) -> None:
        # (map id, target name) -> source code -> targets
        self._index: dict[tuple[str, str], dict[str, list[_Target]]] = defaultdict(dict)
        self._sources: dict[str, str] = {}
        versions: set[str] = set()
        problems: list[str] = []
        for raw in maps:
            try:
                cm = ConceptMap.model_validate(raw)
            except (ValidationError, KeyError, ValueError) as exc:
                problems.append(f"{raw.get('id', '?')}: not a valid ConceptMap: {exc}")
                continue
            if not cm.id or not cm.version:
                problems.append(f"{cm.url}: a ConceptMap needs an id and a version")
                continue
            versions.add(cm.version)
            for group in cm.group or []:
                target = (group.target or "").removeprefix(f"{CANONICAL_BASE}/CodeSystem/")
                self._sources.setdefault(cm.id, group.source or "")
                table = self._index[(cm.id, target)]
                for element in group.element or []:
                    code = normalise(element.code or "")
                    targets = table.setdefault(code, [])
                    for t in element.target or []:
                        depends = tuple(
                            (str(d.property), str(d.value)) for d in (t.dependsOn or [])
                        )
                        code_out = t.code if t.equivalence != "unmatched" else None
                        targets.append(_Target(code_out, depends))
        if len(versions) > 1:
            problems.append(f"mapping files disagree on the version: {sorted(versions)}")
        if problems:
            raise ConfigurationError("mappings: " + "; ".join(problems))
        self.version = versions.pop() if versions else "none"
        # map id -> every source code of any of its groups (looked up for every code read)
        self._known: dict[str, frozenset[str]] = {}
        for (map_id, _), table in self._index.items():
            self._known[map_id] = self._known.get(map_id, frozenset()).union(table)

    @classmethod
    def load(cls, folder: Path) -> Mappings:
        files = sorted(folder.rglob("*.json"))
        if not files:
            raise ConfigurationError(f"no ConceptMap files under {folder}")
        maps: list[dict[str, object]] = []
        for path in files:
            try:
                maps.append(orjson.loads(path.read_bytes()))
            except orjson.JSONDecodeError as exc:
                raise ConfigurationError(f"{path}: not JSON: {exc}") from exc
        return cls(maps)

    def knows(self, map_id: str, code: str) -> bool:
        """True when any group of the map has an element for the code."""
        return normalise(code) in self._known.get(map_id, ())

    def source_system(self, map_id: str) -> str:
        return self._sources.get(map_id, "")

    def translate(
        self,
        map_id: str,
        code: str,
        target: str,
        context: Mapping[str, str] | None = None,
    ) -> list[str] | None:
        """Target codes for `code` in the `target` system, or None when the code is unknown to
        the map. Targets with `dependsOn` apply only when `context` has every named value."""
        code = normalise(code)
        if code not in self._known.get(map_id, ()):
            return None
        found: list[str] = []
        for t in self._index.get((map_id, target), {}).get(code, []):
            if t.code is None or t.code in found:
                continue
            if not t.depends_on or all(
                (context or {}).get(prop) == value for prop, value in t.depends_on
            ):
                found.append(t.code)
        return found

    def codes(self, map_id: str) -> set[str]:
        """Every source code the map knows (for closed-list checks and contract cross-checks)."""
        return set(self._known.get(map_id, ()))
