"""The store's writer in a child process: commit groups that do not wait for the event loop.

In one process, the writer thread gives up the interpreter lock inside every SQLite call and
must win it back from the event loop afterwards; measured on the bench, a third of each commit
group was that wait, and the group is what every acknowledgement waits for. Here the group
runs in a process of its own (`python -m gateway.store.writer_process`, over a socket pair):
the parent's writer thread sends the group's units pickled in one frame and blocks, without
the lock, until the results come back.

What the parent may rely on:
- a group's answer comes only after its `COMMIT`, exactly as with the thread (`Writer.run`);
- if the child dies, the group in flight fails with `Unavailable` (the senders retry; a group
  that did commit makes their retries duplicates, which answer with the first receipts) and
  the next group starts a new child;
- the child ends when the parent closes the socket or dies (end of file), never halfway
  through a group: it ignores SIGINT and SIGTERM, which a terminal or a supervisor sends to
  the whole process group, and finishes what it holds.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from gateway.errors import ConfigurationError, Unavailable
from gateway.store.db import Outcome, Unit, Writer

log = logging.getLogger(__name__)

_READY = b"ready"
#: How long a new child may take to import and open the store before the parent gives up.
_START_SECONDS = 60.0


class WriterProcess:
    """The parent's side: `run(units)` like `Writer.run`, one group at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The child imports the same code as this process, whatever its working directory.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._child = subprocess.Popen(
            [sys.executable, "-m", "gateway.store.writer_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        try:
            # Over the socket, not the command line: a PostgreSQL URL may hold a password.
            self._conn.send_bytes(self.url.encode())
            if not self._conn.poll(_START_SECONDS):
                self._stop_child()
                raise ConfigurationError("the store writer process did not start")
            first = self._conn.recv_bytes()
        except (EOFError, OSError):
            first = b"the store writer process exited while opening the store"
        if first != _READY:
            self._stop_child()
            raise ConfigurationError(first.decode(errors="replace"))

    def run(self, units: Sequence[Unit]) -> list[Outcome] | None:
        with self._lock:
            frame, refused = _pickled(units)
            if self._conn is None:
                try:
                    self._start()
                except ConfigurationError as exc:
                    log.error("store writer process: %s", exc)
                    return None
            assert self._conn is not None
            try:
                self._conn.send_bytes(frame)
                answer = self._conn.recv_bytes()
            except (EOFError, OSError) as exc:
                log.error("store writer process lost: %s", type(exc).__name__)
                self._stop_child()
                return None
        sent: list[Outcome] | None = pickle.loads(answer)
        if sent is None:
            return None
        outcomes = iter(sent)
        return [refused[i] if i in refused else next(outcomes) for i in range(len(units))]

    def _stop_child(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._child is not None:
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child = None

    def close(self) -> None:
        with self._lock:
            self._stop_child()


def _pickled(units: Sequence[Unit]) -> tuple[bytes, dict[int, Outcome]]:
    """The frame of every unit that pickles, and the failure of each one that does not (a unit
    that closes over live objects: a defect, reported to its caller, never sent)."""
    try:
        return pickle.dumps(list(units), protocol=pickle.HIGHEST_PROTOCOL), {}
    except (pickle.PicklingError, AttributeError, TypeError):
        pass
    kept: list[Unit] = []
    refused: dict[int, Outcome] = {}
    for i, unit in enumerate(units):
        try:
            pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            log.error("a store unit cannot go to the writer process: %r", unit)
            refused[i] = (False, TypeError(f"unit not picklable: {type(exc).__name__}"))
        else:
            kept.append(unit)
    return pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL), refused


def _answer(outcomes: list[Outcome] | None) -> bytes:
    """The results frame; a value or error that does not pickle becomes `Unavailable` (its
    unit is committed all the same, as when a caller hangs up)."""
    try:
        return pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        pass
    assert outcomes is not None
    safe: list[Outcome] = []
    for ok, value in outcomes:
        try:
            pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            safe.append((ok, value))
        except Exception as exc:
            log.error("a store unit's result cannot go back: %s", type(exc).__name__)
            safe.append((False, Unavailable("the store cannot answer now; retry later")))
    return pickle.dumps(safe, protocol=pickle.HIGHEST_PROTOCOL)


def serve(conn: Connection, url: str) -> None:
    """The child's loop: one group per frame until the parent goes."""
    try:
        writer = Writer(url)
    except Exception as exc:
        conn.send_bytes(f"the store cannot be opened: {type(exc).__name__}: {exc}".encode())
        return
    conn.send_bytes(_READY)
    try:
        while True:
            try:
                frame = conn.recv_bytes()
            except (EOFError, OSError):
                return
            units: list[Any] = pickle.loads(frame)
            answer = _answer(writer.run(units))
            try:
                conn.send_bytes(answer)
            except OSError:  # the parent is gone; what was committed stays committed
                return
    finally:
        writer.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    conn = Connection(int(sys.argv[1]))
    try:
        url = conn.recv_bytes().decode()
    except (EOFError, OSError):
        return
    serve(conn, url)


if __name__ == "__main__":
    main()
