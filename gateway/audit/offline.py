"""The inspector's verifier: bundles, exports and consistency proofs, checked with the public key
and the files alone (no store, no configuration). Each check returns its findings in order, the
first bad record first; no finding means the file is what the gateway signed.

Two exports are told apart by their first line: the raw records (`export-records`, a whole log
from record 1) and the FHIR AuditEvents of a period (`gateway audit export`, each event carrying
its record bytes and inclusion proof, see `fhir.with_evidence`).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit import fhir, merkle, note
from gateway.audit.chain import Entry, Record, canonical
from gateway.audit.proofs import BUNDLE_FORMAT, CONSISTENCY_FORMAT


@dataclass(slots=True)
class Report:
    checked: str = ""
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _checkpoint(text: Any, key: Ed25519PublicKey, report: Report) -> note.Checkpoint | None:
    if not isinstance(text, str):
        report.findings.append("checkpoint: missing")
        return None
    try:
        return note.parse(text, key)
    except note.CheckpointError as exc:
        report.findings.append(f"checkpoint: {exc}")
        return None


def verify_bundle(data: bytes, key: Ed25519PublicKey) -> Report:
    report = Report()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Report(findings=["bundle: not JSON"])
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        return Report(findings=[f"bundle: not a {BUNDLE_FORMAT} file"])
    cp = _checkpoint(doc.get("checkpoint"), key, report)
    if cp is None:
        return report
    records = doc.get("records")
    if not isinstance(records, list) or not records:
        report.findings.append("bundle: no records")
        return report
    for position, item in enumerate(records, 1):
        problem = _bundle_record(item, doc.get("receipt_id"), cp)
        if problem:
            name = item.get("seq") if isinstance(item, dict) else None
            report.findings.append(
                f"record {name if name is not None else f'#{position}'}: {problem}"
            )
    report.checked = (
        f"{len(records)} records of receipt {doc.get('receipt_id')} "
        f"in the signed log of {cp.size} records ({cp.origin}, {cp.at})"
    )
    return report


def _bundle_record(item: Any, receipt_id: Any, cp: note.Checkpoint) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("record"), str):
        return "malformed entry"
    raw = item["record"].encode()
    try:
        fields = orjson.loads(raw)
        proof = [bytes.fromhex(h) for h in item.get("inclusion", [])]
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return "its bytes or its proof are malformed"
    seq = fields.get("seq") if isinstance(fields, dict) else None
    if not isinstance(seq, int) or seq < 1 or seq != item.get("seq"):
        return "its sequence number differs from the one in its bytes"
    if fields.get("receipt_id") != receipt_id:
        return "it is about another receipt"
    leaf = merkle.leaf_hash(raw)
    if item.get("leaf_hash") not in (None, leaf.hex()):
        return "its bytes do not match its leaf hash (edited)"
    if not merkle.verify_inclusion(leaf, seq - 1, cp.size, proof, cp.root):
        return "not in the signed log: its inclusion proof does not lead to the checkpoint's root"
    return None


def verify_export(lines: Iterable[bytes], checkpoint: str, key: Ed25519PublicKey) -> Report:
    """An export (one canonical record per line) against a signed checkpoint: the chain, the
    order, and the Merkle root of its first `size` records."""
    report = Report()
    cp = _checkpoint(checkpoint, key, report)
    if cp is None:
        return report
    frontier = merkle.Frontier()
    prev = ""
    for line in lines:
        raw = line.rstrip(b"\n")
        if not raw:
            continue
        position = frontier.size + 1
        try:
            fields = orjson.loads(raw)
            seq, linked = fields["seq"], fields["prev"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            report.findings.append(f"record {position}: line {position} is not a record")
            seq, linked = None, None
        if seq is not None and seq != position:
            report.findings.append(
                f"record {position}: line {position} holds record {seq} "
                "(records removed or reordered)"
            )
        elif linked is not None and linked != prev and position > 1:
            report.findings.append(
                f"record {position - 1}: edited (record {position} does not follow it)"
            )
        prev = hashlib.sha256(raw).hexdigest()
        frontier.add(merkle.leaf_hash(raw))
        if frontier.size == cp.size:
            _close(report, frontier, prev, cp)
    if frontier.size < cp.size:
        report.findings.append(
            f"record {frontier.size + 1}: missing: the export ends at record {frontier.size} "
            f"but the checkpoint covers {cp.size} (truncated)"
        )
    report.checked = (
        f"{frontier.size} records; records 1..{min(frontier.size, cp.size)} "
        f"match the signed log of {cp.size} ({cp.origin}, {cp.at})"
    )
    return report


def verify_any_export(lines: Iterable[bytes], checkpoint: str, key: Ed25519PublicKey) -> Report:
    """An export of either kind, told apart by its first line."""
    stream: Iterator[bytes] = iter(lines)
    first = next((line for line in stream if line.strip()), b"")
    rest = itertools.chain([first], stream)
    try:
        fhir_lines = orjson.loads(first).get("resourceType") == "AuditEvent"
    except (orjson.JSONDecodeError, AttributeError):
        fhir_lines = False
    return (verify_fhir_export if fhir_lines else verify_export)(rest, checkpoint, key)


def _record(raw: bytes) -> Record:
    """The record `raw` stands for, if `raw` is exactly its canonical bytes."""
    fields = orjson.loads(raw)
    if not isinstance(fields, dict):
        raise ValueError("not a record")
    seq, at, prev = fields.pop("seq"), fields.pop("at"), fields.pop("prev")
    for name in ("notification_ids", "children"):
        fields[name] = tuple(fields.get(name, ()))
    entry = Entry(**fields)
    if not isinstance(seq, int) or canonical(seq, at, entry, prev) != raw:
        raise ValueError("not canonical")
    return Record(seq, at, entry, prev, hashlib.sha256(raw).hexdigest())


def _first_difference(shown: Mapping[str, Any], rendered: Mapping[str, Any]) -> str:
    keys = list(rendered) + [k for k in shown if k not in rendered]
    return next((k for k in keys if shown.get(k) != rendered.get(k)), "?")


def _event(line: bytes, cp: note.Checkpoint) -> tuple[Record | None, str | None]:
    """The record an event stands for (None if it cannot be read) and its first problem."""
    try:
        event = orjson.loads(line)
        if not isinstance(event, dict) or event.get("resourceType") != "AuditEvent":
            return None, "not an AuditEvent"
        raw, proof = fhir.evidence(event)
    except orjson.JSONDecodeError:
        return None, "not JSON"
    except fhir.EvidenceError as exc:
        return None, str(exc)
    try:
        rec = _record(raw)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None, "its record bytes are not a canonical audit record (edited)"
    return rec, _problem(event, rec, raw, proof, cp)


def _problem(
    event: dict[str, Any],
    rec: Record,
    raw: bytes,
    proof: fhir.Inclusion | None,
    cp: note.Checkpoint,
) -> str | None:
    if event.get("id") != rec.hash:
        return "its id is not the SHA-256 of its record bytes (edited)"
    if proof is None:
        return "it carries no inclusion proof (exported without a checkpoint)"
    if proof.tree_size != cp.size:
        return (
            f"its inclusion proof is in a tree of {proof.tree_size} records, "
            f"the checkpoint signs {cp.size}"
        )
    index = rec.seq - 1
    leaf = merkle.leaf_hash(raw)
    if proof.leaf_index != index or not merkle.verify_inclusion(
        leaf, index, cp.size, proof.path, cp.root
    ):
        return "not in the signed log: its inclusion proof does not lead to the checkpoint's root"
    # The readable part must be what the signed bytes render to. The purpose of use is the
    # configured legal basis, not part of the record: it is taken from the event itself.
    shown = fhir.without_evidence(event)
    purpose = shown.get("purposeOfEvent")
    basis: dict[str, str] = {}
    if isinstance(purpose, list) and purpose and isinstance(purpose[0], dict):
        basis[fhir.basis_key(rec)] = str(purpose[0].get("text", ""))
    rendered = fhir.render(rec, basis)
    if shown != rendered:
        return (
            "its readable content differs from its signed record "
            f"({_first_difference(shown, rendered)})"
        )
    return None


def verify_fhir_export(lines: Iterable[bytes], checkpoint: str, key: Ed25519PublicKey) -> Report:
    """AuditEvents of a period, each against the signed checkpoint: its record bytes hash to its
    id, they are in the signed tree, its readable content is what they render to, and the
    period's records are consecutive and linked (a missing or moved record is named)."""
    report = Report()
    cp = _checkpoint(checkpoint, key, report)
    if cp is None:
        return report
    count, first, last = 0, 0, None
    previous: Record | None = None
    for position, line in enumerate((x for x in lines if x.strip()), 1):
        count += 1
        rec, problem = _event(line, cp)
        if problem:
            name = f"record {rec.seq}" if rec is not None else f"line {position}"
            report.findings.append(f"{name}: {problem}")
        if rec is None:
            continue
        if previous is not None:
            if rec.seq == previous.seq:
                report.findings.append(f"record {rec.seq}: repeated (it is in the export twice)")
            elif rec.seq < previous.seq:
                report.findings.append(
                    f"record {rec.seq}: out of order (it comes after record {previous.seq})"
                )
            elif rec.seq > previous.seq + 1:
                gap = f"{previous.seq + 1}" + (
                    f"..{rec.seq - 1}" if rec.seq - 1 > previous.seq + 1 else ""
                )
                report.findings.append(
                    f"record {gap}: missing between record {previous.seq} and record {rec.seq} "
                    "(the period's records must be consecutive: removed from the export)"
                )
            elif rec.prev_hash != previous.hash and not problem:
                report.findings.append(
                    f"record {rec.seq}: does not follow record {previous.seq} "
                    "(its prev link differs)"
                )
        if rec.seq == cp.size and cp.chain_head and rec.hash != cp.chain_head and not problem:
            report.findings.append(f"record {rec.seq}: edited (its hash is not the one signed)")
        first = first or rec.seq
        last = rec.seq if last is None else max(last, rec.seq)
        if previous is None or rec.seq > previous.seq:
            previous = rec
    span = f"records {first}..{last}" if last is not None else "no records"
    report.checked = (
        f"{count} AuditEvents ({span}), each in the signed log of {cp.size} records "
        f"({cp.origin}, {cp.at})"
    )
    return report


def _close(report: Report, frontier: merkle.Frontier, head: str, cp: note.Checkpoint) -> None:
    if cp.chain_head and head != cp.chain_head and not report.findings:
        report.findings.append(f"record {cp.size}: edited (its hash is not the one signed)")
    if frontier.root() != cp.root and not report.findings:
        report.findings.append(
            f"records 1..{cp.size} do not hash to the signed root (rewritten; the chain alone "
            "does not say where)"
        )


def verify_consistency(
    old_text: str, new_text: str, proof_data: bytes, key: Ed25519PublicKey
) -> Report:
    """Does the NEW checkpoint's log extend the OLD one's (RFC 6962 consistency proof)?"""
    report = Report()
    old = _checkpoint(old_text, key, report)
    new = _checkpoint(new_text, key, report)
    if old is None or new is None:
        return report
    try:
        doc = orjson.loads(proof_data)
        proof = [bytes.fromhex(h) for h in doc["proof"]]
        sizes = (doc["old_size"], doc["new_size"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return Report(findings=[f"consistency proof: not a {CONSISTENCY_FORMAT} file"])
    if sizes != (old.size, new.size):
        report.findings.append(
            f"consistency proof: it is from {sizes[0]} to {sizes[1]}, "
            f"the checkpoints are {old.size} and {new.size}"
        )
    elif not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
        report.findings.append(
            f"checkpoint {new.size} does not extend checkpoint {old.size}: "
            f"records 1..{old.size} were rewritten, or the proof is not theirs"
        )
    report.checked = f"checkpoint {new.size} ({new.at}) extends checkpoint {old.size} ({old.at})"
    return report
