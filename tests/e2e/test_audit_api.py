"""The officer's audit API over real mutual TLS: who may read, what a read leaves, what a child
search finds, and that neither the API, the exports nor the report carry a personal number."""

from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from gateway.audit import children
from gateway.codes import INSTITUTIONS
from gateway.devstack import Stack
from gateway.settings import Settings
from gateway.tls import client_ssl_context
from tests.e2e.checks import files_containing, personal_values, post_ozd, queue_counts, wait_until
from tests.e2e.messages import mvr_envelope, ozd_signal, submit

OFFICER = "security-officer"
A = "0443056096"  # the police sample's child, reported again by child protection below
B = "1046122291"  # the child protection sample's child
READ_PATHS = ("/api/v1/audit/records", "/api/v1/audit/export", "/api/v1/audit/checkpoint")


def officer(stack: Stack) -> httpx.Client:
    return stack.client(OFFICER)


def pseudonym(stack: Stack, egn: str) -> str:
    return children.derive(Settings.load(stack.config).keyring(), egn=egn)


def all_records(stack: Stack) -> list[dict[str, Any]]:
    with officer(stack) as client:
        response = client.get("/api/v1/audit/records", params={"limit": 10000})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def fingerprint(crt: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(crt.read_text())).hexdigest()


def reads(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in all_records(stack) if r["kind"] == "read"]


@pytest.fixture(scope="module")
def reported(stack: Stack) -> dict[str, str]:
    """Child A reported by the police and by child protection, child B by child protection."""
    police = submit(stack.soap_client("mvr", "/soap/mvr"), mvr_envelope())
    with stack.client("ozd") as ozd:
        base = ozd_signal()
        again = post_ozd(ozd, {**base, "child": {**base["child"], "egn": A}})
        again_b = post_ozd(ozd, ozd_signal())
    assert again.status_code == 202 and again_b.status_code == 202
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 3})
    return {
        "mvr": police.ReceiptId,
        "ozd-a": again.json()["receiptId"],
        "ozd-b": again_b.json()["receiptId"],
    }


def test_search_by_egn_finds_exactly_that_childs_records(
    stack: Stack, reported: dict[str, str]
) -> None:
    for number, expected in ((A, {"mvr", "ozd-a"}), (B, {"ozd-b"})):
        with officer(stack) as client:
            response = client.post("/api/v1/audit/search", json={"egn": number})
        assert response.status_code == 200, response.text
        found = response.json()["records"]
        child = pseudonym(stack, number)
        # Exactly the records naming the child, against the whole trail up to this search,
        # whose own `read` record comes last (a lookup of the child is about the child).
        last = found[-1]
        assert (last["kind"], last["children"], last["detail"]) == (
            "read",
            [child],
            "api search child=pseudonym",
        )
        everything = all_records(stack)
        assert [r["seq"] for r in found] == [
            r["seq"] for r in everything if child in r["children"] and r["seq"] <= last["seq"]
        ]
        # Who reported the child, and where each report went: intake and delivery steps.
        steps = [r for r in found if r["kind"] != "read"]
        receipts = {reported[k] for k in expected}
        assert {r["receipt_id"] for r in steps} == receipts
        for receipt in receipts:
            kinds = [r["kind"] for r in steps if r["receipt_id"] == receipt]
            assert kinds == ["received", "accepted", "translated", "forwarded", "delivered"]
        institutions = {r["institution"] for r in steps}
        assert institutions == ({"mvr", "ozd"} if number == A else {"ozd"})


def test_search_by_egn_on_the_command_line_reads_the_number_from_stdin(
    stack: Stack, reported: dict[str, str]
) -> None:
    argv = [sys.executable, "-m", "gateway", "audit", "search", "--egn", "-"]
    done = subprocess.run(
        [*argv, "--kind", "delivered", "--config", str(stack.config)],
        input=B + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert [x["receipt_id"] for x in lines] == [reported["ozd-b"]]
    wrong = subprocess.run(
        [*argv, "--config", str(stack.config)],
        input=B[:9] + "0\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert wrong.returncode == 2 and "check digit" in wrong.stderr
    assert B[:9] not in wrong.stderr + wrong.stdout


def test_officer_reads_and_every_read_is_audited(stack: Stack, reported: dict[str, str]) -> None:
    before = len(reads(stack))  # this listing's own read record included
    with officer(stack) as client:
        by_cert = client.get("/api/v1/audit/records", params={"cert_fp": stack.fingerprint("mvr")})
        by_child = client.post("/api/v1/audit/search", json={"egn": A, "institution": "ozd"})
    assert by_cert.status_code == 200 and by_child.status_code == 200
    assert {r["institution"] for r in by_cert.json()["records"]} == {"mvr"}
    assert {r["receipt_id"] for r in by_child.json()["records"]} == {reported["ozd-a"]}
    after = reads(stack)
    assert len(after) == before + 2 + 1  # the two reads, and this listing
    mine = after[-3:-1]
    officer_fp = fingerprint(stack.layout.security_officer.crt)
    assert {r["cert_fp"] for r in mine} == {officer_fp}
    assert mine[0]["detail"] == f"api records cert_fp={stack.fingerprint('mvr')}"
    # The child search is recorded by pseudonym, never by the number typed.
    assert mine[1]["children"] == [pseudonym(stack, A)]
    assert mine[1]["detail"] == "api search institution=ozd child=pseudonym"
    assert all(A not in orjson.dumps(r).decode() for r in after)


@pytest.mark.parametrize("slug", INSTITUTIONS)
def test_institution_certificates_are_refused_and_the_attempt_audited(
    stack: Stack, slug: str
) -> None:
    with stack.client(slug) as client:
        answers = [client.get(path) for path in READ_PATHS]
        answers.append(client.post("/api/v1/audit/search", json={"egn": A}))
    for response in answers:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["code"] == "forbidden"
        assert "records" not in response.json()
    refused = [r for r in reads(stack) if r["cert_fp"] == stack.fingerprint(slug)]
    assert len(refused) == 4 and {r["outcome"] for r in refused} == {"refused"}
    assert {r["institution"] for r in refused} == {slug}
    assert all(r["children"] == [] for r in refused)  # nothing was derived for a refusal


def test_no_certificate_is_refused_by_tls(stack: Stack) -> None:
    context = client_ssl_context(stack.layout.gateway_ca.crt)
    client = httpx.Client(base_url=stack.gateway_url, verify=context, timeout=10)
    with client, pytest.raises(httpx.TransportError):
        client.get("/api/v1/audit/records")


def test_export_is_valid_fhir_and_the_report_counts(stack: Stack, reported: dict[str, str]) -> None:
    with officer(stack) as client:
        response = client.get("/api/v1/audit/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    events = [orjson.loads(line) for line in response.content.splitlines()]
    for event in events:
        AuditEvent.model_validate(event)
    # Up to the latest signed checkpoint, once there is one; before, every record.
    size = response.headers.get("x-audit-tree-size")
    expected = len(all_records(stack)) - 1 if size is None else int(size)  # not the listing
    assert len(events) == expected
    assert {e["subtype"][-1]["code"] for e in events} >= {
        "received", "accepted", "translated", "forwarded", "delivered", "read",
    }  # fmt: skip
    out = stack.root / "audit-export.ndjson"
    done = stack.gateway_cli("audit", "export", "--from", "2000-01-01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    cli_events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [e["id"] for e in cli_events[: len(events)]] == [e["id"] for e in events]
    for event in cli_events:
        AuditEvent.model_validate(event)

    html_file = stack.root / "report.html"
    clients = stack.layout.client("mvr").crt.parent
    done = stack.gateway_cli("audit", "report", "--out", str(html_file), "--certs", str(clients))
    assert done.returncode == 0, done.stderr
    html = html_file.read_text("utf-8")
    assert "Chain intact" in html and "<svg" in html and "<script" not in html
    # Three messages accepted: one from the police, two from child protection.
    assert '<tr><td>mvr</td><td class="n">1</td><td class="n">1</td></tr>' in html
    assert '<tr><td>ozd</td><td class="n">2</td><td class="n">2</td></tr>' in html
    assert stack.fingerprint("mvr") in html and stack.fingerprint("ozd") in html
    assert "expire within 30 days" in html and "unknown" not in html.split("Certificates used")[1]


def test_officer_reads_the_latest_signed_checkpoint(stack: Stack, reported: dict[str, str]) -> None:
    signed = stack.gateway_cli("audit", "checkpoint")
    assert signed.returncode == 0, signed.stderr
    with officer(stack) as client:
        response = client.get("/api/v1/audit/checkpoint")
    assert response.status_code == 200, response.text
    # The gateway may have signed a newer one since; either way it is a checkpoint of this log.
    origin = signed.stdout.splitlines()[0]
    assert response.text.splitlines()[0] == origin
    assert int(response.text.splitlines()[1]) >= int(signed.stdout.splitlines()[1])


def test_the_officer_verifies_an_api_export_offline(
    stack: Stack, reported: dict[str, str], tmp_path: Path
) -> None:
    """The export over the API, proved against the stored checkpoint it names, verifies with
    `gateway audit verify` and the public key; a size with no checkpoint is 404."""
    assert stack.gateway_cli("audit", "checkpoint").returncode == 0
    with officer(stack) as client:
        response = client.get("/api/v1/audit/export", params={"from": "2000-01-01"})
        size = response.headers["x-audit-tree-size"]
        note = client.get("/api/v1/audit/export", params={"tree_size": size, "checkpoint": True})
        missing = client.get("/api/v1/audit/export", params={"tree_size": 10**9})
    assert response.status_code == note.status_code == 200, note.text
    assert int(note.text.split("\n")[1]) == int(size) == len(response.content.splitlines())
    assert missing.status_code == 404
    (tmp_path / "api.ndjson").write_bytes(response.content)
    (tmp_path / "api.checkpoint").write_text(note.text)
    key = str(stack.layout.root / "audit-signing.pub")
    done = stack.gateway_cli(
        "audit", "verify", "--export", str(tmp_path / "api.ndjson"),
        "--checkpoint", str(tmp_path / "api.checkpoint"), "--public-key", key,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"verified: {size} AuditEvents (records 1..{size})")
    reads = [r["detail"] for r in all_records(stack) if r["kind"] == "read"]
    assert "api export since=2000-01-01" in " | ".join(reads)
    assert "api export checkpoint" in " | ".join(reads)


def test_no_personal_number_or_name_anywhere(stack: Stack, reported: dict[str, str]) -> None:
    """Last in the module: stop the servers and scan everything they and the tools wrote, the
    record bytes inside the exported events decoded too."""
    with officer(stack) as client:
        exported = client.get("/api/v1/audit/export").content
    (stack.root / "api-export.ndjson").write_bytes(exported)
    (stack.root / "api-export-records.ndjson").write_bytes(
        b"\n".join(
            base64.b64decode(x["valueBase64Binary"])
            for line in exported.splitlines()
            for x in orjson.loads(line)["extension"]
            if "valueBase64Binary" in x
        )
    )
    stack.stop()
    values = personal_values() | {A, B}
    leaks = files_containing(stack.root, values)
    assert leaks == {}, f"personal data found: {leaks}"
    (stack.root / "canary.txt").write_text(A, "utf-8")
    assert "canary.txt" in files_containing(stack.root, values)
