"""Development PKI (layout in certs/README.md): three CAs and every certificate the tests use."""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.codes import INSTITUTIONS
from gateway.tls import GATEWAY_URI, institution_uri, role_uri

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

SECURITY_OFFICER = "security-officer"
GATEWAY_ORG = "Child Violence Gateway"
REGISTER_ORG = "National Child Register"
# The O of each institution's client certificate; an unknown slug (tests) uses the slug.
INSTITUTION_NAMES: Mapping[str, str] = {
    "mvr": "Ministry of Interior",
    "prosecution": "Prosecutor's Office",
    "ozd": "Child Protection Departments",
    "helpline": "National Child Helpline 116 111",
    "schools": "Ministry of Education and Science",
    "health": "National Health Information System",
}
_CLOCK_SKEW = timedelta(minutes=5)
_CA_DAYS = 3650


@dataclass(frozen=True, slots=True)
class CertPair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted, mode 0600) private key."""

    crt: Path
    key: Path

    def exists(self) -> bool:
        return self.crt.is_file() and self.key.is_file()


@dataclass(frozen=True)
class PkiLayout:
    """Where every file of the development PKI lives under `root`."""

    root: Path
    institutions_ca: CertPair
    gateway_ca: CertPair
    register_ca: CertPair
    gateway_server: CertPair
    gateway_client: CertPair
    register_server: CertPair
    security_officer: CertPair
    clients: Mapping[str, CertPair]

    @classmethod
    def at(cls, root: Path, institutions: Sequence[str] = INSTITUTIONS) -> PkiLayout:
        def pair(name: str) -> CertPair:
            return CertPair(root / f"{name}.crt", root / f"{name}.key")

        return cls(
            root=root,
            institutions_ca=pair("institutions-ca"),
            gateway_ca=pair("gateway-ca"),
            register_ca=pair("register-ca"),
            gateway_server=pair("gateway-server"),
            gateway_client=pair("gateway-client"),
            register_server=pair("register-server"),
            security_officer=pair(f"clients/{SECURITY_OFFICER}"),
            clients={slug: pair(f"clients/{slug}") for slug in institutions},
        )

    def client(self, slug: str) -> CertPair:
        return self.clients[slug]

    def pairs(self) -> list[CertPair]:
        fixed = [
            self.institutions_ca,
            self.gateway_ca,
            self.register_ca,
            self.gateway_server,
            self.gateway_client,
            self.register_server,
            self.security_officer,
        ]
        return fixed + list(self.clients.values())

    def complete(self) -> bool:
        return all(pair.exists() for pair in self.pairs())


def init_pki(
    out_dir: Path,
    *,
    institutions: Sequence[str] = INSTITUTIONS,
    days: int = 825,
    overwrite: bool = False,
    key_type: KeyType = "ec",
) -> PkiLayout:
    """Create whatever is missing (everything when `overwrite`); a complete PKI is kept as is.

    `institutions-ca` signs the institution and security-officer client certificates (the
    gateway trusts it for callers); `gateway-ca` signs the gateway's server certificate and its
    client certificate for the register; `register-ca` signs the register's server certificate.

    A CA that has to be (re)created takes all its certificates with it, so nothing is left
    signed by a key that no longer exists.
    """
    layout = PkiLayout.at(out_dir, institutions)
    if layout.complete() and not overwrite:
        return layout
    (out_dir / "clients").mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)
    start = datetime.now(UTC) - _CLOCK_SKEW
    end = start + timedelta(days=days)
    institution_leaves = [
        _Leaf(pair, f"{slug}-client", INSTITUTION_NAMES.get(slug, slug), institution_uri(slug))
        for slug, pair in layout.clients.items()
    ]
    officer = _Leaf(
        layout.security_officer, SECURITY_OFFICER, GATEWAY_ORG, role_uri(SECURITY_OFFICER)
    )
    gateway_leaves = [
        _Leaf(layout.gateway_server, "gateway-server", GATEWAY_ORG, None),
        _Leaf(layout.gateway_client, "gateway-client", GATEWAY_ORG, GATEWAY_URI),
    ]
    register_leaves = [_Leaf(layout.register_server, "register-server", REGISTER_ORG, None)]
    plan = [
        (layout.institutions_ca, "institutions-ca", GATEWAY_ORG, [*institution_leaves, officer]),
        (layout.gateway_ca, "gateway-ca", GATEWAY_ORG, gateway_leaves),
        (layout.register_ca, "register-ca", REGISTER_ORG, register_leaves),
    ]
    for ca, ca_cn, ca_org, leaves in plan:
        fresh = overwrite or not ca.exists()
        if fresh:
            create_ca(
                ca.crt, ca_cn, organization=ca_org, days=max(days, _CA_DAYS), key_type=key_type
            )
        for leaf in leaves:
            if not fresh and leaf.pair.exists():
                continue
            if leaf.san_uri is None:
                issue_server_cert(
                    ca.crt,
                    ca.key,
                    leaf.pair.crt,
                    leaf.cn,
                    start,
                    end,
                    organization=leaf.organization,
                    key_type=key_type,
                )
            else:
                issue_client_cert(
                    ca.crt,
                    ca.key,
                    leaf.pair.crt,
                    leaf.cn,
                    leaf.san_uri,
                    start,
                    end,
                    organization=leaf.organization,
                    key_type=key_type,
                )
    return layout


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A certificate `init_pki` issues; without a SAN URI it is a server certificate."""

    pair: CertPair
    cn: str
    organization: str
    san_uri: str | None


def create_ca(
    out: Path,
    cn: str,
    *,
    organization: str | None = None,
    days: int = _CA_DAYS,
    key_type: KeyType = "ec",
) -> CertPair:
    """A self-signed CA certificate at `out` with its key beside it (`.key`)."""
    key = generate_key(key_type)
    name = _name(cn, organization)
    start = datetime.now(UTC) - _CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True, rsa_key=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return _write_pair(out, builder.sign(key, hashes.SHA256()), key)


def issue_client_cert(
    ca_crt: Path,
    ca_key: Path,
    out: Path,
    cn: str,
    san_uri: str | None,
    not_before: datetime,
    not_after: datetime,
    *,
    organization: str | None = None,
    key_type: KeyType = "ec",
) -> CertPair:
    """A client certificate (EKU clientAuth) at `out`, its key beside it; any validity period,
    so tests can make expired ones."""
    san = [x509.UniformResourceIdentifier(san_uri)] if san_uri else []
    usage = ExtendedKeyUsageOID.CLIENT_AUTH
    return _issue(
        ca_crt, ca_key, out, _name(cn, organization), san, usage, not_before, not_after, key_type
    )


def issue_server_cert(
    ca_crt: Path,
    ca_key: Path,
    out: Path,
    cn: str,
    not_before: datetime,
    not_after: datetime,
    *,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    organization: str | None = None,
    key_type: KeyType = "ec",
) -> CertPair:
    """A server certificate (EKU serverAuth) for the given names and addresses."""
    san: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    san += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    usage = ExtendedKeyUsageOID.SERVER_AUTH
    return _issue(
        ca_crt, ca_key, out, _name(cn, organization), san, usage, not_before, not_after, key_type
    )


def generate_key(key_type: KeyType = "ec") -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def _issue(
    ca_crt: Path,
    ca_key: Path,
    out: Path,
    subject: x509.Name,
    san: Sequence[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    not_before: datetime,
    not_after: datetime,
    key_type: KeyType,
) -> CertPair:
    issuer = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    issuer_key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError(f"{ca_key} is neither an EC nor an RSA key")
    key = generate_key(key_type)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False, rsa_key=key_type == "rsa"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return _write_pair(out, builder.sign(issuer_key, hashes.SHA256()), key)


def _name(cn: str, organization: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "BG")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _key_usage(*, ca: bool, rsa_key: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        # RSA key exchange needs it for TLS 1.2 non-ECDHE suites; harmless otherwise.
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(out: Path, cert: x509.Certificate, key: PrivateKey) -> CertPair:
    pair = CertPair(out, out.with_suffix(".key"))
    out.parent.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(pair.key, key_pem, 0o600)
    _write(pair.crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


def write_signing_key(key_path: Path) -> Path:
    """An Ed25519 key pair for signing audit checkpoints, kept if present: the private key at
    `key_path` (0600) and the public key, which inspectors get, beside it as `.pub`."""
    pub = key_path.with_suffix(".pub")
    if not key_path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, private, 0o600)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(pub, public, 0o644)
    return pub


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode and renamed into place: a key is never readable by others,
    # not even for a moment, and a crash never leaves half a file.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.chmod(mode)
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Create the development PKI.")
    parser.add_argument("--out", type=Path, default=Path("certs/out"))
    parser.add_argument("--days", type=int, default=825)
    parser.add_argument("--rsa", action="store_true", help="RSA-3072 keys instead of ECDSA P-256")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    layout = init_pki(
        args.out, days=args.days, overwrite=args.overwrite, key_type="rsa" if args.rsa else "ec"
    )
    print(f"PKI ready in {layout.root}")


if __name__ == "__main__":
    main()
