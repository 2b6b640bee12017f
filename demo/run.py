"""`make demo`: a development PKI, the register and the gateway, and every sample sent to them.

Each institution sends the way its system would: the police with a SOAP client (zeep) built
from the gateway's published WSDL, the Child Protection Departments with an HTTPS JSON client
(httpx); both over mutual TLS with their own certificate. Then the demo waits for delivery,
prints what the register received, and stops both servers.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import zeep
from lxml import etree

from gateway.devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
MVR_NS = "urn:bg:mvr:child-incident:v1"


def in_story_order(samples: Iterable[Path]) -> list[Path]:
    """First reports, then updates, then withdrawals, as a record's life goes."""

    def stage(path: Path) -> tuple[int, str]:
        name = path.name
        later = "update" in name or "version-2" in name
        last = "cancel" in name or "withdrawal" in name
        return (2 if last else 1 if later else 0, name)

    return sorted(samples, key=stage)


def send_mvr(stack: Stack) -> list[tuple[str, str, int]]:
    """Typed calls where zeep's model can carry the sample; samples it cannot (another element
    order, unknown elements) go as the institution wrote them, through zeep's own transport and
    reply processing."""
    client = stack.soap_client("mvr", "/soap/mvr")
    element = client.get_element(f"{{{MVR_NS}}}IncidentReport")
    binding = client.service._binding
    operation = binding.get("SubmitIncidentReport")
    results = []
    for sample in in_story_order((ROOT / "adapters" / "mvr" / "samples").glob("*.xml")):
        envelope = etree.parse(str(sample))
        body = envelope.find(f".//{{{MVR_NS}}}IncidentReport")
        if body is None:
            continue
        try:
            try:
                value = element.type.parse_xmlelement(body, client.wsdl.types)
                answer = client.service.SubmitIncidentReport(**{k: value[k] for k in value})
            except zeep.exceptions.XMLParseError:
                reply = client.transport.post_xml(
                    binding_address(client),
                    envelope.getroot(),
                    {
                        "SOAPAction": f'"{MVR_NS}/SubmitIncidentReport"',
                        "Content-Type": "text/xml; charset=utf-8",
                    },
                )
                answer = binding.process_reply(client, operation, reply)
            results.append((f"mvr {sample.name}", answer.Status, answer.NotificationCount))
        except zeep.exceptions.Fault as fault:
            results.append((f"mvr {sample.name}", f"fault {fault.message}", 0))
    return results


def binding_address(client: zeep.Client) -> str:
    return str(client.service._binding_options["address"])


def send_ozd(stack: Stack) -> list[tuple[str, str, int]]:
    results = []
    with stack.client("ozd") as client:
        for sample in in_story_order((ROOT / "adapters" / "ozd" / "samples").glob("*.json")):
            response = client.post(
                "/api/v1/ozd/signals",
                content=sample.read_bytes(),
                headers={"content-type": "application/json"},
            )
            body = response.json()
            status = body.get("status") or body.get("title")
            count = len(body.get("notificationIds") or [])
            results.append((f"ozd {sample.name}", f"{response.status_code} {status}", count))
    return results


def table(rows: list[dict[str, Any]]) -> str:
    columns = [
        ("institution", 5), ("event", 6), ("incident_reference", 30), ("child_pseudonyms", 10),
        ("birth_date", 10), ("sex", 6), ("forms", 28), ("outcome", 11), ("relationships", 14),
        ("setting", 12), ("case_stage", 16), ("incident_date", 10), ("ekatte", 5),
        ("warnings", 24),
    ]  # fmt: skip

    def cell(row: dict[str, Any], name: str, width: int) -> str:
        value = row.get(name)
        if name == "child_pseudonyms":
            value = value[0]["value"][:10] if value else "-"
        elif name == "warnings":
            value = ",".join(w["code"] for w in value or []) or "-"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        text = "-" if value in (None, "") else str(value)
        return text[:width].ljust(width)

    head = " ".join(name[:w].ljust(w) for name, w in columns)
    lines = [head, "-" * len(head)]
    lines += [" ".join(cell(r, n, w) for n, w in columns) for r in rows]
    return "\n".join(lines)


def main() -> int:
    root = ROOT / "var" / "demo"
    shutil.rmtree(root, ignore_errors=True)
    with Stack.create(root) as stack:
        print(f"development PKI and configuration in {stack.layout.root}")
        stack.start_register()
        print(f"register listening on {stack.register_url} (mutual TLS)")
        stack.start_gateway()
        print(f"gateway listening on {stack.gateway_url} (mutual TLS)\n")
        sent = send_mvr(stack) + send_ozd(stack)
        for name, answer, count in sent:
            print(f"  sent {name:52} -> {answer}, {count} notification(s)")
        expected = sum(count for _, _, count in sent)
        received = stack.wait_for_register(expected, timeout=30)
        print(f"\nthe register received {len(received)} notification(s):\n")
        print(table(received))
        print("\nstopping the gateway and the register")
    print("stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
