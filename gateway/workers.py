"""Several gateway processes on one listening socket, so that one host uses all its cores.

A Python process runs its request handling on one core at a time, so the way past one core is
more processes. Each is a complete gateway (intake, store writer, forwarder) built after the
fork; they share nothing but the listening socket and the store, exactly as replicas behind a
load balancer do: the store serialises their commit groups (SQLite's write lock, PostgreSQL's
lock on the audit head) and the outbox's leases share out the forwarding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(build: Callable[[], uvicorn.Server], sock: socket.socket, workers: int) -> int:
    """Fork `workers` processes that each `build()` a server and serve `sock`; stop them all on
    SIGTERM/SIGINT or when one of them ends. Returns the exit status for the parent."""
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: nothing of the parent's runtime but the socket
            status = 1
            try:
                build().run(sockets=[sock])
                status = 0
            except BaseException:
                log.exception("gateway worker %d failed", os.getpid())
            finally:
                os._exit(status)
        children.append(pid)
    log.info("gateway serving with %d worker processes: %s", workers, children)

    asked: list[int] = []  # the signal the workers were asked to stop by, if any

    def stop(signum: int, _frame: FrameType | None = None) -> None:
        asked.append(signum)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    alive = set(children)
    while alive:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        # uvicorn ends a worker it stopped on a signal by raising that signal again.
        if code != 0 and not (asked and code == -asked[0]):
            failed = True
        if alive:
            # One worker gone means the service is not what was configured: stop the rest, so
            # the supervisor (systemd, the orchestrator) restarts the whole gateway.
            stop(signal.SIGTERM)
    sock.close()
    return 1 if failed else 0
