"""`gateway audit checkpoint | prove | consistency | export-records`, and `verify`'s proof checks.

Registered on the `gateway audit` sub-app by `gateway.audit.cli`. The offline checks read files
and a public key only; everything else reads the store named by the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit import checkpoint as checkpoints
from gateway.audit import note, offline, proofs
from gateway.cliopts import ConfigOpt, settings_from
from gateway.settings import Settings
from gateway.store.db import Database

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default stdout).")]


def _write(out: Path | None, data: bytes) -> None:
    if out is None:
        typer.echo(data.decode(), nl=False)
    else:
        out.write_bytes(data)
        typer.echo(f"written {out}", err=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def latest(db: Database, settings: Settings) -> checkpoints.Signed | None:
    """A checkpoint covering every record now if a signing key is configured (signed and
    published), else the latest stored one; None while there is none."""
    if settings.audit_signing_key is None:
        text = db.read_sync(checkpoints.latest_checkpoint)
        return None if text is None else checkpoints.Signed(int(text.split("\n")[1]), text, False)
    try:
        return checkpoints.checkpoint_now(db, settings)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot sign a checkpoint: {exc}") from exc


def _fresh(db: Database, settings: Settings) -> checkpoints.Signed:
    signed = latest(db, settings)
    if signed is None:
        raise _fail("no checkpoint: the audit log is empty or no signing key is configured")
    return signed


def _fingerprint(settings: Settings) -> str:
    if settings.audit_signing_key is None:
        return ""
    return note.fingerprint(note.load_private_key(settings.audit_signing_key).public_key())


def checkpoint(config: ConfigOpt) -> None:
    """Sign a checkpoint of the audit log now and publish it; print it."""
    settings = settings_from(config)
    db = Database(settings.database)
    try:
        signed = _fresh(db, settings)
    finally:
        db.close()
    typer.echo(signed.text, nl=False)


def prove(receipt: str, config: ConfigOpt, out: OutOpt = None) -> None:
    """A self-contained proof bundle: the receipt's audit records, their inclusion proofs and
    the signed checkpoint (verify it with `gateway audit verify --bundle`)."""
    settings = settings_from(config)
    db = Database(settings.database)
    try:
        signed = _fresh(db, settings)
        document = db.read_sync(
            lambda tx: proofs.bundle(tx, receipt, signed.text, signed.size, _fingerprint(settings))
        )
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        db.close()
    _write(out, proofs.dumps(document))


def consistency(
    config: ConfigOpt,
    from_size: Annotated[int, typer.Option(help="The tree size of the older checkpoint.")],
    out: OutOpt = None,
) -> None:
    """A consistency proof from the checkpoint of FROM_SIZE records to a fresh one."""
    settings = settings_from(config)
    db = Database(settings.database)
    try:
        signed = _fresh(db, settings)
        document = db.read_sync(
            lambda tx: proofs.consistency(tx, from_size, signed.size, signed.text)
        )
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        db.close()
    _write(out, proofs.dumps(document))


def export_records(config: ConfigOpt, out: OutOpt = None) -> None:
    """Every audit record as NDJSON, one line = the exact bytes of its Merkle leaf."""
    settings = settings_from(config)
    db = Database(settings.database)
    try:
        data = db.read_sync(lambda tx: b"".join(proofs.export_lines(tx)))
    finally:
        db.close()
    _write(out, data)


# -- verify ---------------------------------------------------------------------------------


def _public_key(path: Path | None) -> Ed25519PublicKey:
    if path is None:
        raise _fail("--public-key is required to check signed checkpoints", 2)
    try:
        return note.load_public_key(path)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the public key {path}: {exc}", 2) from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc}", 2) from exc


def verify_offline(
    bundle: Path | None,
    export: Path | None,
    checkpoint_files: Sequence[Path],
    consistency_file: Path | None,
    public_key: Path | None,
) -> None:
    """`verify --bundle | --export | --checkpoint OLD --checkpoint NEW --consistency`."""
    key = _public_key(public_key)
    texts = [_read(p).decode("utf-8", "replace") for p in checkpoint_files]
    if bundle is not None:
        report = offline.verify_bundle(_read(bundle), key)
    elif export is not None:
        if len(texts) != 1:
            raise _fail("--export needs exactly one --checkpoint", 2)
        with export.open("rb") as lines:
            report = offline.verify_any_export(lines, texts[0], key)
    elif consistency_file is not None and len(texts) == 2:
        report = offline.verify_consistency(texts[0], texts[1], _read(consistency_file), key)
    else:
        raise _fail(
            "give --bundle FILE, --export FILE --checkpoint CP, "
            "or --checkpoint OLD --checkpoint NEW --consistency PROOF",
            2,
        )
    for finding in report.findings:
        typer.echo(finding)
    if not report.ok:
        raise _fail(f"verification FAILED: {len(report.findings)} finding(s)")
    typer.echo(f"verified: {report.checked}")


def store_findings(db: Database, settings: Settings, public_key: Path | None) -> list[str]:
    """The store against its checkpoints, with the configured (or given) public key."""
    key: Ed25519PublicKey | None = None
    if public_key is not None:
        key = _public_key(public_key)
    elif settings.audit_signing_key is not None:
        key = note.load_private_key(settings.audit_signing_key).public_key()
    return db.read_sync(lambda tx: checkpoints.check_store(tx, key))
