"""The conformance suite every adapter passes: golden samples, the profile, located errors,
privacy, all through the adapter's real transport (run by `make test` and `gateway adapter test`).

An adapter folder carries `samples/<name>` messages, each with `samples/expected/<name>.json`
(`{"status", "notifications"}`: the HTTP status and the flattened canonical notifications the
sample gives when sent alone), and `samples/invalid/<name>` messages with
`samples/invalid/expected/<name>.json` (`{"status", "problems": [[path, code], ...]}`).
`samples/personal-data.txt` lists the personal values in the samples, which must appear nowhere
after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from adapters.registry import load_adapters
from gateway import profile
from gateway.adapter import Adapter
from gateway.errors import PROBLEM_CODES
from gateway.kit.local import LocalGateway
from gateway.resources import mappings_dir
from gateway.transports.xml import parse_xml

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"
#: Differs from run to run, so golden files leave it out.
VOLATILE = ("received_at",)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.what}"


def samples(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_file() and p.name != "personal-data.txt")


def expected_path(sample: Path) -> Path:
    return sample.parent / "expected" / f"{sample.name}.json"


def observed(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = [profile.flatten(b) for b in bundles]
    return [{k: v for k, v in f.items() if k not in VOLATILE} for f in flat]


def answer_problems(response: httpx.Response) -> list[list[str]]:
    """(path, code) of every problem an answer lists, whatever the transport's syntax."""
    kind = response.headers.get("content-type", "")
    found: list[list[str]] = []
    if "xml" in kind:
        root = parse_xml(response.content)
        for problem in root.iter("{*}Problem"):
            found.append([problem.findtext("{*}Path") or "", problem.findtext("{*}Code") or ""])
        return sorted(found)
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue", []):
            codes = [c.get("code", "") for c in issue.get("details", {}).get("coding", [])]
            found.append([(issue.get("expression") or [""])[0], codes[0] if codes else ""])
    for result in body.get("results", []):
        at = result.get("line", result.get("row"))
        for error in result.get("errors", []):
            where = error.get("pointer", error.get("column", ""))
            found.append([f"{at}:{where}", error.get("code", "")])
    for error in body.get("errors", []):
        found.append([error.get("pointer", error.get("column", "")), error.get("code", "")])
    return sorted(found)


def check_registration(adapter: Adapter) -> Iterator[Finding]:
    folder = ADAPTERS_DIR / adapter.slug
    for need, path in (("README.md", folder / "README.md"), ("samples/", folder / "samples")):
        if not path.exists():
            yield Finding("registration", adapter.slug, f"adapters/{adapter.slug}/{need} missing")
    if not list((mappings_dir() / adapter.slug).glob("*.json")):
        yield Finding("registration", adapter.slug, f"no ConceptMap in mappings/{adapter.slug}/")


def check_golden(adapter: Adapter, root: Path) -> Iterator[Finding]:
    """Each sample, sent alone, gives its expected answer and canonical notifications, and every
    canonical message validates against the profile and as FHIR R4."""
    for sample in samples(ADAPTERS_DIR / adapter.slug / "samples"):
        expected_file = expected_path(sample)
        with LocalGateway(adapter.slug, root / sample.name) as gw:
            response = gw.send_file(sample)
            bundles = gw.canonical()
        for bundle in bundles:
            problems = profile.validate(bundle)
            if problems:
                yield Finding("profile", sample.name, f"{problems[0]}")
            try:
                Bundle.model_validate(bundle)
            except (ValidationError, KeyError, ValueError) as exc:
                yield Finding("profile", sample.name, f"not valid FHIR R4: {exc}"[:300])
        if not expected_file.exists():
            yield Finding("golden", sample.name, f"no {expected_file.name}")
            continue
        expected = json.loads(expected_file.read_text("utf-8"))
        got = {"status": response.status_code, "notifications": observed(bundles)}
        if got != expected:
            yield Finding("golden", sample.name, _difference(expected, got))


def check_errors(adapter: Adapter, root: Path) -> Iterator[Finding]:
    """Each invalid sample is refused with exactly its expected, located problems."""
    invalid = samples(ADAPTERS_DIR / adapter.slug / "samples" / "invalid")
    if not invalid:
        yield Finding("errors", adapter.slug, "no samples/invalid/ message with its problems")
    for sample in invalid:
        with LocalGateway(adapter.slug, root / f"invalid-{sample.name}") as gw:
            response = gw.send_file(sample)
            kept = gw.canonical()
        problems = answer_problems(response)
        got: dict[str, Any] = {"status": response.status_code, "problems": problems}
        if kept:
            yield Finding("errors", sample.name, "a refused message produced notifications")
        for path, code in problems:
            if code not in PROBLEM_CODES or not path:
                yield Finding("errors", sample.name, f"problem {code!r} at {path!r} not located")
        expected_file = expected_path(sample)
        if not expected_file.exists():
            yield Finding("errors", sample.name, f"no {expected_file.name}")
        elif json.loads(expected_file.read_text("utf-8")) != got:
            expected = json.loads(expected_file.read_text("utf-8"))
            yield Finding("errors", sample.name, _difference(expected, got))


def check_privacy(adapter: Adapter, root: Path) -> Iterator[Finding]:
    """No listed personal value appears in any file the gateway wrote for the samples."""
    listing = ADAPTERS_DIR / adapter.slug / "samples" / "personal-data.txt"
    if not listing.exists():
        yield Finding("privacy", adapter.slug, "samples/personal-data.txt missing")
        return
    values = {v.strip() for v in listing.read_text("utf-8").splitlines() if v.strip()}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.endswith(".key"):
            data = path.read_bytes()
            for value in values:
                if value.encode() in data or value.encode("utf-16-le") in data:
                    yield Finding("privacy", str(path.relative_to(root)), "holds a personal value")


CHECKS: dict[str, Callable[[Adapter, Path], Iterator[Finding]]] = {
    "golden": check_golden,
    "errors": check_errors,
    "privacy": check_privacy,  # last: it reads what the other checks left under `root`
}


def run(slug: str, root: Path, checks: tuple[str, ...] = tuple(CHECKS)) -> list[Finding]:
    adapter = load_adapters()[slug]
    findings = list(check_registration(adapter))
    for name in checks:
        findings.extend(CHECKS[name](adapter, root))
    return findings


def write_expected(slug: str, sample: Path) -> Path:
    """Record what `sample` gives now as its expected result (review it before committing)."""
    with LocalGateway(slug) as gw:
        response = gw.send_file(sample)
        if sample.parent.name == "invalid":
            result: dict[str, Any] = {
                "status": response.status_code,
                "problems": answer_problems(response),
            }
        else:
            result = {"status": response.status_code, "notifications": observed(gw.canonical())}
    out = expected_path(sample)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return out


def _difference(expected: dict[str, Any], got: dict[str, Any]) -> str:
    for key in sorted(set(expected) | set(got)):
        if expected.get(key) != got.get(key):
            return f"{key}: expected {expected.get(key)!r:.300}, got {got.get(key)!r:.300}"
    return "differs"
