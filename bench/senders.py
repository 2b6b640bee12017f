"""The load generator: one process runs N concurrent police senders over mutual TLS, keep-alive.

Each sender holds one connection for the whole run and sends one message at a time (closed
loop), or paces itself to a share of `--rate` (open loop). Two clients: `raw`, the forwarder's
minimal HTTP/1.1 client on asyncio streams, `gateway.http1` (≈ 0.2 ms of CPU a request here, TLS
and message building included, so that the load generator takes little of the two cores it
shares with the servers), and `httpx` (`AsyncClient`, what an institution would more likely use;
≈ 1.6 ms). Every request is recorded as (start, latency, kind, notifications); the results go
back to the parent process through a pipe when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import httpx
from envelopes import CONTENT_TYPE, PATH, SOAP_ACTION, Envelopes

from gateway import http1

try:
    import uvloop
except ImportError:  # not on Windows
    uvloop = None  # type: ignore[assignment]

#: (monotonic start, latency in seconds, kind, notifications accepted)
Sample = tuple[float, float, str, int]

_STATUS = re.compile(rb"<(?:\w+:)?Status>([A-Z_]+)</")
_COUNT = re.compile(rb"<(?:\w+:)?NotificationCount>(\d+)</")
_FAULT = re.compile(rb"<faultcode>([^<]+)</faultcode>")


@dataclass(frozen=True)
class WorkerSpec:
    index: int
    senders: int
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path
    client: str = "raw"
    #: messages per second for each sender; 0: as fast as answers come (closed loop)
    sender_rate: float = 0.0
    timeout: float = 30.0


@dataclass
class WorkerResult:
    index: int
    samples: list[Sample]
    connects: int
    connect_errors: int
    error: str = ""


def classify(status: int, body: bytes) -> tuple[str, int]:
    """The kind of an answer (`accepted` or an error kind) and the notifications it accepted."""
    if status == 200:
        found = _STATUS.search(body)
        kind = found.group(1).decode().lower().replace("_", "-") if found else "unreadable-200"
        count = _COUNT.search(body)
        return kind, int(count.group(1)) if count and kind == "accepted" else 0
    fault = _FAULT.search(body)
    if fault:
        return f"http-{status} {fault.group(1).decode()}", 0
    return f"http-{status}", 0


class Client(Protocol):
    async def post(self, body: bytes) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class RawClient:
    """One keep-alive HTTP/1.1 connection of the forwarder's own client (`gateway.http1`).

    Unlike the forwarder's pool it neither retries nor wraps errors: the run counts each one."""

    def __init__(self, spec: WorkerSpec, context: ssl.SSLContext) -> None:
        self.spec = spec
        self.context = context
        self._connection: http1.Connection | None = None
        self._headers = {"SOAPAction": SOAP_ACTION}
        self.connects = 0

    async def connect(self) -> None:
        self._connection = await http1.Connection.open(self.spec.host, self.spec.port, self.context)
        self.connects += 1

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self._connection is None:
            await self.connect()
        assert self._connection is not None
        spec = self.spec
        request = http1.post_request(spec.host, spec.port, PATH, body, CONTENT_TYPE, self._headers)
        status, answer, close = await self._connection.exchange(request)
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class HttpxClient:
    """httpx.AsyncClient, one per sender, so that each sender keeps its own connection."""

    def __init__(self, spec: WorkerSpec, context: ssl.SSLContext) -> None:
        self._client = httpx.AsyncClient(
            base_url=f"https://{spec.host}:{spec.port}",
            verify=context,
            timeout=spec.timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self._headers = {"content-type": CONTENT_TYPE, "soapaction": SOAP_ACTION}
        self.connects = 0

    async def connect(self) -> None:
        await self._client.get("/healthz")
        self.connects += 1

    async def post(self, body: bytes) -> tuple[int, bytes]:
        response = await self._client.post(PATH, content=body, headers=self._headers)
        return response.status_code, response.content

    async def close(self) -> None:
        await self._client.aclose()


def _context(spec: WorkerSpec) -> ssl.SSLContext:
    from gateway.tls import client_ssl_context

    context: ssl.SSLContext = client_ssl_context(spec.ca, spec.cert, spec.key)
    return context


async def _sender(
    client: RawClient | HttpxClient,
    envelopes: Envelopes,
    spec: WorkerSpec,
    start_at: float,
    stop_at: float,
    samples: list[Sample],
    offset: float,
) -> None:
    interval = 1.0 / spec.sender_rate if spec.sender_rate > 0 else 0.0
    next_at = start_at + offset * interval
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    while True:
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
        if time.monotonic() >= stop_at:
            return
        body = envelopes.next()
        began = time.monotonic()
        try:
            status, answer = await asyncio.wait_for(client.post(body), spec.timeout)
            kind, count = classify(status, answer)
        except TimeoutError:
            kind, count = "timeout", 0
            await client.close()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, httpx.TransportError) as exc:
            kind, count = f"connection ({type(exc).__name__})", 0
            await client.close()
        except (ValueError, IndexError, asyncio.LimitOverrunError):
            kind, count = "protocol", 0
            await client.close()
        samples.append((began, time.monotonic() - began, kind, count))


async def _run(spec: WorkerSpec, pipe: Connection) -> WorkerResult:
    context = _context(spec)
    clients: list[RawClient | HttpxClient] = [
        RawClient(spec, context) if spec.client == "raw" else HttpxClient(spec, context)
        for _ in range(spec.senders)
    ]
    connect_errors = 0
    # Every connection made (one full mTLS handshake each) before the clock starts.
    for client in clients:
        try:
            await client.connect()
        except (OSError, ssl.SSLError, httpx.HTTPError):
            connect_errors += 1
    pipe.send(("ready", spec.index))
    loop = asyncio.get_running_loop()
    start_at, stop_at = await loop.run_in_executor(None, pipe.recv)
    samples: list[Sample] = []
    envelopes = Envelopes(spec.index)
    try:
        await asyncio.gather(
            *(
                _sender(c, envelopes, spec, start_at, stop_at, samples, i / max(1, spec.senders))
                for i, c in enumerate(clients)
            )
        )
    finally:
        for client in clients:
            await client.close()
    connects = sum(c.connects for c in clients)
    return WorkerResult(spec.index, samples, connects, connect_errors)


def worker_main(spec: WorkerSpec, pipe: Connection) -> None:
    """Entry point of a sender process: connect, say ready, wait for the start, send, report."""
    try:
        # The servers' loop too (uvicorn's `auto`): the load generator shares the two cores.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
            result = runner.run(_run(spec, pipe))
    except KeyboardInterrupt:
        return
    except Exception as exc:  # reported to the parent, which fails the run
        result = WorkerResult(spec.index, [], 0, 0, f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        pipe.send(("done", result))
