"""Typed configuration, validated at start-up and passed down explicitly; secrets are files.

Read from a TOML file (`gateway serve --config FILE`, or `GATEWAY_CONFIG`) with environment
variables `GATEWAY_<NAME>` overriding single values. `gateway certs init` writes a complete
development configuration next to the development PKI.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.crypto import Sealer
from gateway.errors import ConfigurationError
from gateway.identity import Keyring, LinkageKey


class KeyFile(BaseModel):
    id: str
    file: Path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid")

    host: str = "127.0.0.1"
    #: Processes serving the one socket (`gateway/workers.py`): one per core is the start.
    workers: int = Field(default=1, ge=1)
    port: int = 8443
    #: A file path (SQLite, the default) or a `postgresql://` URL.
    database: str = "var/gateway.sqlite3"
    #: Where the store's commit groups run: `process`, a child process of each gateway process
    #: (they then never wait for the event loop's interpreter lock: gateway/store/
    #: writer_process.py), or `thread`, a thread of the gateway process itself.
    store_writer: Literal["process", "thread"] = "process"

    #: `mtls`: the gateway terminates mutual TLS itself. `http-behind-proxy`: plain HTTP on a
    #: private address behind a TLS-terminating proxy that forwards the verified certificate;
    #: refused unless `trusted_proxies` is set.
    listen: Literal["mtls", "http-behind-proxy"] = "mtls"
    tls_cert: Path
    tls_key: Path
    #: The CA(s) that sign institution client certificates.
    client_ca: Path
    #: Peers allowed to forward a verified client certificate (a TLS-terminating proxy).
    trusted_proxies: list[str] = Field(default_factory=list)
    proxy_cert_header: str = "x-client-cert"
    #: slug -> identities: `uri:<SAN URI>`, `subject:<RFC 4514 DN>` or `sha256:<hex>`.
    institutions: dict[str, list[str]] = Field(default_factory=dict)
    #: Identities with the security-officer role (audit API).
    security_officers: list[str] = Field(default_factory=list)
    #: The legal basis of each exchange, for the audit's FHIR export (`purposeOfEvent`): slug →
    #: text; `security-officer` for reads of the audit, `register` for disclosures to it.
    legal_basis: dict[str, str] = Field(default_factory=dict)

    #: The current linkage key first; a second one while a rotation is under way.
    linkage_keys: list[KeyFile]
    internal_key_file: Path
    storage_key: KeyFile
    #: Earlier storage keys, kept after a rotation until every month they wrap is purged.
    retired_storage_keys: list[KeyFile] = Field(default_factory=list)
    #: Raw messages are kept this many whole months after their month, then crypto-shredded
    #: (`gateway audit purge`, daily while serving); 0 keeps them forever.
    payload_retention_months: int = Field(default=0, ge=0)

    register_url: str
    register_ca: Path
    register_client_cert: Path
    register_client_key: Path

    forward_batch: int = 256
    forward_concurrency: int = 16
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    lease_seconds: float = 60.0

    #: Ed25519 private key (PEM) that signs audit checkpoints; a file, never in the database.
    audit_signing_key: Path | None = None
    #: The log's name in its checkpoints (the signed note's origin and key name).
    audit_origin: str = "child-violence-gateway/audit"
    audit_checkpoint_seconds: float = 60.0
    #: Where checkpoints are published: `checkpoint` (latest) and `checkpoints/<size>.txt`.
    audit_checkpoint_dir: Path | None = None

    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file is the base; an environment variable overrides one value of it.
        return env_settings, init_settings

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(path.read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"cannot read the configuration {path}: {exc}") from exc
            base = path.parent
            data = _resolve_paths(data, base)
        return cls(**data)

    def keyring(self) -> Keyring:
        linkage = tuple(LinkageKey(k.id, _read_key(k.file)) for k in self.linkage_keys)
        return Keyring(linkage=linkage, internal=_read_key(self.internal_key_file))

    def sealer(self) -> Sealer:
        return Sealer(self.storage_key.id, _read_key(self.storage_key.file))

    def retired_sealers(self) -> list[Sealer]:
        return [Sealer(k.id, _read_key(k.file)) for k in self.retired_storage_keys]


_PATH_FIELDS = {
    "tls_cert",
    "tls_key",
    "client_ca",
    "internal_key_file",
    "register_ca",
    "register_client_cert",
    "register_client_key",
    "audit_signing_key",
    "audit_checkpoint_dir",
}


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a configuration file are relative to that file."""
    out = dict(data)
    for name in _PATH_FIELDS & out.keys():
        out[name] = str((base / out[name]).resolve())
    for name in ("linkage_keys", "retired_storage_keys"):
        out[name] = [{**k, "file": str((base / k["file"]).resolve())} for k in out.get(name, [])]
    if "storage_key" in out:
        k = out["storage_key"]
        out["storage_key"] = {**k, "file": str((base / k["file"]).resolve())}
    db = out.get("database")
    if isinstance(db, str) and "://" not in db:
        out["database"] = str((base / db).resolve())
    return out


def _read_key(path: Path) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the key file {path}: {exc}") from exc
    try:
        key = bytes.fromhex(raw.decode())
    except ValueError as exc:
        raise ConfigurationError(f"{path}: a key file holds hex") from exc
    if len(key) < 32:
        raise ConfigurationError(f"{path}: a key needs at least 32 bytes")
    return key
