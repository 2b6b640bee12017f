"""Mutual TLS end to end: real uvicorn servers on 127.0.0.1, real httpx clients, a real dev PKI."""

from __future__ import annotations

import ssl
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI, Request
from starlette.types import ASGIApp

from gateway.codes import INSTITUTIONS
from gateway.errors import ConfigurationError
from gateway.pki import CertPair, PkiLayout, create_ca, init_pki, issue_client_cert
from gateway.tls import (
    Identity,
    IdentityTable,
    ServerTls,
    TlsIdentityMiddleware,
    build_server,
    client_ssl_context,
    institution_uri,
)
from tests.servers import mtls_client, running


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    return init_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def table() -> IdentityTable:
    return IdentityTable({slug: [f"uri:{institution_uri(slug)}"] for slug in INSTITUTIONS})


def echo_app(table: IdentityTable, trusted_proxies: tuple[str, ...] = ()) -> ASGIApp:
    api = FastAPI()

    @api.get("/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        caller = request.state.caller
        tls = request.scope.get("extensions", {}).get("tls", {})
        return {
            "caller": None
            if caller is None
            else {
                "institution": caller.institution,
                "fingerprint": caller.fingerprint,
                "subject": caller.subject,
                "roles": sorted(caller.roles),
            },
            "tls_name": tls.get("client_cert_name"),
            "forwarded_header_seen": "x-client-cert" in request.headers,
            "client_port": request.scope["client"][1],
        }

    return TlsIdentityMiddleware(api, table, trusted_proxies=trusted_proxies)


def server_tls(pki: PkiLayout) -> ServerTls:
    return ServerTls(pki.gateway_server.crt, pki.gateway_server.key, pki.institutions_ca.crt)


@pytest.fixture(scope="module")
def tls_url(pki: PkiLayout, table: IdentityTable) -> Iterator[str]:
    with running(echo_app(table), tls=server_tls(pki)) as url:
        yield url


def whoami(url: str, pki: PkiLayout, pair: CertPair | None, **kw: Any) -> dict[str, Any]:
    cert, key = (pair.crt, pair.key) if pair else (None, None)
    with mtls_client(url, pki.gateway_ca.crt, cert, key) as client:
        response = client.get("/whoami", **kw)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def fingerprint(pair: CertPair) -> str:
    cert = x509.load_pem_x509_certificate(pair.crt.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


# -- mTLS server -----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", INSTITUTIONS)
def test_institution_certificate_is_identified(tls_url: str, pki: PkiLayout, slug: str) -> None:
    body = whoami(tls_url, pki, pki.client(slug))
    assert body["caller"] == {
        "institution": slug,
        "fingerprint": fingerprint(pki.client(slug)),
        "subject": body["tls_name"],
        "roles": [],
    }
    assert body["tls_name"].startswith(f"CN={slug}-client,O=")


def test_security_officer_gets_its_role_and_no_institution(tls_url: str, pki: PkiLayout) -> None:
    caller = whoami(tls_url, pki, pki.security_officer)["caller"]
    assert caller["roles"] == ["security-officer"]
    assert caller["institution"] == ""


def refused_pairs(pki: PkiLayout, tmp_path: Path) -> dict[str, CertPair | None]:
    now = datetime.now(UTC)
    ica = pki.institutions_ca
    foreign = create_ca(tmp_path / "foreign-ca.crt", "foreign-ca")
    return {
        "no certificate": None,
        # Claims to be the police: the name is right, the signer is not.
        "foreign CA": issue_client_cert(
            foreign.crt,
            foreign.key,
            tmp_path / "impostor.crt",
            "mvr-client",
            institution_uri("mvr"),
            now - timedelta(days=1),
            now + timedelta(days=1),
        ),
        "expired": issue_client_cert(
            ica.crt,
            ica.key,
            tmp_path / "expired.crt",
            "mvr-client",
            institution_uri("mvr"),
            now - timedelta(days=30),
            now - timedelta(days=1),
        ),
        # Signed by a CA the gateway does not trust for callers.
        "gateway's own client certificate": pki.gateway_client,
    }


REFUSED = ["no certificate", "foreign CA", "expired", "gateway's own client certificate"]


@pytest.mark.parametrize("case", REFUSED)
def test_handshake_is_refused(tls_url: str, pki: PkiLayout, tmp_path: Path, case: str) -> None:
    # TLS 1.3 clients finish their side first and only see the server hang up.
    with pytest.raises(httpx.TransportError):
        whoami(tls_url, pki, refused_pairs(pki, tmp_path)[case])


@pytest.mark.parametrize("case", REFUSED)
def test_handshake_is_refused_during_connect_under_tls12(
    tls_url: str, pki: PkiLayout, tmp_path: Path, case: str
) -> None:
    pair = refused_pairs(pki, tmp_path)[case]
    context = client_ssl_context(pki.gateway_ca.crt, *((pair.crt, pair.key) if pair else ()))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    # Under TLS 1.2 the server decides inside the handshake: the connection never opens
    # (asyncio aborts it, so the client reads EOF rather than an alert).
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_url}/whoami", verify=context)


def test_tls12_client_with_a_good_certificate_is_served(tls_url: str, pki: PkiLayout) -> None:
    pair = pki.client("mvr")
    context = client_ssl_context(pki.gateway_ca.crt, pair.crt, pair.key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    assert httpx.get(f"{tls_url}/whoami", verify=context).json()["caller"]["institution"] == "mvr"


def test_trusted_ca_but_unconfigured_identity_has_no_caller(
    tls_url: str, pki: PkiLayout, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ca = pki.institutions_ca
    stranger = issue_client_cert(
        ca.crt,
        ca.key,
        tmp_path / "x.crt",
        "x",
        "urn:example:x",
        now - timedelta(days=1),
        now + timedelta(days=1),
    )
    assert whoami(tls_url, pki, stranger)["caller"] is None


def test_keep_alive_reuses_one_connection(tls_url: str, pki: PkiLayout) -> None:
    pair = pki.client("ozd")
    with mtls_client(tls_url, pki.gateway_ca.crt, pair.crt, pair.key) as client:
        ports = {client.get("/whoami").json()["client_port"] for _ in range(3)}
    assert len(ports) == 1


def test_server_stops_at_once_despite_an_idle_keep_alive_client(
    pki: PkiLayout, table: IdentityTable
) -> None:
    pair = pki.client("mvr")
    with running(echo_app(table), tls=server_tls(pki)) as url:
        client = mtls_client(url, pki.gateway_ca.crt, pair.crt, pair.key)
        client.get("/whoami").raise_for_status()
        stopping = time.monotonic()
    # A graceful TLS close would wait 30 s for a close_notify this idle client never sends.
    assert time.monotonic() - stopping < 3
    client.close()


def test_forwarded_header_from_a_direct_client_is_dropped(tls_url: str, pki: PkiLayout) -> None:
    other = quote(pki.client("prosecution").crt.read_text())
    body = whoami(tls_url, pki, pki.client("mvr"), headers={"X-Client-Cert": other})
    assert body["caller"]["institution"] == "mvr"
    assert body["forwarded_header_seen"] is False


# -- behind a proxy (plain HTTP) ------------------------------------------------------------------


def test_forwarded_header_is_honoured_from_a_trusted_proxy(
    pki: PkiLayout, table: IdentityTable
) -> None:
    header = {"X-Client-Cert": quote(pki.client("health").crt.read_text())}
    with running(echo_app(table, ("127.0.0.1",)), trusted_proxies=("127.0.0.1",)) as url:
        body = httpx.get(f"{url}/whoami", headers=header).json()
        no_header = httpx.get(f"{url}/whoami").json()
    assert body["caller"]["institution"] == "health"
    assert no_header["caller"] is None


def test_forwarded_header_is_ignored_from_an_untrusted_address(
    pki: PkiLayout, table: IdentityTable
) -> None:
    header = {"X-Client-Cert": quote(pki.client("health").crt.read_text())}
    with running(echo_app(table, ("10.0.0.0/8",)), trusted_proxies=("10.0.0.0/8",)) as url:
        body = httpx.get(f"{url}/whoami", headers=header).json()
    assert body["caller"] is None
    assert body["forwarded_header_seen"] is False


def test_unreadable_forwarded_header_gives_no_caller(table: IdentityTable) -> None:
    with running(echo_app(table, ("127.0.0.1",)), trusted_proxies=("127.0.0.1",)) as url:
        body = httpx.get(f"{url}/whoami", headers={"X-Client-Cert": "garbage"}).json()
    assert body["caller"] is None


def test_plain_http_without_trusted_proxies_is_a_configuration_error(
    table: IdentityTable,
) -> None:
    with pytest.raises(ConfigurationError):
        build_server(echo_app(table), host="127.0.0.1", port=0, tls=None)


# -- the identity table ---------------------------------------------------------------------------


def der(pair: CertPair) -> bytes:
    return x509.load_pem_x509_certificate(pair.crt.read_bytes()).public_bytes(Encoding.DER)


def test_identity_by_subject_and_by_fingerprint(pki: PkiLayout) -> None:
    subject = "CN=schools-client,O=Ministry of Education and Science,C=BG"
    table = IdentityTable(
        {
            "schools": [f"subject:{subject}"],
            "mvr": [f"sha256:{fingerprint(pki.client('mvr')).upper()}", "uri:urn:old-mvr"],
        }
    )
    schools = table.identify(der(pki.client("schools")))
    assert schools is not None and schools.institution == "schools"
    assert schools.subject == subject
    mvr = table.identify(der(pki.client("mvr")))
    assert mvr is not None and mvr.institution == "mvr"
    assert table.identify(der(pki.client("ozd"))) is None


def test_same_identity_for_two_institutions_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="both"):
        IdentityTable({"mvr": ["uri:urn:x"], "ozd": ["urn:x"]})


@pytest.mark.parametrize("text", ["sha256:abc", "subject:not a dn", "CN=x", "uri:"])
def test_malformed_identity_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Identity.parse(text)


def test_certificate_matching_two_institutions_is_refused(pki: PkiLayout) -> None:
    pair = pki.client("mvr")
    table = IdentityTable(
        {"mvr": [f"uri:{institution_uri('mvr')}"], "ozd": [f"sha256:{fingerprint(pair)}"]}
    )
    assert table.identify(der(pair)) is None


# -- the development PKI --------------------------------------------------------------------------


def test_pki_keys_are_private_and_a_complete_pki_is_kept(tmp_path: Path) -> None:
    layout = init_pki(tmp_path, institutions=("mvr",))
    assert layout.complete()
    for pair in layout.pairs():
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    before = {p.crt: p.crt.read_bytes() for p in layout.pairs()}
    init_pki(tmp_path, institutions=("mvr",))
    assert {p.crt: p.crt.read_bytes() for p in layout.pairs()} == before
    init_pki(tmp_path, institutions=("mvr",), overwrite=True)
    assert all(p.crt.read_bytes() != before[p.crt] for p in layout.pairs())


def test_pki_recreating_a_ca_reissues_its_certificates(tmp_path: Path) -> None:
    layout = init_pki(tmp_path, institutions=("mvr",))
    before = {p.crt: p.crt.read_bytes() for p in layout.pairs()}
    layout.institutions_ca.key.unlink()
    init_pki(tmp_path, institutions=("mvr", "ozd"))
    assert layout.client("mvr").crt.read_bytes() != before[layout.client("mvr").crt]
    assert layout.gateway_server.crt.read_bytes() == before[layout.gateway_server.crt]
    assert PkiLayout.at(tmp_path, ("mvr", "ozd")).complete()


def test_pki_rsa_certificates_work_for_mtls(tmp_path: Path) -> None:
    layout = init_pki(tmp_path, institutions=("helpline",), key_type="rsa")
    key = x509.load_pem_x509_certificate(layout.client("helpline").crt.read_bytes()).public_key()
    assert getattr(key, "key_size", None) == 3072
    table = IdentityTable({"helpline": [f"uri:{institution_uri('helpline')}"]})
    with running(echo_app(table), tls=server_tls(layout)) as url:
        body = whoami(url, layout, layout.client("helpline"))
    assert body["caller"]["institution"] == "helpline"
