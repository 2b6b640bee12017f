"""The store's writer in a child process (`writer="process"`, what `gateway serve` uses)."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Iterator
from concurrent.futures import Future
from functools import partial

import pytest

from gateway import errors
from gateway.errors import ContractViolation, GatewayError, Problem, StaleVersion, Unavailable
from gateway.store import writer_process
from gateway.store.db import Database, Tx


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url, writer="process")
    yield database
    database.close()


def _note(tx: Tx, text: str) -> int:
    return tx.execute(
        "INSERT INTO audit_checkpoints (size, root, at, note) VALUES (?, ?, ?, ?)",
        (len(text) + 1000 * len(tx.all("SELECT size FROM audit_checkpoints")), "r", "t", text),
    )


def _notes(tx: Tx) -> list[str]:
    return [str(r[0]) for r in tx.all("SELECT note FROM audit_checkpoints ORDER BY size")]


def _refuse(tx: Tx, error: Exception) -> None:
    _note(tx, "undone")  # rolled back with its unit alone
    raise error


def _pid(tx: Tx) -> int:
    return os.getpid()


class _Unpicklable:
    def __reduce__(self) -> str:
        raise TypeError("not this one")


def _unpicklable(tx: Tx) -> object:
    _note(tx, "kept")
    return _Unpicklable()


def _group(db: Database, *units: object) -> list[Future[object]]:
    """Queue the units back to back, so that they share one commit group."""
    return [db.enqueue(u) for u in units]  # type: ignore[arg-type]


def _outcome(future: Future[object]) -> object:
    try:
        return future.result(timeout=30)
    except Exception as exc:
        return exc


def test_units_run_in_another_process_and_their_errors_come_back(db: Database) -> None:
    assert db.write_sync(_pid) != os.getpid()
    stale = StaleVersion("version 2 is not above 3")
    invalid = ContractViolation([Problem("/m:IncidentReport/m:Egn", "check-digit", "bad")])
    futures = _group(
        db,
        partial(_note, text="a"),
        partial(_refuse, error=stale),
        partial(_note, text="b"),
        partial(_refuse, error=invalid),
    )
    outcomes = [_outcome(f) for f in futures]
    assert outcomes[0] == 1 and outcomes[2] == 1
    assert isinstance(outcomes[1], StaleVersion) and outcomes[1].status == 409
    assert str(outcomes[1]) == "version 2 is not above 3"
    assert isinstance(outcomes[3], ContractViolation)
    assert outcomes[3].problems == invalid.problems
    assert db.read_sync(_notes) == ["a", "b"]


def test_a_unit_that_does_not_pickle_fails_alone(db: Database) -> None:
    futures = _group(db, partial(_note, text="a"), lambda tx: _note(tx, "lambda"))
    assert _outcome(futures[0]) == 1
    assert isinstance(_outcome(futures[1]), TypeError)
    assert db.read_sync(_notes) == ["a"]


def test_a_result_that_does_not_pickle_is_unavailable_but_committed(db: Database) -> None:
    futures = _group(db, _unpicklable, partial(_note, text="b"))
    assert isinstance(_outcome(futures[0]), Unavailable)
    assert _outcome(futures[1]) == 1
    assert db.read_sync(_notes) == ["kept", "b"]


def _die(tx: Tx) -> None:
    _note(tx, "lost")
    os.kill(os.getpid(), signal.SIGKILL)  # the writer process, halfway through its group


def test_a_writer_killed_in_a_group_fails_it_and_the_next_group_has_a_new_one(
    db: Database,
) -> None:
    first = db.write_sync(_pid)
    db.write_sync(partial(_note, text="before"))
    # Nothing of the group is stored, and it fails as retryable: nothing is acknowledged.
    with pytest.raises(Unavailable):
        db.write_sync(_die)
    second = db.write_sync(_pid)
    assert second != first
    db.write_sync(partial(_note, text="after"))
    assert db.read_sync(_notes) == ["before", "after"]


def test_the_writer_ends_with_its_store(url: str) -> None:
    database = Database(url, writer="process")
    child = database.write_sync(_pid)
    assert os.path.exists(f"/proc/{child}")
    database.close()  # waits for the child: it exits at the end of its socket
    assert not os.path.exists(f"/proc/{child}")


def test_a_store_that_cannot_be_opened_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError, match="cannot be opened"):
        writer_process.WriterProcess("/proc/no-such-dir/gateway.sqlite3")


@pytest.mark.parametrize(
    "error",
    [
        cls(*args)
        for cls, args in (
            (ContractViolation, ([Problem("/a", "format", "x")],)),
            (StaleVersion, ("older",)),
            (Unavailable, ("down",)),
            (errors.ReceiptNotFound, ("none",)),
        )
    ],
    ids=lambda e: type(e).__name__,
)
def test_gateway_errors_survive_pickling(error: GatewayError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert (str(back), back.message, back.problems) == (str(error), error.message, error.problems)
