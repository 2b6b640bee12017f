"""A lean keep-alive HTTP/1.1 client over TLS, for the forwarder's (and the bench's) one kind of
request.

httpx cost about 1 ms of CPU per delivered message here (connection-pool bookkeeping, anyio,
logging), 40 % of the gateway's time under load (bench/README.md). The forwarder only ever POSTs
a JSON body to one register and reads a status and a body, which takes a few lines of protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit


class HttpError(Exception):
    """The exchange failed before a whole answer was read (connection, TLS, timeout)."""


def post_request(
    host: str,
    port: int,
    path: str,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A whole `POST` request; `headers` are any beyond Host, Content-Type and Content-Length."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Connection:
    """One keep-alive connection: a request out, a status, a body and whether the server closes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=host
        )
        return cls(reader, writer)

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
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        request = post_request(self.host, self.port, path, body, content_type)
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

    async def _connect(self) -> Connection:
        try:
            return await asyncio.wait_for(
                Connection.open(self.host, self.port, self.context), self.timeout
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise HttpError(type(exc).__name__) from exc

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
