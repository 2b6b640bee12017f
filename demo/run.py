"""`make demo`: a development PKI, the register and the gateway, and every sample sent to them.

Each institution sends the way its system would, over mutual TLS with its own certificate: the
SOAP institutions (police 1.1, prosecution 1.2) through zeep, built from the WSDL the gateway
publishes; the REST ones (Child Protection JSON, helpline NDJSON batches, schools CSV files,
health FHIR messages) with httpx. Then the demo waits until the gateway's queue is empty, prints
what the register received, and stops both servers.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import zeep
from lxml import etree

from adapters.registry import load_adapters
from gateway.adapter import Adapter
from gateway.devstack import Stack
from gateway.kit.conformance import samples
from gateway.kit.local import request_headers
from registry.simulate import run_simulation

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("mvr", "prosecution", "ozd", "helpline", "schools", "health")


def in_story_order(found: Iterable[Path]) -> list[Path]:
    """First reports, then updates, then withdrawals, as a record's life goes."""

    def stage(path: Path) -> tuple[int, str]:
        name = path.name
        later = any(w in name for w in ("update", "version-2", "revision", "later"))
        last = any(w in name for w in ("cancel", "withdraw", "refuted"))
        return (2 if last else 1 if later else 0, name)

    return sorted(found, key=stage)


def send_soap(stack: Stack, adapter: Adapter, sample: Path) -> str:
    """Through zeep's own transport and reply processing, as the institution wrote it."""
    client = stack.soap_client(adapter.slug, adapter.transport.path)
    binding = client.service._binding
    operation = binding.get(adapter.transport.submit_operation)
    address = str(client.service._binding_options["address"])
    envelope = etree.parse(str(sample)).getroot()
    try:
        reply = client.transport.post_xml(address, envelope, request_headers(adapter, sample))
        answer = binding.process_reply(client, operation, reply)
    except zeep.exceptions.Fault as fault:
        return f"fault: {fault.message}"
    return f"{answer.Status}, {answer.NotificationCount} notification(s)"


def send_rest(stack: Stack, adapter: Adapter, sample: Path) -> str:
    with stack.client(adapter.slug) as client:
        response = client.post(
            adapter.transport.path,
            content=sample.read_bytes(),
            headers=request_headers(adapter, sample),
        )
    body: Any = response.json()
    if "results" in body:  # a batch: one result per line or row
        statuses = [r["status"] for r in body["results"]]
        summary = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    elif body.get("resourceType") == "Bundle":  # FHIR response message
        outcome = body["entry"][-1]["resource"]["issue"][0]["details"]["coding"][0]["code"]
        summary = outcome
    else:
        summary = str(body.get("status") or body.get("title"))
    return f"{response.status_code} {summary}"


def table(rows: list[dict[str, Any]]) -> str:
    columns = [
        ("institution", 11), ("event", 6), ("incident_reference", 30), ("child_pseudonyms", 10),
        ("birth_date", 10), ("age", 3), ("sex", 6), ("forms", 28), ("outcome", 11),
        ("relationships", 14), ("setting", 12), ("case_stage", 16), ("incident_date", 10),
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


def wait_until_delivered(stack: Stack, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts: dict[str, int] = json.loads(stack.gateway_cli("queue", "status").stdout)
        if not counts.get("pending") or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def simulated_year(stack: Stack, children: int = 1000) -> None:
    """The last step: a synthetic year with known truth through the same stack, scored."""
    print(f"\na synthetic year: {children} children, every institution, sent over mutual TLS")
    score = run_simulation(stack, children=children, seed=2021)
    print("the register's linkage against the truth:\n")
    print(score.table())


def main() -> int:
    root = ROOT / "var" / "demo"
    shutil.rmtree(root, ignore_errors=True)
    adapters = load_adapters()
    with Stack.create(root) as stack:
        print(f"development PKI and configuration in {stack.layout.root}")
        stack.start_register()
        print(f"register listening on {stack.register_url} (mutual TLS)")
        stack.start_gateway()
        print(f"gateway listening on {stack.gateway_url} (mutual TLS)\n")
        for slug in sorted(adapters, key=lambda s: ORDER.index(s) if s in ORDER else 99):
            adapter = adapters[slug]
            soap = adapter.transport.kind in ("soap11", "soap12")
            for sample in in_story_order(samples(ROOT / "adapters" / slug / "samples")):
                answer = (send_soap if soap else send_rest)(stack, adapter, sample)
                print(f"  {slug:11} {sample.name:44} -> {answer}")
        counts = wait_until_delivered(stack)
        received = stack.register_notifications()
        print(f"\nthe gateway's queue: {counts}")
        print(f"the register received {len(received)} notification(s):\n")
        print(table(received))
        simulated_year(stack)
        print("\nstopping the gateway and the register")
    print("stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
