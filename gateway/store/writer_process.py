"""The store's writer in a child process: commit groups that do not wait for the event loop.

In one process, the writer thread gives up the interpreter lock inside every SQLite call and
must win it back from the event loop afterwards; measured on the bench, a third of each commit
group was that wait, and the group is what every acknowledgement waits for. Here the groups
run in a process of its own (`python -m gateway.store.writer_process`, over a socket pair).
The parent streams the units to it, pickled (a sender thread), and the child groups whatever
arrived while it wrote the last group, exactly as the thread does (`db._WriterThread`); a
receiver thread resolves each unit's future from the child's answers.

What the parent may rely on:
- a unit's answer comes only after its group's `COMMIT`, as with the thread;
- if the child dies, every unit not yet answered fails with `Unavailable` (the senders retry;
  a group that did commit makes their retries duplicates, which answer with the first
  receipts), and the next unit starts a new child;
- the child ends when the parent closes its side or dies (end of file), never halfway through
  a group: it ignores SIGINT and SIGTERM, which a terminal or a supervisor sends to the whole
  process group, and finishes what it holds.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from gateway.errors import ConfigurationError, Unavailable
from gateway.store.db import Outcome, Unit, Writer, settle

log = logging.getLogger(__name__)

_READY = b"ready"
#: How long a new child may take to import and open the store before the parent gives up.
_START_SECONDS = 60.0
_PICKLE = pickle.HIGHEST_PROTOCOL


class Frames:
    """Length-prefixed frames over a stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(len(data).to_bytes(4, "big") + data)

    def receive(self, *, wait: bool = True) -> bytes | None:
        """The next frame; None when `wait` is false and no whole frame has arrived yet.
        Raises EOFError when the other side has closed."""
        while True:
            if len(self._buffer) >= 4:
                size = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) >= 4 + size:
                    frame = bytes(self._buffer[4 : 4 + size])
                    del self._buffer[: 4 + size]
                    return frame
            if not wait and not select.select([self.sock], [], [], 0)[0]:
                return None
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self._buffer += chunk


class _Child:
    """One child process and the receiver thread that resolves its answers."""

    def __init__(self, url: str, pending: dict[int, Future[Any]], lock: threading.Lock) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The child imports the same code as this process, whatever its working directory.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.store.writer_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.frames = Frames(ours)
        self.alive = True
        self._pending, self._lock = pending, lock
        # Over the socket, not the command line: a PostgreSQL URL may hold a password.
        self.frames.send(url.encode())
        ours.settimeout(_START_SECONDS)
        try:
            first = self.frames.receive()
        except (EOFError, OSError):
            first = b"the store writer process exited while opening the store"
        ours.settimeout(None)
        if first != _READY:
            self.stop()
            raise ConfigurationError((first or b"").decode(errors="replace"))
        self._receiver = threading.Thread(target=self._receive, name="store-answers", daemon=True)
        self._receiver.start()

    def _receive(self) -> None:
        while True:
            try:
                frame = self.frames.receive()
            except (EOFError, OSError):
                break
            assert frame is not None
            ids, outcomes = pickle.loads(frame)
            with self._lock:
                jobs = [(i, self._pending.pop(i)) for i in ids if i in self._pending]
            settle(jobs, outcomes)
        with self._lock:
            self.alive = False
            lost = list(self._pending.items())
            self._pending.clear()
        if lost:
            log.error("store writer process lost with %d units unanswered", len(lost))
        settle(lost, None)

    def stop(self) -> None:
        """Close our side (the child finishes what it holds, answers, and exits), then wait."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.frames.sock.shutdown(socket.SHUT_WR)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if hasattr(self, "_receiver"):
            self._receiver.join(timeout=10)
        self.frames.sock.close()


class WriterProcess:
    """The parent's side: `enqueue(unit)` like the writer thread's, units in queue order."""

    def __init__(self, url: str, batch: int = 256) -> None:
        self.url = url
        self._batch = batch
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._jobs: queue.Queue[tuple[Unit, Future[Any]] | None] = queue.Queue()
        # Started here, so that a store that cannot be opened fails the gateway's start.
        self._child: _Child | None = _Child(url, self._pending, self._lock)
        self._sender = threading.Thread(target=self._send, name="store-units", daemon=True)
        self._sender.start()

    def enqueue(self, unit: Unit) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((unit, future))
        return future

    def _send(self) -> None:
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
            self._send_group(jobs)

    def _send_group(self, jobs: list[tuple[Unit, Future[Any]]]) -> None:
        numbered = [(next(self._ids), unit, future) for unit, future in jobs]
        frame, refused = _pickled([(i, unit) for i, unit, _ in numbered])
        for i, unit, future in numbered:
            if i in refused:
                log.error("a store unit cannot go to the writer process: %r", unit)
                future.set_exception(TypeError(f"unit not picklable: {refused[i]}"))
        sent = [(i, future) for i, _, future in numbered if i not in refused]
        if not sent:
            return
        child = self._running()
        if child is None:
            settle(sent, None)
            return
        with self._lock:
            self._pending.update(sent)
        try:
            child.frames.send(frame)
        except OSError:
            # The receiver sees the end of the socket too and fails what it still holds.
            with self._lock:
                unsent = [(i, self._pending.pop(i)) for i, _ in sent if i in self._pending]
            settle(unsent, None)

    def _running(self) -> _Child | None:
        """The child, a new one if the last has died; None if none can start now."""
        if self._child is not None and self._child.alive:
            return self._child
        if self._child is not None:
            self._child.stop()
            self._child = None
        try:
            self._child = _Child(self.url, self._pending, self._lock)
        except (ConfigurationError, OSError) as exc:
            log.error("store writer process: %s", exc)
            return None
        return self._child

    def close(self) -> None:
        self._jobs.put(None)
        self._sender.join(timeout=30)
        if self._child is not None:
            self._child.stop()
            self._child = None


def _pickled(items: Sequence[tuple[int, Unit]]) -> tuple[bytes, dict[int, str]]:
    """The frame of every unit that pickles, and why each one that does not was left out (a
    unit that closes over live objects: a defect, reported to its caller, never sent)."""
    try:
        return pickle.dumps(list(items), protocol=_PICKLE), {}
    except (pickle.PicklingError, AttributeError, TypeError):
        pass
    kept: list[tuple[int, Unit]] = []
    refused: dict[int, str] = {}
    for i, unit in items:
        try:
            pickle.dumps(unit, protocol=_PICKLE)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            refused[i] = type(exc).__name__
        else:
            kept.append((i, unit))
    return pickle.dumps(kept, protocol=_PICKLE), refused


def _answer(ids: list[int], outcomes: list[Outcome] | None) -> bytes:
    """The answers' frame; a value or error that does not pickle becomes `Unavailable` (its
    unit is committed all the same, as when a caller hangs up)."""
    try:
        return pickle.dumps((ids, outcomes), protocol=_PICKLE)
    except (pickle.PicklingError, AttributeError, TypeError):
        pass
    assert outcomes is not None
    safe: list[Outcome] = []
    for ok, value in outcomes:
        try:
            pickle.loads(pickle.dumps(value, protocol=_PICKLE))
            safe.append((ok, value))
        except Exception as exc:
            log.error("a store unit's result cannot go back: %s", type(exc).__name__)
            safe.append((False, Unavailable("the store cannot answer now; retry later")))
    return pickle.dumps((ids, safe), protocol=_PICKLE)


def serve(frames: Frames, url: str, batch: int = 256) -> None:
    """The child's loop: a group of every unit that arrived while the last one was written."""
    try:
        writer = Writer(url)
    except Exception as exc:
        frames.send(f"the store cannot be opened: {type(exc).__name__}: {exc}".encode())
        return
    frames.send(_READY)
    try:
        while True:
            try:
                items: list[tuple[int, Unit]] = pickle.loads(frames.receive() or b"")
                while len(items) < batch and (more := frames.receive(wait=False)) is not None:
                    items.extend(pickle.loads(more))
            except (EOFError, OSError):
                return
            answer = _answer([i for i, _ in items], writer.run([unit for _, unit in items]))
            try:
                frames.send(answer)
            except OSError:  # the parent is gone; what was committed stays committed
                return
    finally:
        writer.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    frames = Frames(socket.socket(fileno=int(sys.argv[1])))
    try:
        url = (frames.receive() or b"").decode()
    except (EOFError, OSError):
        return
    serve(frames, url)


if __name__ == "__main__":
    main()
