"""Nothing accepted is lost: register down or refusing, gateway killed, order kept per case."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

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


def test_gateway_killed_under_load_loses_no_acknowledged_message(fresh_stack: Stack) -> None:
    stack = fresh_stack
    assert stack.gateway is not None
    acknowledged: list[Any] = []
    stop = threading.Event()

    def police() -> None:
        client = stack.soap_client("mvr", "/soap/mvr")
        while not stop.is_set():
            try:
                acknowledged.append(submit(client, mvr_envelope()))
            except Exception:  # the connection dies with the gateway: not acknowledged
                return

    senders = [threading.Thread(target=police) for _ in range(4)]
    for sender in senders:
        sender.start()
    assert wait_until(lambda: len(acknowledged) >= 40, timeout=60)
    stack.gateway.kill()
    stop.set()
    for sender in senders:
        sender.join(timeout=30)
    stack.start_gateway()
    # What was committed but not yet answered when the process died is delivered too, so the
    # register's count can pass the acknowledged count before the last acknowledged message
    # arrives: wait for the whole queue, then look.
    assert wait_until(lambda: set(queue_counts(stack)) == {"delivered"}, timeout=60)
    at_register = ids_at_register(stack)
    assert sum(at_register.values()) >= sum(a.NotificationCount for a in acknowledged)
    assert set(at_register.values()) == {1}
    client = stack.soap_client("mvr", "/soap/mvr")
    for answer in acknowledged:  # every acknowledged notification arrived, exactly once
        status = client.service.GetReceiptStatus(ReceiptId=answer.ReceiptId)
        assert set(status.NotificationId) <= set(at_register)
    verdict = stack.gateway_cli("audit", "verify")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
