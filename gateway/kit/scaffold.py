"""`gateway adapter new`: a working adapter folder for a new institution, registered, no core edit.

It writes `adapters/<slug>/` (adapter, field reader, README, samples with expected results,
WSDL/XSD for SOAP), `mappings/<slug>/` (example ConceptMaps), one line in
`adapters/registry.py`, and the institution's code in the published CodeSystem `institution`.
The engineer then replaces the template contract with the institution's own, keeping
`gateway adapter test <slug>` green.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.codes import CANONICAL_BASE, code_system
from gateway.kit.conformance import expected_path

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SLUG = re.compile(r"^[a-z][a-z0-9]{1,30}$")
SOAP11 = ("http://schemas.xmlsoap.org/soap/envelope/", "http://schemas.xmlsoap.org/wsdl/soap/")
SOAP12 = ("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/wsdl/soap12/")


@dataclass(frozen=True, slots=True)
class Kind:
    fields: str
    template: str  # sample.<template>.tmpl and invalid.<template>.tmpl
    ext: str  # the sample files' extension
    media: str
    path: str
    soap: tuple[str, str] | None = None


KINDS: dict[str, Kind] = {
    "json": Kind("fields_json", "json", "json", '"application/json"', "/api/v1/{slug}/reports"),
    "ndjson": Kind(
        "fields_json", "json", "ndjson", '"application/x-ndjson", "application/ndjson"',
        "/api/v1/{slug}/batches",
    ),
    "csv": Kind("fields_csv", "csv", "csv", '"text/csv"', "/api/v1/{slug}/rows"),
    "soap11": Kind("fields_soap", "xml", "xml", '"text/xml"', "/soap/{slug}", SOAP11),
    "soap12": Kind("fields_soap", "xml", "xml", '"application/soap+xml"', "/soap/{slug}", SOAP12),
    # The contract's own FHIR institution owns /fhir/$process-message; others get their own.
    "fhir": Kind(
        "fields_fhir", "fhir", "json", '"application/fhir+json", "application/json"',
        "/fhir/{slug}/$process-message",
    ),
}  # fmt: skip


class ScaffoldError(Exception):
    pass


def _render(template: str, values: dict[str, str]) -> str:
    return (TEMPLATES / template).read_text("utf-8").format(**values)


def _concept_map(slug: str, name: str, target: str, elements: list[dict[str, object]]) -> str:
    cm_id = f"{slug}-{name}"
    groups: dict[str, list[dict[str, object]]] = {}
    for element in elements:
        groups.setdefault(str(element.pop("target_system", target)), []).append(element)
    return json.dumps(
        {
            "resourceType": "ConceptMap",
            "id": cm_id,
            "url": f"{CANONICAL_BASE}/ConceptMap/{cm_id}",
            "version": "2026-1",
            "name": cm_id.replace("-", "_"),
            "status": "draft",
            "description": f"Example {name} table of {slug}: replace with the contract's.",
            "group": [
                {"source": f"{CANONICAL_BASE}/source/{slug}/{name}", "target": t, "element": e}
                for t, e in groups.items()
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def _maps(slug: str) -> dict[str, str]:
    form, setting = code_system("violence-form"), code_system("setting")

    def target(code: str | None, system: str) -> dict[str, object]:
        item: dict[str, object] = {"target_system": system, "target": []}
        item["target"] = (
            [{"code": code, "equivalence": "equivalent"}]
            if code
            else [{"equivalence": "unmatched"}]
        )
        return item

    forms = [
        {"code": "example-physical", **target("physical", form)},
        {"code": "example-witness", **target("psychological", form)},
        {"code": "example-physical", **target(None, setting)},
        {"code": "example-witness", **target("family", setting)},
    ]
    gender = "http://hl7.org/fhir/administrative-gender"
    sexes = [{"code": c, **target(c, gender)} for c in ("female", "male", "unknown")]
    return {
        f"{slug}-forms.json": _concept_map(slug, "forms", form, forms),
        f"{slug}-sex.json": _concept_map(slug, "sex", gender, sexes),
    }


def new_adapter(project: Path, slug: str, kind: str, title: str | None = None) -> list[Path]:
    if not _SLUG.match(slug):
        raise ScaffoldError("a slug is lower-case letters and digits, starting with a letter")
    if kind not in KINDS:
        raise ScaffoldError(f"transport must be one of {', '.join(KINDS)}")
    folder = project / "adapters" / slug
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already")
    spec = KINDS[kind]
    cls = slug.capitalize() + "Adapter"
    namespace = f"urn:bg:{slug}:v1" if spec.soap else ""
    values = {
        "slug": slug,
        "upper": slug.upper(),
        "cls": cls,
        "kind": kind,
        "title": title or f"Institution {slug}",
        "path": spec.path.format(slug=slug),
        "namespace": namespace,
        "media": spec.media,
        "wsdl": f'HERE / "{slug}.wsdl"' if spec.soap else "None",
        "xsd": f'HERE / "{slug}.xsd"' if spec.soap else "None",
        "envelope_ns": spec.soap[0] if spec.soap else "",
        "wsdl_soap": spec.soap[1] if spec.soap else "",
        "soap_version": "SOAP 1.2" if kind == "soap12" else "SOAP 1.1",
    }
    files: dict[Path, str] = {
        folder / "__init__.py": f'"""{values["title"]}."""\n\nfrom .adapter import {cls}\n\n'
        f'__all__ = ["{cls}"]\n',
        folder / "adapter.py": _render("adapter.py.tmpl", values),
        folder / "fields.py": _render(f"{spec.fields}.py.tmpl", values),
        folder / "README.md": _render("README.md.tmpl", values),
        folder / "samples" / "personal-data.txt": "0443056096\n0443056097\n",
    }
    sample = _render(f"sample.{spec.template}.tmpl", values)
    invalid = _render(f"invalid.{spec.template}.tmpl", values)
    if spec.ext == "ndjson":
        sample = json.dumps(json.loads(sample), ensure_ascii=False) + "\n"
        invalid = json.dumps(json.loads(invalid), ensure_ascii=False) + "\n"
    files[folder / "samples" / f"example.{spec.ext}"] = sample
    files[folder / "samples" / "invalid" / f"example.{spec.ext}"] = invalid
    if spec.soap:
        files[folder / f"{slug}.wsdl"] = _render("service.wsdl.tmpl", values)
        files[folder / f"{slug}.xsd"] = _render("schema.xsd.tmpl", values)
    for name, text in _maps(slug).items():
        files[project / "mappings" / slug / name] = text + "\n"
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    _register(project, slug, cls)
    _publish_institution(project, slug, values["title"])
    written = list(files)
    for example in (folder / "samples" / f"example.{spec.ext}",
                    folder / "samples" / "invalid" / f"example.{spec.ext}"):  # fmt: skip
        written.append(_expected(project, slug, example))
    return written


def _register(project: Path, slug: str, cls: str) -> None:
    registry = project / "adapters" / "registry.py"
    text = registry.read_text("utf-8")
    anchor = "BUILTIN: dict[str, str] = {\n"
    if anchor not in text:
        raise ScaffoldError(f"cannot find the BUILTIN table in {registry}")
    line = f'    "{slug}": "adapters.{slug}:{cls}",\n'
    registry.write_text(text.replace(anchor, anchor + line, 1), "utf-8")


def _publish_institution(project: Path, slug: str, title: str) -> None:
    path = project / "profiles" / "CodeSystem-institution.json"
    system = json.loads(path.read_text("utf-8"))
    system["concept"].append(
        {"code": slug, "display": title, "definition": f"{title}; references start `{slug}:`."}
    )
    system["count"] = len(system["concept"])
    path.write_text(json.dumps(system, ensure_ascii=False, indent=2) + "\n", "utf-8")


def _expected(project: Path, slug: str, sample: Path) -> Path:
    """Recorded by a fresh process, which sees the new institution and adapter."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "adapter", "try", slug, str(sample), "--write-expected"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ScaffoldError(f"the scaffolded sample does not run: {done.stderr[-2000:]}")
    return expected_path(sample)
