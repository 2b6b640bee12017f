"""The inspector's verifier: bundles, exports and consistency proofs, checked with the public key
and the files alone (no store, no configuration). Each check returns its findings in order, the
first bad record first; no finding means the file is what the gateway signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit import merkle, note
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
