"""`gateway audit …`: verify, search and (for the security officer) read the audit trail."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from gateway import audit
from gateway.audit import children, export, proofs_cli, report, retention
from gateway.cliopts import ConfigOpt, settings_from
from gateway.errors import ContractViolation
from gateway.store.db import Database

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail.")
audit_app.command("checkpoint")(proofs_cli.checkpoint)
audit_app.command("prove")(proofs_cli.prove)
audit_app.command("consistency")(proofs_cli.consistency)
audit_app.command("export-records")(proofs_cli.export_records)


@audit_app.command("verify")
def audit_verify(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="GATEWAY_CONFIG", help="The gateway's TOML file."),
    ] = None,
    bundle: Annotated[Path | None, typer.Option(help="A proof bundle (offline).")] = None,
    export: Annotated[
        Path | None,
        typer.Option(help="An export, offline: FHIR AuditEvents (`export`) or raw records."),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None, typer.Option(help="A signed checkpoint file (OLD, then NEW).")
    ] = None,
    consistency: Annotated[Path | None, typer.Option(help="A consistency proof.")] = None,
    public_key: Annotated[Path | None, typer.Option(help="The checkpoint public key.")] = None,
) -> None:
    """Check the store (hash chain and signed checkpoints) or, offline with only the public
    key, a bundle, an export, or that one checkpoint extends another. Names the bad record."""
    if bundle or export or checkpoint or consistency:
        proofs_cli.verify_offline(bundle, export, checkpoint or [], consistency, public_key)
        return
    if config is None:
        typer.echo("give --config (the store) or a file to check offline", err=True)
        raise typer.Exit(2)
    settings = settings_from(config)
    db = Database(settings.database)
    try:
        verdict = db.read_sync(audit.verify)
        verdict.findings += proofs_cli.store_findings(db, settings, public_key)
    finally:
        db.close()
    for finding in verdict.findings:
        typer.echo(finding)
    if verdict.ok:
        typer.echo(f"audit chain intact: {verdict.records} records")
    else:
        typer.echo(f"audit chain BROKEN: {len(verdict.findings)} finding(s)", err=True)
        raise typer.Exit(1)


_NUMBER_HELP = "the child's {}: turned into its pseudonym here, never stored; '-' reads stdin"


def _typed(value: str | None) -> str | None:
    # `-` keeps the number out of the process list and the shell history.
    return sys.stdin.readline().strip() if value == "-" else value


@audit_app.command("search")
def audit_search(
    config: ConfigOpt,
    institution: str | None = None,
    receipt: str | None = None,
    notification: str | None = None,
    outcome: str | None = None,
    kind: str | None = None,
    cert_fp: Annotated[str | None, typer.Option(help="SHA-256 of the client certificate")] = None,
    egn: Annotated[str | None, typer.Option(help=_NUMBER_HELP.format("ЕГН"))] = None,
    lnch: Annotated[str | None, typer.Option(help=_NUMBER_HELP.format("ЛНЧ"))] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, exclusive")] = None,
    limit: int = 1000,
) -> None:
    """Audit records as JSON lines, filtered; this read is itself audited."""
    settings = settings_from(config)
    child = None
    if egn is not None or lnch is not None:
        try:
            child = children.derive(settings.keyring(), egn=_typed(egn), lnch=_typed(lnch))
        except ContractViolation as exc:
            typer.echo("; ".join(p.message for p in exc.problems), err=True)
            raise typer.Exit(2) from exc
    query = audit.Query(
        institution=institution,
        receipt_id=receipt,
        outcome=outcome,
        kind=kind,
        since=since,
        until=until,
        notification_id=notification,
        limit=limit,
        cert_fp=cert_fp,
        child=child,
    )
    db = Database(settings.database)
    try:
        db.write_sync(lambda tx: audit.append(tx, [export.read_entry("cli search", query)]))
        records = db.read_sync(lambda tx: audit.search(tx, query))
    finally:
        db.close()
    for rec in records:
        sys.stdout.write(orjson.dumps(audit.as_json(rec)).decode() + "\n")


FromOpt = Annotated[str | None, typer.Option("--from", help="ISO time, inclusive")]
ToOpt = Annotated[str | None, typer.Option("--to", help="ISO time, exclusive")]


@audit_app.command("export")
def audit_export(
    config: ConfigOpt,
    since: FromOpt = None,
    until: ToOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="NDJSON file (its checkpoint beside it); default stdout")
    ] = None,
) -> None:
    """The records of a period as FHIR R4 AuditEvents (IHE BALP), one per line, each with its
    record bytes and inclusion proof against a checkpoint signed now (`OUT.checkpoint`)."""
    settings = settings_from(config)
    query = audit.Query(since=since, until=until)
    db = Database(settings.database)
    count = 0
    try:
        db.write_sync(lambda tx: audit.append(tx, [export.read_entry("cli export", query)]))
        # Signed after the read record, so the export's own read is in the tree it is proved in.
        signed = proofs_cli.latest(db, settings)
        size = None if signed is None else signed.size
        with contextlib.ExitStack() as files:
            sink = files.enter_context(out.open("wb")) if out else sys.stdout.buffer
            for line in export.lines(db, query, settings.legal_basis, size):
                sink.write(line)
                count += 1
    finally:
        db.close()
    typer.echo(f"{count} AuditEvent(s)", err=True)
    if signed is None:
        typer.echo("no signed checkpoint: the events carry no inclusion proof", err=True)
    elif out is not None:
        beside = out.with_name(out.name + ".checkpoint")
        beside.write_text(signed.text, "utf-8")
        typer.echo(f"proved against the checkpoint of {signed.size} records: {beside}", err=True)
    else:
        typer.echo(f"proved against the checkpoint of {signed.size} records", err=True)


@audit_app.command("report")
def audit_report(
    config: ConfigOpt,
    out: Annotated[Path, typer.Option(help="the HTML file to write")],
    since: FromOpt = None,
    until: ToOpt = None,
    certs: Annotated[
        list[Path] | None,
        typer.Option(help="folder or file of client certificates (PEM), for expiry dates"),
    ] = None,
) -> None:
    """A self-contained HTML report of a period for the security officer."""
    settings = settings_from(config)
    query = audit.Query(since=since, until=until)
    db = Database(settings.database)
    try:
        db.write_sync(lambda tx: audit.append(tx, [export.read_entry("cli report", query)]))
        html = report.build(db, query, report.load_certificates(certs or []))
    finally:
        db.close()
    out.write_text(html, "utf-8")
    typer.echo(f"report written to {out}", err=True)


@audit_app.command("purge")
def audit_purge(
    config: ConfigOpt,
    before: Annotated[
        str | None, typer.Option(help="purge months before YYYY-MM (default: the retention)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="list what would go; change nothing")] = False,
) -> None:
    """Crypto-shred the raw messages of months past the retention; the chain still verifies."""
    settings = settings_from(config)
    now = datetime.now(UTC)
    try:
        cut = retention.cutoff_for(now, settings.payload_retention_months, before)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if cut is None:
        typer.echo("payload_retention_months = 0 (keep forever): nothing purged")
        return
    db = Database(settings.database)
    try:
        done = retention.purge_now(db, cut, now, dry_run=dry_run)
    finally:
        db.close()
    for month in done:
        typer.echo(("would purge " if dry_run else "purged ") + month.detail())
    typer.echo(f"{len(done)} month(s) before {cut} {'due' if dry_run else 'purged'}")
