"""`gateway audit report`: one self-contained HTML page for the security officer.

Volumes per institution and outcome, rejection reasons, certificates used (and those near
expiry), duplicates, dead letters, gaps in the sequence and the chain's verification, with
inline SVG bar charts: no script, no external file, so the page can be archived as it is.
Everything in it comes from the audit records, which hold no personal number or name.
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.audit.chain import Query, Record, Verdict, verify
from gateway.audit.export import records
from gateway.store.db import Database

NEAR_EXPIRY = timedelta(days=30)
_LISTED = 200  # rows per listing: the counts above it are always complete


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    not_after: datetime


def load_certificates(paths: Iterable[Path]) -> dict[str, Certificate]:
    """SHA-256 fingerprint (of the DER, as the audit records it) → subject and expiry, from PEM
    files or folders of them; files that are not certificates (keys) are skipped."""
    found: dict[str, Certificate] = {}
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.crt")) + sorted(path.rglob("*.pem"))
        else:
            files.append(path)
    for file in files:
        try:
            cert = x509.load_pem_x509_certificate(file.read_bytes())
        except (OSError, ValueError):
            continue
        der = cert.public_bytes(Encoding.DER)
        found[hashlib.sha256(der).hexdigest()] = Certificate(
            cert.subject.rfc4514_string(), cert.not_valid_after_utc
        )
    return found


@dataclass(slots=True)
class Summary:
    """What the page shows, counted in one pass over the period's records."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    by_institution: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    matrix: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: Counter[str] = field(default_factory=Counter)
    certificates: dict[str, tuple[str, int, str, str]] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)
    dead: list[Record] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    reads: int = 0

    def add(self, rec: Record) -> None:
        e = rec.entry
        self.records += 1
        if self.last_seq is not None and rec.seq != self.last_seq + 1:
            self.gaps.append((self.last_seq + 1, rec.seq - 1))
        self.first_seq = rec.seq if self.first_seq is None else self.first_seq
        self.last_seq = rec.seq
        who = e.institution or "(officer)"
        # Volumes count what happened to each message: the outcome of its decisive step.
        if e.kind in ("accepted", "duplicate", "out-of-scope", "rejected"):
            outcome = e.outcome if e.kind == "rejected" else e.kind
            self.by_institution[who] += 1
            self.by_outcome[outcome] += 1
            self.matrix[who][outcome] += 1
        if e.kind == "rejected":
            self.reasons[e.detail or "(no reason)"] += 1
        if e.kind == "duplicate":
            self.duplicates[who] += 1
        if e.kind == "dead-lettered":
            self.dead.append(rec)
        if e.kind == "read":
            self.reads += 1
        if e.cert_fp:
            inst, count, first, _ = self.certificates.get(e.cert_fp, (who, 0, rec.at, rec.at))
            self.certificates[e.cert_fp] = (inst, count + 1, first, rec.at)


def summarise(db: Database, query: Query) -> tuple[Summary, Verdict]:
    summary = Summary()
    for rec in records(db, query):
        summary.add(rec)
    return summary, db.read_sync(verify)


def build(
    db: Database,
    query: Query,
    certificates: Mapping[str, Certificate],
    now: datetime | None = None,
) -> str:
    summary, verdict = summarise(db, query)
    return render(summary, verdict, query, certificates, now or datetime.now(UTC))


# -- the page -----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.ok{color:#185c18;font-weight:bold}.bad{color:#a00;font-weight:bold}.warn{background:#fff0c0}
code{font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], numeric: int = 0) -> str:
    """`numeric`: how many trailing columns are right-aligned counts."""
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = [
            f'<td class="n">{_e(v)}</td>' if i >= len(row) - numeric else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def bar_chart(title: str, counts: Mapping[str, int]) -> str:
    """A horizontal bar chart as inline SVG."""
    if not counts:
        return f"<p>{_e(title)}: none.</p>"
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = max(v for _, v in items)
    row, label, width = 22, 160, 420
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 80}" '
        f'height="{row * len(items) + 28}" role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="14" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for i, (name, value) in enumerate(items):
        y = 24 + i * row
        length = max(1, round(width * value / top))
        parts += [
            f'<text x="0" y="{y + 14}" font-size="12">{_e(name)}</text>',
            f'<rect x="{label}" y="{y + 3}" width="{length}" height="{row - 6}" fill="#4a78b0"/>',
            f'<text x="{label + length + 6}" y="{y + 14}" font-size="12">{value}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def render(
    s: Summary,
    verdict: Verdict,
    query: Query,
    certificates: Mapping[str, Certificate],
    now: datetime,
) -> str:
    period = f"{query.since or 'the beginning'} – {query.until or 'now'}"
    status = (
        f'<p class="ok">Chain intact: {verdict.records} records verified.</p>'
        if verdict.ok
        else f'<p class="bad">Chain BROKEN: {len(verdict.findings)} finding(s).</p>'
        + "<ul>"
        + "".join(f"<li>{_e(f)}</li>" for f in verdict.findings)
        + "</ul>"
    )
    outcomes = sorted(s.by_outcome)
    volume_rows = [
        [inst, *(s.matrix[inst][o] for o in outcomes), s.by_institution[inst]]
        for inst in sorted(s.matrix)
    ]
    cert_rows = []
    for fp, (inst, count, first, last) in sorted(s.certificates.items(), key=lambda kv: kv[1][0]):
        known = certificates.get(fp)
        expiry = known.not_after.date().isoformat() if known else "unknown"
        near = known is not None and known.not_after - now < NEAR_EXPIRY
        cert_rows.append(
            (inst, fp, known.subject if known else "", expiry, near, first, last, count)
        )
    cert_html = ["<table><tr>"]
    cert_html += [
        f"<th>{h}</th>"
        for h in ("institution", "fingerprint (SHA-256)", "subject", "expires", "first", "last")
    ]
    cert_html.append("<th>records</th></tr>")
    for inst, fp, subject, expiry, near, first, last, count in cert_rows:
        flag = ' class="warn"' if near else ""
        mark = " (within 30 days)" if near else ""
        cert_html.append(
            f"<tr{flag}><td>{_e(inst)}</td><td><code>{_e(fp)}</code></td><td>{_e(subject)}</td>"
            f"<td>{_e(expiry + mark)}</td><td>{_e(first)}</td><td>{_e(last)}</td>"
            f'<td class="n">{count}</td></tr>'
        )
    cert_html.append("</table>")
    near_count = sum(1 for row in cert_rows if row[4])
    gaps = (
        _table(["missing from", "missing to"], s.gaps, 2)
        if s.gaps
        else "<p>No gaps: the period's sequence numbers are contiguous.</p>"
    )
    dead = _table(
        ["record", "at", "institution", "notification", "reason"],
        (
            (r.seq, r.at, r.entry.institution, ", ".join(r.entry.notification_ids), r.entry.detail)
            for r in s.dead[:_LISTED]
        ),
    )
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Audit report {_e(period)}</title><style>{_CSS}</style></head><body>",
        "<h1>Gateway audit report</h1>",
        f"<p>Period: <b>{_e(period)}</b>; {s.records} records"
        + (f" (sequence {s.first_seq}–{s.last_seq})" if s.first_seq is not None else "")
        + f"; {s.reads} reads of the audit; generated {_e(now.isoformat(timespec='seconds'))}.</p>",
        "<h2>Verification</h2>",
        status,
        "<h2>Volumes per institution and outcome</h2>",
        '<p>Messages by the outcome of their decisive step ("refused": before the contract '
        "was read, e.g. a wrong certificate).</p>",
        bar_chart("messages per institution", s.by_institution),
        bar_chart("messages per outcome", s.by_outcome),
        _table(["institution", *outcomes, "total"], volume_rows, len(outcomes) + 1),
        "<h2>Rejection reasons</h2>",
        _table(["reason (codes and paths)", "count"], s.reasons.most_common(_LISTED), 1)
        if s.reasons
        else "<p>No rejections.</p>",
        "<h2>Certificates used</h2>",
        f"<p>{len(cert_rows)} certificate(s); {near_count} expire within 30 days"
        + ("" if certificates else " (no certificate files given: expiry unknown)")
        + ".</p>",
        "".join(cert_html),
        "<h2>Duplicates</h2>",
        _table(["institution", "duplicates"], sorted(s.duplicates.items()), 1)
        if s.duplicates
        else "<p>No duplicates.</p>",
        "<h2>Dead letters</h2>",
        f"<p>{len(s.dead)} notification(s) the register refused for good.</p>",
        dead if s.dead else "",
        "<h2>Gaps</h2>",
        gaps,
        "</body></html>",
    ]
    return "\n".join(parts)
