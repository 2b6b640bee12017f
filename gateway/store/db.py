"""Durable storage: one writer thread that commits units of work in groups (SQLite or PostgreSQL).

A *unit* is a function run inside a transaction; several units share one commit (group commit),
each inside its own savepoint so that one failing unit does not undo the others. A caller's
future resolves only after the commit is durable, which is what lets the transports acknowledge.
A commit that fails (disk full, database gone) fails every unit of its group with `Unavailable`:
the sender is told to retry, nothing is acknowledged.

The transactions run in a `Writer`: in the writer thread itself, or (`writer="process"`, what
`gateway serve` uses) in a child process of its own (`writer_process.py`), so that the commit
groups do not share the interpreter lock with the event loop; units must then be picklable.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeVar

import psycopg

from gateway.errors import Unavailable
from gateway.store.schema import schema_statements

if TYPE_CHECKING:
    from gateway.store.writer_process import WriterProcess

log = logging.getLogger(__name__)
T = TypeVar("T")
Row = tuple[Any, ...]
#: Writes the rows units deferred (`Tx.defer`), once per commit group.
Flush = Callable[["Tx", list[Any]], None]


class Tx:
    """The transaction a unit runs in; SQL is written with `?` placeholders for both engines."""

    def __init__(self, conn: Any, postgres: bool, *, grouped: bool = False) -> None:
        self._conn = conn
        self.postgres = postgres
        #: Inside a commit group, `defer` holds rows until the group's end.
        self.grouped = grouped
        self._deferred: dict[Flush, list[Any]] = {}

    def defer(self, flush: Flush, items: Iterable[Any]) -> None:
        """Hold `items` until every unit of the group has run, then `flush(tx, items)` once
        with what every successful unit held, in order, just before the commit. One write of
        many rows costs far less than one per unit; a unit that fails gives its items back."""
        self._deferred.setdefault(flush, []).extend(items)

    def deferred(self, flush: Flush) -> list[Any]:
        """The items held for `flush` so far (units reading what an earlier one wrote)."""
        return self._deferred.get(flush, [])

    def _mark(self) -> dict[Flush, int]:
        return {flush: len(items) for flush, items in self._deferred.items()}

    def _undo(self, mark: dict[Flush, int]) -> None:
        for flush, items in self._deferred.items():
            del items[mark.get(flush, 0) :]

    def _flush(self) -> None:
        held, self._deferred = self._deferred, {}
        for flush, items in held.items():
            if items:
                flush(self, items)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.postgres:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        else:
            self._conn.executemany(sql, [tuple(r) for r in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._conn.execute(self._sql(sql), tuple(params)).fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(self._sql(sql), tuple(params)).fetchall()]

    def for_update(self) -> str:
        """Row locking where the engine has it (PostgreSQL replicas); SQLite has one writer."""
        return " FOR UPDATE" if self.postgres else ""


# Any constant both replicas agree on: the advisory lock that serialises schema creation.
_BUSY_SECONDS = 10.0
_SCHEMA_LOCK = 0x6761746577617900
#: A unit of work: runs inside the group's transaction, its value is the caller's result.
Unit = Callable[[Tx], Any]
#: What a unit gave: (True, its value) or (False, the exception it raised).
Outcome = tuple[bool, Any]
_Job = tuple[Unit, Future[Any]]


class Writer:
    """One writer connection and what runs on it: schema creation, then commit groups."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = is_postgres(url)
        self._conn = connect(url)
        self._turns = self._turn_file()
        self._init_schema()

    def _turn_file(self) -> BinaryIO | None:
        """SQLite: a lock file beside the database that the writers of several processes
        (`workers = N`) take in turn. Waiting on `BEGIN IMMEDIATE` alone means SQLite's busy
        handler, which sleeps 1, 2, 5 … 100 ms between tries: measured with two workers, p99
        1.5 s and no gain. `flock` wakes the next writer as soon as the lock is released."""
        if self.postgres or self.url == ":memory:":
            return None
        try:
            return open(f"{self.url}-writers", "a+b")  # held for the store's life
        except OSError as exc:  # the busy handler still keeps writers apart, only slower
            log.warning("no writers' lock file beside the database: %s", type(exc).__name__)
            return None

    @contextlib.contextmanager
    def _writers_turn(self) -> Iterator[None]:
        if self._turns is None:  # PostgreSQL: replicas queue on the audit head's row lock
            yield
            return
        fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turns, fcntl.LOCK_UN)

    def _init_schema(self) -> None:
        conn = self._conn
        if not self.postgres:
            for statement in schema_statements(False):
                conn.execute(statement)
            return
        # `IF NOT EXISTS` is not safe against a replica creating the same table at the same
        # moment (a unique violation in the catalogue): replicas take turns.
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            for statement in schema_statements(True):
                conn.execute(statement)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    def run(self, units: Sequence[Unit]) -> list[Outcome] | None:
        """Every unit in one transaction: whether each succeeded, and its value or error;
        None when the commit itself failed (nothing of the group is stored)."""
        with self._writers_turn():
            return self._transaction(units)

    def _transaction(self, units: Sequence[Unit]) -> list[Outcome] | None:
        conn = self._conn
        tx = Tx(conn, self.postgres, grouped=True)
        results: list[Outcome] = []
        try:
            if self.postgres:
                conn.execute("BEGIN")
                # Replicas take turns, whole groups at a time: the audit chain has one head,
                # and locking it first means no group can wait on another while holding it.
                conn.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            else:
                conn.execute("BEGIN IMMEDIATE")
            for unit in units:
                conn.execute("SAVEPOINT unit")
                mark = tx._mark()
                try:
                    value = unit(tx)
                except (sqlite3.Error, psycopg.Error) as exc:
                    # The store itself failed (full disk, lost connection, a race between
                    # replicas): the sender retries; the detail stays in our log only.
                    log.error("store unit failed: %s: %s", type(exc).__name__, exc)
                    conn.execute("ROLLBACK TO SAVEPOINT unit")
                    tx._undo(mark)
                    results.append((False, Unavailable("the store cannot commit now")))
                except Exception as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT unit")
                    tx._undo(mark)
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE SAVEPOINT unit")
                    results.append((True, value))
            tx._flush()
            conn.execute("COMMIT")
        except (sqlite3.Error, psycopg.Error, OSError) as exc:
            log.error("store commit failed: %s", type(exc).__name__)
            self._recover()
            return None
        return results

    def _recover(self) -> None:
        with contextlib.suppress(sqlite3.Error, psycopg.Error):
            self._conn.execute("ROLLBACK")
        if self.postgres and getattr(self._conn, "closed", False):
            self._conn = connect(self.url)

    def close(self) -> None:
        self._conn.close()
        if self._turns is not None:
            self._turns.close()


class Database:
    """The store. `write(unit)` for anything that changes state, `read(fn)` for queries.

    `writer="process"` runs the commit groups in a child process (`writer_process.py`)."""

    def __init__(
        self, url: str, *, batch: int = 256, writer: Literal["thread", "process"] = "thread"
    ) -> None:
        self.url = url
        self.postgres = is_postgres(url)
        self._batch = batch
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._local = threading.local()
        self._writer: Writer | WriterProcess
        if writer == "process":
            from gateway.store.writer_process import WriterProcess

            self._writer = WriterProcess(url)
        else:
            self._writer = Writer(url)
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    # -- writing -------------------------------------------------------------------------------

    async def write(self, unit: Callable[[Tx], T]) -> T:
        return await asyncio.wrap_future(self.enqueue(unit))

    def enqueue(self, unit: Callable[[Tx], T]) -> Future[T]:
        """Queue `unit` now (units run in queue order); the future resolves after its commit."""
        future: Future[T] = Future()
        self._jobs.put((unit, future))
        return future

    def write_sync(self, unit: Callable[[Tx], T]) -> T:
        return self.enqueue(unit).result()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self._batch:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._jobs.put(None)
                    break
                jobs.append(more)
            self._commit_group(jobs)

    def _commit_group(self, jobs: list[_Job]) -> None:
        try:
            results = self._writer.run([unit for unit, _ in jobs])
        except Exception:  # this thread must outlive anything, or every later write would hang
            log.exception("store writer failed")
            results = None
        if results is None:
            failure = Unavailable("the store cannot commit now; retry later")
            for _, future in jobs:
                if not future.done():
                    future.set_exception(failure)
            return
        for (_, future), (ok, value) in zip(jobs, results, strict=True):
            # The awaiting task may be gone (cancelled at shutdown, client hung up): its unit is
            # committed all the same, and nobody is left to tell.
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    # -- reading -------------------------------------------------------------------------------

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.url)
            self._local.conn = conn
        return conn

    def read_sync(self, fn: Callable[[Tx], T]) -> T:
        try:
            return fn(Tx(self._reader(), self.postgres))
        except (sqlite3.Error, psycopg.Error) as exc:
            log.error("store read failed: %s", type(exc).__name__)
            self._local.conn = None  # a new connection next time (PostgreSQL may be back)
            raise Unavailable("the store cannot be read now; retry later") from exc

    async def read(self, fn: Callable[[Tx], T]) -> T:
        return await asyncio.to_thread(self.read_sync, fn)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)
        self._writer.close()


def is_postgres(url: str) -> bool:
    """A `postgresql://` URL; anything else is a SQLite file."""
    return url.startswith(("postgresql://", "postgres://"))


def connect(url: str) -> Any:
    """A connection to the store at `url`, set up for durability (SQLite) or autocommit."""
    if is_postgres(url):
        return psycopg.connect(url, autocommit=True)
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    # The busy timeout from the first statement on: switching a new file to WAL takes an
    # exclusive lock that another process (a worker starting beside this one) may hold.
    conn = sqlite3.connect(
        url, isolation_level=None, check_same_thread=False, timeout=_BUSY_SECONDS
    )
    _enter_wal(conn)
    # FULL: a commit survives power loss, which is what an acknowledgement promises.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Each unit of a commit group runs in a savepoint, whose undo log (the statement
    # journal) SQLite otherwise keeps in a temporary file: in `make bench-gateway` that file
    # cost 55 KiB of storage writes per message (255 -> 200) and 8-11 % of the throughput.
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def _enter_wal(conn: sqlite3.Connection) -> None:
    """`PRAGMA journal_mode=WAL`, retried: while another process opens the same new file, SQLite
    can answer "database is locked" at once, without waiting in the busy handler."""
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
