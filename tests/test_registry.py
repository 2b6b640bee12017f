"""The reference register over real mutual TLS, on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from gateway import profile
from gateway.errors import DeliveryError
from gateway.facts import Child, Notification, Place, Provenance, Pseudonym
from gateway.forwarder import interpret
from gateway.pki import CertPair, PkiLayout, init_pki, issue_client_cert
from gateway.tls import ServerTls
from registry.app import create_app
from registry.cli import app as cli
from registry.store import Store
from tests.servers import bound_socket, mtls_client, running

FHIR = {"content-type": "application/fhir+json"}
PROCESS = "/fhir/$process-message"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    return init_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def target(url: str) -> str:
    """Where the register stores: each test runs on SQLite and on PostgreSQL (`url`)."""
    return url


@contextmanager
def register(
    pki: PkiLayout, target: str, client_ca: Path | None = None, port: int = 0, **options: Any
) -> Iterator[str]:
    tls = ServerTls(
        pki.register_server.crt, pki.register_server.key, client_ca or pki.gateway_ca.crt
    )
    with Store(target) as store, running(create_app(store, **options), tls=tls, port=port) as url:
        yield url


def gateway_client(url: str, pki: PkiLayout, pair: CertPair | None = None) -> httpx.Client:
    pair = pair or pki.gateway_client
    return mtls_client(url, pki.register_ca.crt, pair.crt, pair.key)


@pytest.fixture
def client(pki: PkiLayout, target: str) -> Iterator[httpx.Client]:
    with register(pki, target, test_hooks=True) as url, gateway_client(url, pki) as c:
        yield c


# -- building canonical bundles with the profile ------------------------------------------------

RECEIVED = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def notification(event: str = "new", case_key: str | None = None, **changes: Any) -> Notification:
    base = Notification(
        notification_id=str(uuid.uuid4()),
        case_key=case_key or str(uuid.uuid4()),
        event=event,  # type: ignore[arg-type]
        institution="mvr",
        incident_reference="mvr:2026-123",
        provenance=Provenance("mvr", "1.0", "2026.1", "a" * 64, RECEIVED),
        warnings=(),
    )
    if event == "cancel":
        return replace(base, **changes)
    full = replace(
        base,
        incident_date=date(2026, 10, 30),
        child=Child(
            path="/Victim[1]",
            sex="female",
            pseudonyms=(Pseudonym("k1", "b" * 64),),
            birth_date="2015-03-02",
        ),
        place=Place("incident", ekatte="68134"),
        forms=("physical",),
        attempted=False,
        outcome="injured",
        relationships=("parent",),
        setting="family",
        case_stage="reported",
    )
    return replace(full, **changes)


def send(client: httpx.Client, bundle: dict[str, Any] | bytes) -> httpx.Response:
    body = bundle if isinstance(bundle, bytes) else orjson.dumps(bundle)
    return client.post(PROCESS, content=body, headers=FHIR)


def response_header(response: httpx.Response) -> dict[str, Any]:
    message = response.json()
    assert message["resourceType"] == "Bundle" and message["type"] == "message"
    header: dict[str, Any] = message["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    return header


def issues(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    if body["resourceType"] == "OperationOutcome":
        found: list[dict[str, Any]] = body["issue"]
        return found
    outcomes = [e["resource"] for e in body["entry"][1:]]
    assert [o["resourceType"] for o in outcomes] == ["OperationOutcome"]
    return [issue for outcome in outcomes for issue in outcome["issue"]]


# -- the message endpoint -----------------------------------------------------------------------


def test_valid_message_is_ok_and_listed(client: httpx.Client) -> None:
    n = notification()
    response = send(client, profile.render(n))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response_header(response)["response"] == {"identifier": n.notification_id, "code": "ok"}
    interpret(response.status_code, response.content)  # the gateway's forwarder agrees
    [listed] = client.get("/api/v1/notifications").json()
    assert listed["notification_id"] == n.notification_id
    assert listed["case_key"] == n.case_key
    assert listed["forms"] == ["physical"]
    assert listed["child_pseudonyms"] == [{"key_id": "k1", "value": "b" * 64}]
    assert datetime.fromisoformat(listed["registered_at"]) > datetime.now(UTC) - timedelta(1)


def test_repeated_message_is_ok_again_and_stored_once(client: httpx.Client) -> None:
    bundle = profile.render(notification())
    first, again = send(client, bundle), send(client, bundle)
    assert (first.status_code, again.status_code) == (200, 200)
    assert response_header(again)["response"]["code"] == "ok"
    assert len(client.get("/api/v1/notifications").json()) == 1
    [case] = client.get("/api/v1/cases").json()
    assert case["notification_count"] == 1


def test_update_and_cancel_are_applied_to_the_case(client: httpx.Client) -> None:
    new = notification()
    update = notification("update", new.case_key, case_stage="substantiated")
    cancel = notification("cancel", new.case_key)
    for n in (new, update):
        assert send(client, profile.render(n)).status_code == 200
    [case] = client.get("/api/v1/cases").json()
    assert case["status"] == "active" and case["notification_count"] == 2
    assert case["latest"]["case_stage"] == "substantiated"
    assert send(client, profile.render(cancel)).status_code == 200
    [case] = client.get("/api/v1/cases").json()
    assert (case["status"], case["last_event"]) == ("cancelled", "cancel")
    assert case["last_notification_id"] == cancel.notification_id
    assert case["latest"]["case_stage"] == "substantiated"  # the last known content stays
    again = notification("new", new.case_key)
    assert send(client, profile.render(again)).status_code == 200
    assert client.get("/api/v1/cases").json()[0]["status"] == "active"
    events = [n["event"] for n in client.get("/api/v1/notifications").json()]
    assert events == ["new", "update", "cancel", "new"]


def test_update_of_an_unseen_case_is_its_first_news(client: httpx.Client) -> None:
    update = notification("update")
    assert send(client, profile.render(update)).status_code == 200
    [case] = client.get("/api/v1/cases").json()
    assert (case["case_key"], case["status"]) == (update.case_key, "active")


def test_bundle_breaking_the_profile_is_a_fatal_error(client: httpx.Client) -> None:
    n = notification()
    bundle = profile.render(n)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    bundle["type"] = "collection"
    response = send(client, bundle)
    assert response.status_code == 422
    assert response_header(response)["response"]["code"] == "fatal-error"
    assert response_header(response)["response"]["identifier"] == n.notification_id
    expressions = {i.get("expression", [""])[0] for i in issues(response)}
    assert {"Bundle.type", "Bundle.entry"} <= expressions
    with pytest.raises(DeliveryError) as caught:
        interpret(response.status_code, response.content)
    assert caught.value.fatal
    assert client.get("/api/v1/notifications").json() == []


def test_bundle_the_profile_cannot_walk_is_a_fatal_error(client: httpx.Client) -> None:
    bundle = profile.render(notification())
    bundle["entry"][1]["resource"]["resourceType"] = ["Organization"]  # not even a string
    response = send(client, bundle)
    assert response.status_code == 422
    assert response_header(response)["response"]["code"] == "fatal-error"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/fhir+json", 400),
        (b"{}", "text/plain", 415),
        (b'{"resourceType": "Bundle"}', "application/json; charset=utf-8", 422),
    ],
)
def test_unreadable_requests_get_an_operation_outcome(
    client: httpx.Client, body: bytes, content_type: str, status: int
) -> None:
    response = client.post(PROCESS, content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"
    assert issues(response)


# -- who may call -------------------------------------------------------------------------------


def test_institution_certificate_cannot_even_connect(pki: PkiLayout, target: str) -> None:
    with (
        register(pki, target) as url,
        gateway_client(url, pki, pki.client("mvr")) as c,
        pytest.raises(httpx.TransportError),
    ):
        c.get("/healthz")


def test_other_certificate_of_a_trusted_ca_is_forbidden(
    pki: PkiLayout, target: str, tmp_path: Path
) -> None:
    # The register shares its client CA with the institutions here: the identity still decides.
    both = tmp_path / "both-cas.crt"
    both.write_bytes(pki.gateway_ca.crt.read_bytes() + pki.institutions_ca.crt.read_bytes())
    with register(pki, target, client_ca=both) as url:
        with gateway_client(url, pki, pki.client("mvr")) as c:
            refused = send(c, profile.render(notification()))
            listing = c.get("/api/v1/notifications")
        with gateway_client(url, pki) as c:
            assert c.get("/api/v1/notifications").json() == []
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert listing.status_code == 403


def test_gateway_identity_is_configurable(pki: PkiLayout, target: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    ca = pki.gateway_ca
    rotated = issue_client_cert(
        ca.crt,
        ca.key,
        tmp_path / "gw2.crt",
        "gateway-client-2",
        "urn:example:gw2",
        now - timedelta(1),
        now + timedelta(1),
    )
    identities = ["uri:urn:example:gw2"]
    with register(pki, target, gateway_identities=identities) as url:
        with gateway_client(url, pki, rotated) as c:
            assert c.get("/healthz").status_code == 200
        with gateway_client(url, pki) as c:
            assert c.get("/healthz").status_code == 403


# -- fault injection ----------------------------------------------------------------------------


def test_fail_mode_transient_answers_transient_error(pki: PkiLayout, target: str) -> None:
    with register(pki, target, fail_mode="transient") as url, gateway_client(url, pki) as c:
        response = send(c, profile.render(notification()))
        assert c.get("/api/v1/notifications").json() == []
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response_header(response)["response"]["code"] == "transient-error"
    with pytest.raises(DeliveryError) as caught:
        interpret(response.status_code, response.content)
    assert not caught.value.fatal


def test_test_hook_switches_modes_for_a_number_of_messages(client: httpx.Client) -> None:
    assert client.post("/_test/mode", json={"mode": "fatal", "count": 1}).status_code == 200
    bundle = profile.render(notification())
    rejected, accepted = send(client, bundle), send(client, bundle)
    assert response_header(rejected)["response"]["code"] == "fatal-error"
    assert response_header(accepted)["response"]["code"] == "ok"
    client.post("/_test/mode", json={"mode": "transient"})
    codes = {response_header(send(client, bundle))["response"]["code"] for _ in range(3)}
    assert codes == {"transient-error"}
    client.post("/_test/mode", json={"mode": "none"})
    assert response_header(send(client, bundle))["response"]["code"] == "ok"


def test_register_down_and_back_at_the_same_address(pki: PkiLayout, target: str) -> None:
    bundle = profile.render(notification())
    with register(pki, target) as url:
        port = int(url.rsplit(":", 1)[1])
    with gateway_client(url, pki) as c:
        with pytest.raises(httpx.ConnectError):
            send(c, bundle)
        with register(pki, target, port=port):
            assert response_header(send(c, bundle))["response"]["code"] == "ok"
            assert len(c.get("/api/v1/notifications").json()) == 1


def test_test_hook_is_absent_unless_enabled(pki: PkiLayout, target: str) -> None:
    with register(pki, target) as url, gateway_client(url, pki) as c:
        assert c.post("/_test/mode", json={"mode": "fatal"}).status_code == 404


# -- the command line ---------------------------------------------------------------------------


def test_cli_serves_and_lists(pki: PkiLayout, tmp_path: Path) -> None:
    db = tmp_path / "register.sqlite3"
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # the child process binds it; a race here only fails this test
    argv = [
        sys.executable,
        "-m",
        "registry",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db),
        "--cert",
        str(pki.register_server.crt),
        "--key",
        str(pki.register_server.key),
        "--client-ca",
        str(pki.gateway_ca.crt),
        "--fail-mode",
        "fatal",
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    process = subprocess.Popen(argv, env=env)
    try:
        with gateway_client(f"https://127.0.0.1:{port}", pki) as c:
            deadline = time.monotonic() + 20
            while True:
                try:
                    c.get("/healthz")
                    break
                except httpx.TransportError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.1)
            response = send(c, profile.render(notification()))
            assert response_header(response)["response"]["code"] == "fatal-error"
    finally:
        process.terminate()
        process.wait(timeout=10)
    with Store(db) as store:
        store.receive(profile.flatten(profile.render(notification())), b"{}")
    result = CliRunner().invoke(cli, ["notifications", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "mvr:2026-123" in result.output and "1 notification(s)" in result.output
