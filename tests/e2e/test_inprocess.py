"""The assembled gateway app in this process, on a real socket: behind a proxy, and a full disk."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.devstack import Stack
from gateway.settings import Settings
from gateway.store.db import Database, Row, Tx
from gateway.tls import ServerTls
from tests.e2e.checks import post_ozd
from tests.e2e.messages import mvr_bytes, mvr_envelope, ozd_signal, soap_headers
from tests.servers import running


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    """PKI and configuration only: the app runs in this process, the register is not needed."""
    return Stack.create(tmp_path)


def app_for(stack: Stack, **overrides: object) -> FastAPI:
    settings = Settings.load(stack.config).model_copy(update=overrides)
    return create_app(settings, forward=False)


def escaped_pem(stack: Stack, slug: str) -> str:
    return quote(stack.layout.client(slug).crt.read_text(), safe="")


def test_behind_a_trusted_proxy_the_forwarded_certificate_counts(stack: Stack) -> None:
    app = app_for(stack, trusted_proxies=["127.0.0.1"], listen="http-behind-proxy")
    with running(app, trusted_proxies=["127.0.0.1"]) as url, httpx.Client(base_url=url) as proxy:
        accepted = proxy.post(
            "/api/v1/ozd/signals",
            json=ozd_signal(),
            headers={"x-client-cert": escaped_pem(stack, "ozd")},
        )
        assert accepted.status_code == 202, accepted.text
        other = proxy.post(
            "/api/v1/ozd/signals",
            json=ozd_signal(),
            headers={"x-client-cert": escaped_pem(stack, "mvr")},
        )
        assert other.status_code == 403
        assert proxy.post("/api/v1/ozd/signals", json=ozd_signal()).status_code == 401


def test_the_forwarded_header_from_an_untrusted_peer_is_ignored(stack: Stack) -> None:
    app = app_for(stack, trusted_proxies=["192.0.2.7"])
    with running(app, trusted_proxies=["192.0.2.7"]) as url, httpx.Client(base_url=url) as peer:
        response = peer.post(
            "/api/v1/ozd/signals",
            json=ozd_signal(),
            headers={"x-client-cert": escaped_pem(stack, "ozd")},
        )
        assert response.status_code == 401


def _one(sql: str, tx: Tx) -> Row | None:
    return tx.one(sql)


@pytest.fixture
def full_disk_app(stack: Stack) -> Iterator[tuple[FastAPI, Database]]:
    app = app_for(stack)
    db: Database = app.state.gateway.db
    # On the writer's own connection, in the store writer process (a unit must pickle).
    pages = db.write_sync(partial(_one, "PRAGMA page_count"))
    assert pages is not None
    # SQLITE_FULL, what a full disk gives: the store may not grow by a page.
    db.write_sync(partial(_one, f"PRAGMA max_page_count = {pages[0]}"))
    yield app, db


def test_a_full_disk_is_a_retryable_refusal_never_an_acknowledgement(
    stack: Stack, full_disk_app: tuple[FastAPI, Database]
) -> None:
    app, db = full_disk_app
    tls = ServerTls(
        stack.layout.gateway_server.crt,
        stack.layout.gateway_server.key,
        stack.layout.institutions_ca.crt,
    )
    with running(app, tls=tls) as url:
        stack.gateway_port = int(url.rsplit(":", 1)[1])
        with stack.client("ozd") as ozd:
            refused = post_ozd(
                ozd,
                ozd_signal(child={"birthDate": "2012-01-01", "sex": "male", "note": "x" * 200_000}),
            )
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            assert refused.json()["errors"][0]["code"] == "unavailable"
        with stack.client("mvr") as mvr:
            fault = mvr.post("/soap/mvr", content=mvr_bytes(mvr_envelope()), headers=soap_headers())
            assert fault.status_code == 500 and b"soap:Server" in fault.content
        assert db.read_sync(lambda tx: tx.all("SELECT * FROM receipts")) == []
        db.write_sync(partial(_one, "PRAGMA max_page_count = 1073741823"))
        with stack.client("ozd") as ozd:
            assert post_ozd(ozd, ozd_signal()).status_code == 202
