"""`gateway audit …`: verify, search and (for the security officer) read the audit trail."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from gateway import audit
from gateway.cliopts import ConfigOpt, database_from

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail.")


@audit_app.command("verify")
def audit_verify(config: ConfigOpt) -> None:
    """Check the hash chain; name every edited, deleted or reordered record."""
    db = database_from(config)
    try:
        verdict = db.read_sync(audit.verify)
    finally:
        db.close()
    for finding in verdict.findings:
        typer.echo(finding)
    if verdict.ok:
        typer.echo(f"audit chain intact: {verdict.records} records")
    else:
        typer.echo(f"audit chain BROKEN: {len(verdict.findings)} finding(s)", err=True)
        raise typer.Exit(1)


@audit_app.command("search")
def audit_search(
    config: ConfigOpt,
    institution: str | None = None,
    receipt: str | None = None,
    notification: str | None = None,
    outcome: str | None = None,
    kind: str | None = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, exclusive")] = None,
    limit: int = 1000,
) -> None:
    """Audit records as JSON lines, filtered."""
    query = audit.Query(institution, receipt, outcome, kind, since, until, notification, limit)
    db = database_from(config)
    try:
        records = db.read_sync(lambda tx: audit.search(tx, query))
    finally:
        db.close()
    for rec in records:
        sys.stdout.write(orjson.dumps(audit.as_json(rec)).decode() + "\n")
