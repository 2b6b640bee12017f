"""A complete development configuration beside the development PKI: keys and `gateway.toml`.

Keys are random, written 0600 next to the certificates (never committed: `certs/out/` is
git-ignored). Production deployments write their own configuration; this is the shape of it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from gateway.codes import INSTITUTIONS
from gateway.pki import PkiLayout, write_signing_key
from gateway.tls import institution_uri, role_uri

# Development values only: a deployment writes the basis its agreements name.
DEV_LEGAL_BASIS = "Закон за закрила на детето, чл. 7 (сигнал за дете в риск)"
DEV_AUDIT_BASIS = "Регламент (ЕС) 2016/679, чл. 5, пар. 2 и чл. 32 (контрол на достъпа)"


def _key(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return path


def _q(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_gateway_config(
    layout: PkiLayout,
    *,
    path: Path,
    database: str = "gateway.sqlite3",
    port: int = 8443,
    register_url: str = "https://127.0.0.1:8444",
    institutions: tuple[str, ...] = INSTITUTIONS,
) -> Path:
    """Write `path` (relative file names resolve against its folder)."""
    root = path.parent
    keys = root / "keys"
    _key(keys / "linkage-2026-1.key")
    _key(keys / "internal.key")
    _key(keys / "storage-2026-11.key")
    signing_key = layout.root / "audit-signing.key"
    write_signing_key(signing_key)

    def rel(p: Path) -> str:
        return _q(os.path.relpath(p, root))

    lines = [
        "# Development configuration written by `gateway certs init`.",
        'host = "127.0.0.1"',
        f"port = {port}",
        f"database = {_q(database)}",
        f"tls_cert = {rel(layout.gateway_server.crt)}",
        f"tls_key = {rel(layout.gateway_server.key)}",
        f"client_ca = {rel(layout.institutions_ca.crt)}",
        f"register_url = {_q(register_url)}",
        f"register_ca = {rel(layout.register_ca.crt)}",
        f"register_client_cert = {rel(layout.gateway_client.crt)}",
        f"register_client_key = {rel(layout.gateway_client.key)}",
        f"internal_key_file = {_q('keys/internal.key')}",
        f"security_officers = [{_q('uri:' + role_uri('security-officer'))}]",
        'linkage_keys = [{ id = "linkage-2026-1", file = "keys/linkage-2026-1.key" }]',
        'storage_key = { id = "storage-2026-11", file = "keys/storage-2026-11.key" }',
        "payload_retention_months = 24",
        f"audit_signing_key = {rel(signing_key)}",
        f"audit_checkpoint_dir = {_q('audit-checkpoints')}",
        "",
        "[institutions]",
        *(f"{slug} = [{_q('uri:' + institution_uri(slug))}]" for slug in institutions),
        "",
        "# The legal basis recorded with each exchange in the audit's FHIR export.",
        "[legal_basis]",
        *(f"{slug} = {_q(DEV_LEGAL_BASIS)}" for slug in institutions),
        f"register = {_q(DEV_LEGAL_BASIS)}",
        f'"security-officer" = {_q(DEV_AUDIT_BASIS)}',
        "",
    ]
    path.write_text("\n".join(lines), "utf-8")
    return path
