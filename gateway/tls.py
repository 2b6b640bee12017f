"""Mutual TLS: the SSL contexts, a uvicorn server that hands the client certificate to the app,
and the mapping from a client certificate to the institution (`Caller`) behind it."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import ssl
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import uvicorn
from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable
from uvicorn._types import Scope as UvicornScope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import ConfigurationError
from gateway.receipts import Caller

logger = logging.getLogger(__name__)

# The names our certificates carry in their SAN URI (see certs/README.md).
URN_PREFIX = "urn:bg:child-gateway"
GATEWAY_URI = f"{URN_PREFIX}:gateway"


def institution_uri(slug: str) -> str:
    return f"{URN_PREFIX}:institution:{slug}"


def role_uri(role: str) -> str:
    return f"{URN_PREFIX}:role:{role}"


DEFAULT_ROLES: Mapping[str, Sequence[str]] = {
    "security-officer": (f"uri:{role_uri('security-officer')}",),
}


# -- SSL contexts --------------------------------------------------------------------------------


def server_ssl_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """TLS ≥ 1.2, and a client certificate signed by `client_ca` is required for the handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(
    ca: Path, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """For httpx: pass it as `verify=` (httpx 0.28 ignores `cert=` when `verify` is a path)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The server's certificate and key, and the CA its clients' certificates must chain to."""

    cert: Path
    key: Path
    client_ca: Path

    def context(self) -> ssl.SSLContext:
        return server_ssl_context(self.cert, self.key, self.client_ca)


# -- uvicorn: the ASGI TLS extension -------------------------------------------------------------

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, object] | None:
    """`scope["extensions"]["tls"]` for a connection (ASGI TLS extension); None on plain TCP.

    Before Python 3.13 only the leaf certificate is available, so the chain has one element.
    """
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    name = x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class TlsHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools (llhttp) HTTP/1.1 protocol that adds the TLS extension to every
    request of its connection (httptools rather than h11: a fifth less CPU per request).

    The certificate is read once per connection (TLS handshakes happen per connection, so a
    keep-alive connection cannot change its peer).
    """

    _tls = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport)
        if extension is not None:
            self._tls = True
            self.app = _with_tls(self.app, extension)

    def shutdown(self) -> None:
        if self._tls and (self.cycle is None or self.cycle.response_complete):
            # A graceful TLS close waits for the peer's close_notify, and an idle keep-alive
            # client only reads when it next sends: the server would hang in shutdown for
            # asyncio's 30 s ssl_shutdown_timeout. Nothing is in flight, so cut the connection.
            # (Never close() first: a second close() of an asyncio SSL transport drops its
            # protocol, and the connection could then only time out.)
            self.transport.abort()
            return
        super().shutdown()


def _with_tls(app: ASGI3Application, extension: dict[str, object]) -> ASGI3Application:
    async def with_tls(
        scope: UvicornScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "lifespan":
            extensions = scope.setdefault("extensions", {})
            extensions["tls"] = dict(extension)  # type: ignore[assignment]  # uvicorn types it loosely
        await app(scope, receive, send)

    return with_tls


def build_server(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    tls: ServerTls | None,
    trusted_proxies: Collection[str] = (),
    timeout_keep_alive: int = 60,
    log_level: str = "warning",
    access_log: bool = False,
) -> uvicorn.Server:
    """A uvicorn server with `TlsHttpProtocol`; `.run()` it (or `.run(sockets=[...])`).

    Plain HTTP (`tls=None`) is only for running behind a TLS-terminating proxy, so it is refused
    unless `trusted_proxies` is configured (pass the same addresses to `TlsIdentityMiddleware`).
    uvicorn's own proxy-header handling is off: it would rewrite `scope["client"]` from
    X-Forwarded-For, the address the middleware decides trust by.
    """
    if tls is None and not trusted_proxies:
        raise ConfigurationError("plain HTTP needs trusted proxies; configure TLS or a proxy")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=TlsHttpProtocol,
        ws="none",
        # uvloop (a dependency) where it installs, else asyncio's loop: with the express lane
        # and the register's group commit, uvloop gave +6–9 % delivered/s (bench/README.md).
        loop="auto",
        proxy_headers=False,
        ssl_context_factory=(lambda _config, _default: tls.context()) if tls else None,
        # Senders and the forwarder keep connections: a full mTLS handshake costs 16 requests.
        timeout_keep_alive=timeout_keep_alive,
        log_config=None,
        log_level=log_level,
        access_log=access_log,
    )
    return uvicorn.Server(config)


# -- who is calling -------------------------------------------------------------------------------

IdentityKind = Literal["uri", "subject", "sha256"]


@dataclass(frozen=True, slots=True)
class Identity:
    """One way to recognise a certificate: a SAN URI, an exact subject DN, or a fingerprint."""

    kind: IdentityKind
    value: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """`uri:<uri>` (or a bare `urn:...`), `subject:<RFC 4514 DN>`, `sha256:<hex>`."""
        kind, _, value = text.partition(":")
        if kind == "sha256":
            fingerprint = value.replace(":", "").lower()
            if len(fingerprint) != 64 or not all(c in "0123456789abcdef" for c in fingerprint):
                raise ConfigurationError(f"not a SHA-256 fingerprint: {text!r}")
            return cls("sha256", fingerprint)
        if kind == "subject":
            try:
                # Round-trip so spacing and escaping in the setting match what certificates give.
                return cls("subject", x509.Name.from_rfc4514_string(value).rfc4514_string())
            except ValueError as exc:
                raise ConfigurationError(f"not an RFC 4514 name: {text!r}") from exc
        if kind == "uri" and value:
            return cls("uri", value)
        if kind == "urn":
            return cls("uri", text)
        raise ConfigurationError(f"identity must start with uri:, subject: or sha256: ({text!r})")


_CACHE_LIMIT = 4096


class IdentityTable:
    """Maps a client certificate to the one institution (and roles) it was configured for.

    Several identities per institution let a new certificate be added before the old one goes.
    A certificate without a configured institution but with a role identity (the security
    officer) gets a `Caller` with an empty institution, which no institution endpoint accepts.
    """

    def __init__(
        self,
        institutions: Mapping[str, Iterable[str | Identity]],
        roles: Mapping[str, Iterable[str | Identity]] = DEFAULT_ROLES,
    ) -> None:
        self._institution: dict[Identity, str] = {}
        for slug, identities in institutions.items():
            for identity in map(_identity, identities):
                other = self._institution.setdefault(identity, slug)
                if other != slug:
                    raise ConfigurationError(
                        f"{identity.kind} identity {identity.value!r} is configured for both "
                        f"{other!r} and {slug!r}"
                    )
        self._roles: dict[Identity, set[str]] = {}
        for role, identities in roles.items():
            for identity in map(_identity, identities):
                self._roles.setdefault(identity, set()).add(role)
        self._cache: dict[str, Caller | None] = {}

    def identify(self, cert_der: bytes) -> Caller | None:
        fingerprint = hashlib.sha256(cert_der).hexdigest()
        try:
            return self._cache[fingerprint]
        except KeyError:
            pass
        caller = self._match(cert_der, fingerprint)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[fingerprint] = caller
        return caller

    def _match(self, cert_der: bytes, fingerprint: str) -> Caller | None:
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError:
            return None
        subject = cert.subject.rfc4514_string()
        seen = [Identity("sha256", fingerprint), Identity("subject", subject)]
        seen += [Identity("uri", uri) for uri in _san_uris(cert)]
        slugs = {self._institution[i] for i in seen if i in self._institution}
        roles = frozenset(role for i in seen for role in self._roles.get(i, ()))
        if len(slugs) > 1:
            # Two identities of different institutions match: fail closed, never guess.
            logger.error("certificate %s matches institutions %s", fingerprint, sorted(slugs))
            return None
        if not slugs and not roles:
            return None
        institution = slugs.pop() if slugs else ""
        return Caller(institution, fingerprint, subject, roles)


def _identity(value: str | Identity) -> Identity:
    return value if isinstance(value, Identity) else Identity.parse(value)


def _san_uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.UniformResourceIdentifier)


# -- the middleware -------------------------------------------------------------------------------


class TlsIdentityMiddleware:
    """Sets `scope["state"]["caller"]` (FastAPI: `request.state.caller`), a `Caller` or None.

    The certificate comes from the TLS extension, or, only when the immediate peer is a
    trusted proxy, from the forwarded header (URL-encoded PEM, nginx `$ssl_client_escaped_cert`;
    the proxy must have verified it). From anyone else that header is removed unread, so a
    direct client cannot claim another certificate.
    """

    def __init__(
        self,
        app: ASGIApp,
        identities: IdentityTable,
        *,
        trusted_proxies: Iterable[str] = (),
        header: str = "X-Client-Cert",
    ) -> None:
        self.app = app
        self.identities = identities
        self.header = header.lower().encode("latin-1")
        try:
            self.proxies = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        except ValueError as exc:
            raise ConfigurationError(f"bad trusted proxy address: {exc}") from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("state", {})["caller"] = self._caller(scope)
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> Caller | None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        forwarded = [value for name, value in headers if name == self.header]
        if self._from_proxy(scope.get("client")):
            der = _der_from_escaped_pem(forwarded[0]) if len(forwarded) == 1 else None
        else:
            if forwarded:
                logger.warning("dropped %s header from untrusted peer", self.header.decode())
                scope["headers"] = [(n, v) for n, v in headers if n != self.header]
            der = _der_from_extension(scope)
        return self.identities.identify(der) if der else None

    def _from_proxy(self, client: Sequence[Any] | None) -> bool:
        if not self.proxies or not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.proxies)


def _der_from_extension(scope: Scope) -> bytes | None:
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain")
    return ssl.PEM_cert_to_DER_cert(chain[0]) if chain else None


def _der_from_escaped_pem(value: bytes) -> bytes | None:
    try:
        return ssl.PEM_cert_to_DER_cert(unquote(value.decode("latin-1")).strip())
    except ValueError:
        logger.warning("unreadable forwarded client certificate")
        return None
