"""Who may call: a certificate of the institutions' CA, valid, mapped to this institution."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from gateway.devstack import Stack
from gateway.pki import create_ca, issue_client_cert
from gateway.tls import client_ssl_context, institution_uri
from tests.e2e.checks import post_ozd
from tests.e2e.messages import mvr_bytes, mvr_envelope, ozd_signal, soap_headers

NOW = datetime.now(UTC)


def post(stack: Stack, context: ssl.SSLContext) -> httpx.Response:
    with httpx.Client(base_url=stack.gateway_url, verify=context, timeout=10) as client:
        return post_ozd(client, ozd_signal())


def test_no_client_certificate_is_refused_in_the_handshake(stack: Stack) -> None:
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        post(stack, client_ssl_context(stack.layout.gateway_ca.crt))


def test_certificate_of_another_ca_is_refused(stack: Stack, tmp_path: Path) -> None:
    foreign = create_ca(tmp_path / "foreign-ca.crt", "foreign-ca")
    leaf = issue_client_cert(
        foreign.crt,
        foreign.key,
        tmp_path / "ozd.crt",
        "ozd-client",
        institution_uri("ozd"),
        NOW - timedelta(days=1),
        NOW + timedelta(days=30),
    )
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        post(stack, client_ssl_context(stack.layout.gateway_ca.crt, leaf.crt, leaf.key))


def test_expired_certificate_is_refused(stack: Stack, tmp_path: Path) -> None:
    ca = stack.layout.institutions_ca
    leaf = issue_client_cert(
        ca.crt,
        ca.key,
        tmp_path / "ozd-old.crt",
        "ozd-client",
        institution_uri("ozd"),
        NOW - timedelta(days=60),
        NOW - timedelta(days=1),
    )
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        post(stack, client_ssl_context(stack.layout.gateway_ca.crt, leaf.crt, leaf.key))


def test_valid_certificate_of_no_configured_institution_is_refused(
    stack: Stack, tmp_path: Path
) -> None:
    ca = stack.layout.institutions_ca
    leaf = issue_client_cert(
        ca.crt,
        ca.key,
        tmp_path / "x.crt",
        "stranger",
        "urn:example:nobody",
        NOW - timedelta(days=1),
        NOW + timedelta(days=30),
    )
    response = post(stack, client_ssl_context(stack.layout.gateway_ca.crt, leaf.crt, leaf.key))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_another_institutions_certificate_gets_403(stack: Stack) -> None:
    with stack.client("mvr") as police:
        response = post_ozd(police, ozd_signal())
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "forbidden"
    with stack.client("ozd") as child_protection:
        response = child_protection.post(
            "/soap/mvr", content=mvr_bytes(mvr_envelope()), headers=soap_headers()
        )
    assert response.status_code == 403
    fault = etree.fromstring(response.content)
    assert fault.findtext(".//faultcode") == "soap:Client"
    assert b"forbidden" in response.content


def test_refusals_are_audited_with_the_certificate(stack: Stack) -> None:
    with stack.client("mvr") as police:
        assert post_ozd(police, ozd_signal()).status_code == 403
    refused = stack.audit_search("--kind", "rejected", "--outcome", "refused")
    assert any(
        r["cert_fp"] == stack.fingerprint("mvr") and "forbidden" in r["detail"] for r in refused
    )
