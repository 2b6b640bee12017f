"""Nothing accepted is lost: register down or refusing, gateway killed, order kept per case."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import zeep.exceptions

from gateway.devstack import Stack
from tests.e2e.checks import queue_counts, set_register_mode, wait_until
from tests.e2e.messages import mvr_envelope, submit


def ids_at_register(stack: Stack) -> Counter[str]:
    return Counter(n["notification_id"] for n in stack.register_notifications())


def test_register_down_then_up_delivers_once_in_case_order(fresh_stack: Stack) -> None:
    stack = fresh_stack
    assert stack.register is not None
    stack.register.stop()
    client = stack.soap_client("mvr", "/soap/mvr")
    registration = "ЗМ-77/2021"
    answers = [
        submit(client, mvr_envelope(registration=registration, report_type=kind))
        for kind in ("NEW", "UPDATE", "UPDATE")
    ]
    assert [a.Status for a in answers] == ["ACCEPTED"] * 3
    assert wait_until(lambda: stack.audit_search("--kind", "retried"))
    assert queue_counts(stack) == {"pending": 3}
    stack.start_register()
    rows = stack.wait_for_register(3)
    assert [r["event"] for r in rows] == ["new", "update", "update"]
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 3})
    assert set(ids_at_register(stack).values()) == {1}


def test_fatal_answer_is_dead_lettered_with_the_reason(fresh_stack: Stack) -> None:
    stack = fresh_stack
    set_register_mode(stack, "fatal")
    answer = submit(stack.soap_client("mvr", "/soap/mvr"), mvr_envelope())
    assert answer.Status == "ACCEPTED"
    assert wait_until(lambda: queue_counts(stack) == {"dead": 1})
    [dead] = stack.audit_search("--kind", "dead-lettered")
    assert dead["receipt_id"] == answer.ReceiptId and "fatal-error" in dead["detail"]
    assert stack.register_notifications() == []
    status = stack.gateway_cli("queue", "status")
    assert '"dead":1' in status.stdout


def test_transient_answers_are_retried_until_delivered(fresh_stack: Stack) -> None:
    stack = fresh_stack
    set_register_mode(stack, "transient", count=2)
    submit(stack.soap_client("mvr", "/soap/mvr"), mvr_envelope())
    [row] = stack.wait_for_register(1)
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 1})
    assert len(stack.audit_search("--kind", "retried")) == 2
    assert ids_at_register(stack)[row["notification_id"]] == 1


def test_gateway_killed_between_accept_and_deliver(fresh_stack: Stack) -> None:
    stack = fresh_stack
    assert stack.register is not None and stack.gateway is not None
    stack.register.stop()
    client = stack.soap_client("mvr", "/soap/mvr")
    accepted = [submit(client, mvr_envelope()) for _ in range(3)]
    assert all(a.Status == "ACCEPTED" for a in accepted)
    stack.gateway.kill()  # SIGKILL: no shutdown hook runs
    stack.start_register()
    stack.start_gateway()
    rows = stack.wait_for_register(3)
    assert wait_until(lambda: queue_counts(stack) == {"delivered": 3})
    assert len(rows) == 3 and set(ids_at_register(stack).values()) == {1}


class Police:
    """Four police systems sending new reports until stopped; what each answer was."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.acknowledged: list[Any] = []
        self.faults: list[str] = []
        self.stop = threading.Event()
        self._senders = [threading.Thread(target=self._send) for _ in range(4)]
        for sender in self._senders:
            sender.start()

    def _send(self) -> None:
        client = self.stack.soap_client("mvr", "/soap/mvr")
        while not self.stop.is_set():
            try:
                self.acknowledged.append(submit(client, mvr_envelope()))
            except zeep.exceptions.Fault as fault:  # answered, not acknowledged
                self.faults.append(str(fault.code))
            except Exception:  # the connection dies with the gateway: not acknowledged
                return

    def until(self, count: int) -> None:
        assert wait_until(lambda: len(self.acknowledged) >= count, timeout=60)

    def halt(self) -> None:
        self.stop.set()
        for sender in self._senders:
            sender.join(timeout=30)

    def check_delivered_once(self) -> None:
        """Every acknowledged notification reached the register, each exactly once."""
        # What was committed but not yet answered when a process died is delivered too, so the
        # register's count can pass the acknowledged count before the last acknowledged message
        # arrives: wait for the whole queue, then look.
        assert wait_until(lambda: set(queue_counts(self.stack)) == {"delivered"}, timeout=60)
        at_register = ids_at_register(self.stack)
        assert sum(at_register.values()) >= sum(a.NotificationCount for a in self.acknowledged)
        assert set(at_register.values()) == {1}
        client = self.stack.soap_client("mvr", "/soap/mvr")
        for answer in self.acknowledged:
            status = client.service.GetReceiptStatus(ReceiptId=answer.ReceiptId)
            assert set(status.NotificationId) <= set(at_register)
        verdict = self.stack.gateway_cli("audit", "verify")
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr


def test_gateway_killed_under_load_loses_no_acknowledged_message(fresh_stack: Stack) -> None:
    stack = fresh_stack
    assert stack.gateway is not None
    police = Police(stack)
    police.until(40)
    stack.gateway.kill()
    police.halt()
    stack.start_gateway()
    police.check_delivered_once()


def _writer_process(gateway_pid: int) -> int:
    """The gateway's store writer process (`store_writer = process`, the default)."""
    # Each thread lists the children it started: a restarted writer is the writer thread's.
    tasks = Path(f"/proc/{gateway_pid}/task").iterdir()
    children = [pid for task in tasks for pid in (task / "children").read_text().split()]
    found = [
        int(pid)
        for pid in children
        if b"gateway.store.writer_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(found) == 1, children
    return found[0]


def test_store_writer_killed_under_load_the_gateway_serves_on(fresh_stack: Stack) -> None:
    stack = fresh_stack
    assert stack.gateway is not None and stack.gateway.proc is not None
    gateway_pid = stack.gateway.proc.pid
    police = Police(stack)
    police.until(20)
    first = _writer_process(gateway_pid)
    os.kill(first, signal.SIGKILL)
    police.until(len(police.acknowledged) + 20)
    police.halt()
    # The same gateway process, a new writer; the group that died with the old one was
    # answered with retryable server faults, nothing else.
    assert stack.gateway.running
    assert _writer_process(gateway_pid) != first
    assert set(police.faults) <= {"soap:Server"}
    police.check_delivered_once()
