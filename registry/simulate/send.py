"""Send a world's messages through a running gateway over mutual TLS, as each institution
would, and map the receipts back onto the truth.

Each phase (first reports, updates, withdrawals) is sent whole before the next, by a few
concurrent workers, each keeping one keep-alive client per institution certificate. SOAP
envelopes are posted as raw bytes (what zeep would put on the wire), batches as files. The
receipt of every first report gives its notification ids in document order of the children,
which the register's notifications turn into case keys.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from lxml import etree

from gateway.devstack import Stack
from registry.simulate.render import PHASES, Message, Phase, Unit, render_phase
from registry.simulate.world import Report, World

WORKERS = 8
RECEIPT = "/api/v1/receipts/{}"


@dataclass(frozen=True, slots=True)
class Answer:
    unit: Unit
    status: str
    receipt_id: str | None


@dataclass(slots=True)
class Delivery:
    """What the gateway answered, and which notification is which child of which record."""

    answers: dict[Phase, list[Answer]] = field(default_factory=dict)
    # notification id (of a first report) -> (record, index of the child in the record)
    notifications: dict[str, tuple[Report, int]] = field(default_factory=dict)
    messages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def unexpected(self) -> list[Answer]:
        """Answers other than the design: every record version accepted, noise out of scope."""
        return [
            a
            for answers in self.answers.values()
            for a in answers
            if a.status != ("accepted" if a.unit.report else "out-of-scope")
        ]


class _Clients:
    """One keep-alive client per (worker thread, institution)."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.local = stack, threading.local()
        self.opened: list[httpx.Client] = []
        self.lock = threading.Lock()

    def get(self, slug: str) -> httpx.Client:
        clients: dict[str, httpx.Client] = self.local.__dict__.setdefault("clients", {})
        if slug not in clients:
            clients[slug] = client = self.stack.client(slug)
            client.timeout = httpx.Timeout(120)
            with self.lock:
                self.opened.append(clients[slug])
        return clients[slug]

    def close(self) -> None:
        for client in self.opened:
            client.close()


def send_world(stack: Stack, world: World) -> Delivery:
    delivery = Delivery()
    clients = _Clients(stack)
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            for phase in PHASES:
                started = time.monotonic()
                messages = [m for ms in render_phase(world, phase).values() for m in ms]
                results = pool.map(lambda m: _post(clients, m), _interleaved(messages))
                delivery.answers[phase] = [a for answers in results for a in answers]
                delivery.messages += sum(len(m.units) for m in messages)
                delivery.seconds[f"send {phase}"] = time.monotonic() - started
            started = time.monotonic()
            firsts = [a for a in delivery.answers["first"] if a.unit.report and a.receipt_id]
            for answer, ids in zip(
                firsts, pool.map(lambda a: _ids(clients, a), firsts), strict=True
            ):
                report = answer.unit.report
                assert report is not None
                for index, notification_id in enumerate(ids, answer.unit.first_child):
                    delivery.notifications[notification_id] = (report, index)
            delivery.seconds["read receipts"] = time.monotonic() - started
    finally:
        clients.close()
    return delivery


def wait_until_delivered(stack: Stack, timeout: float = 900) -> dict[str, int]:
    """Poll the gateway's queue until nothing is pending (or `timeout` seconds passed)."""
    deadline = time.monotonic() + timeout
    while True:
        done = stack.gateway_cli("queue", "status")
        counts: dict[str, int] = json.loads(done.stdout)
        if not counts.get("pending") or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def _interleaved(messages: list[Message]) -> Iterable[Message]:
    """Institutions take turns, as they would over a day, rather than one after another."""
    by_slug: dict[str, list[Message]] = {}
    for message in messages:
        by_slug.setdefault(message.slug, []).append(message)
    queues = [list(reversed(ms)) for ms in by_slug.values()]
    while any(queues):
        for queue in queues:
            if queue:
                yield queue.pop()


def _post(clients: _Clients, message: Message) -> list[Answer]:
    client = clients.get(message.slug)
    for attempt in range(6):
        try:
            response = client.post(message.path, content=message.body, headers=message.headers)
        except httpx.TransportError:
            if attempt == 5:
                raise
            time.sleep(1)
            continue
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("retry-after", "1")))
    return answers_of(message, response)


def answers_of(message: Message, response: httpx.Response) -> list[Answer]:
    (first, *_) = message.units
    if message.soap:
        if response.status_code != 200:
            return [Answer(first, f"refused {response.status_code}", None)]
        root = etree.fromstring(response.content)
        status = root.findtext(".//{*}Status") or "?"
        return [Answer(first, status.lower().replace("_", "-"), root.findtext(".//{*}ReceiptId"))]
    body: Any = orjson.loads(response.content) if response.content else {}
    if "results" in body:
        results = body["results"]
        return [
            Answer(unit, r["status"], r.get("receiptId"))
            for unit, r in zip(message.units, results, strict=True)
        ]
    if body.get("resourceType") == "Bundle":
        outcome = body["entry"][-1]["resource"]
        issue = outcome["issue"][0]
        status = issue["details"]["coding"][0]["code"]
        return [Answer(first, status, issue.get("diagnostics"))]
    if response.status_code == 202:
        return [Answer(first, str(body["status"]), str(body["receiptId"]))]
    return [Answer(first, f"refused {response.status_code}", None)]


def _ids(clients: _Clients, answer: Answer) -> list[str]:
    report = answer.unit.report
    assert report is not None
    response = clients.get(report.slug).get(RECEIPT.format(answer.receipt_id))
    response.raise_for_status()
    ids: list[str] = response.json()["notificationIds"]
    return ids
