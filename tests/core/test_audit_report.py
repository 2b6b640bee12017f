"""The officer's HTML report counts what the trail holds and says when the chain is broken."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import audit
from gateway.audit import report
from gateway.audit.chain import Entry, Query
from gateway.store.db import Database


def cells(html: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first`."""
    row = re.search(rf"<tr><td>{re.escape(first)}</td>(.*?)</tr>", html)
    assert row is not None, first
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))


def test_report_counts_volumes_reasons_dead_letters_and_gaps(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "s.sqlite3"))
    mvr: dict[str, Any] = {"institution": "mvr", "cert_fp": "aa" * 32}
    entries = [
        Entry("accepted", outcome="accepted", **mvr),
        Entry("accepted", outcome="accepted", **mvr),
        Entry("duplicate", outcome="duplicate", **mvr),
        Entry("rejected", outcome="rejected", detail="format: check-digit@/Egn", **mvr),
        Entry("rejected", outcome="rejected", detail="format: check-digit@/Egn", **mvr),
        Entry("rejected", institution="ozd", outcome="refused", detail="at ozd: forbidden"),
        Entry("dead-lettered", institution="mvr", notification_ids=("n-1",), detail="fatal"),
    ]
    db.write_sync(lambda tx: audit.append(tx, entries))
    try:
        html = report.build(db, Query(), {}, datetime(2026, 11, 24, tzinfo=UTC))
        assert "Chain intact: 7 records verified" in html
        # columns: accepted, duplicate, refused, rejected, total
        assert cells(html, "mvr") == ["2", "1", "0", "2", "5"]
        assert cells(html, "ozd") == ["0", "0", "1", "0", "1"]
        assert cells(html, "format: check-digit@/Egn") == ["2"]
        assert "n-1" in html and "1 notification(s) the register refused" in html
        assert "No gaps" in html and "expiry unknown" in html
        assert html.count("<svg") == 2 and "<script" not in html

        db.write_sync(lambda tx: tx.execute("DELETE FROM audit WHERE seq = 3"))
        broken = report.build(db, Query(), {}, datetime(2026, 11, 24, tzinfo=UTC))
        assert "Chain BROKEN" in broken and "record 3 missing (deleted)" in broken
        gap = '<tr><td class="n">3</td><td class="n">3</td></tr>'  # records 3..3 missing
        assert gap in broken and gap not in html
    finally:
        db.close()


def test_certificates_near_expiry_are_flagged(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "s.sqlite3"))
    soon, later = "aa" * 32, "bb" * 32
    db.write_sync(
        lambda tx: audit.append(
            tx,
            [
                Entry("accepted", institution="mvr", cert_fp=soon, outcome="accepted"),
                Entry("accepted", institution="ozd", cert_fp=later, outcome="accepted"),
            ],
        )
    )
    now = datetime(2026, 11, 24, tzinfo=UTC)
    known = {
        soon: report.Certificate("CN=mvr", datetime(2026, 12, 10, tzinfo=UTC)),
        later: report.Certificate("CN=ozd", datetime(2027, 6, 1, tzinfo=UTC)),
    }
    try:
        html = report.build(db, Query(), known, now)
    finally:
        db.close()
    assert "2 certificate(s); 1 expire within 30 days." in html
    assert '<tr class="warn"><td>mvr</td>' in html and "2026-12-10 (within 30 days)" in html
    assert "<tr><td>ozd</td>" in html and "2027-06-01</td>" in html
