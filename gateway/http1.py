"""A lean keep-alive HTTP/1.1 client over TLS, for the forwarder's one kind of request.

httpx cost about 1 ms of CPU per delivered message here (connection-pool bookkeeping, anyio,
logging), 40 % of the gateway's time under load (bench/README.md). The forwarder only ever POSTs
a JSON body to one register and reads a status and a body, which takes a few lines of protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit


class HttpError(Exception):
    """The exchange failed before a whole answer was read (connection, TLS, timeout)."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if not chunked:
            return status, await self.reader.readexactly(length), close
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(parts), close
            parts.append(chunk[:-2])

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1)


class Http1Pool:
    """Keep-alive connections to one origin; at most `size` at once."""

    def __init__(self, url: str, context: ssl.SSLContext, size: int, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 443
        self.context = context
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self._slots:
            # A kept connection may have been closed by the server meanwhile: one more try on a
            # new one (safe: the register is idempotent by MessageHeader.id).
            for attempt in (0, 1):
                fresh = not self._idle
                connection = self._idle.pop() if self._idle else await self._connect()
                try:
                    status, answer, close = await asyncio.wait_for(
                        connection.exchange(request), self.timeout
                    )
                except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ValueError,
                        IndexError, asyncio.LimitOverrunError, TimeoutError) as exc:  # fmt: skip
                    await connection.close()
                    if fresh or attempt == 1:
                        raise HttpError(type(exc).__name__) from exc
                    continue
                if close:
                    await connection.close()
                else:
                    self._idle.append(connection)
                return status, answer
        raise HttpError("unreachable")

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=self.context, server_hostname=self.host
                ),
                self.timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise HttpError(type(exc).__name__) from exc
        return _Connection(reader, writer)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
