"""The real gateway in this process, without TLS or a register, for trying and checking adapters.

Messages go through the institution's real transport router, the pipeline and the store exactly
as in production; only certificate identity is replaced by a fixed caller, and nothing is
forwarded. Keys are fixed, so pseudonyms and ids are the same on every run (golden files).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.adapter import Adapter
from gateway.app import create_app
from gateway.receipts import Caller
from gateway.settings import KeyFile, Settings
from gateway.store.db import Database

UNUSED = Path("/nonexistent/not-used-by-local-tools")


def _key(root: Path, name: str) -> Path:
    path = root / f"{name}.key"
    path.write_text(hashlib.sha256(f"adapter-kit {name}".encode()).hexdigest())
    return path


def request_headers(adapter: Adapter, sample: Path) -> dict[str, str]:
    """The headers the institution's system sends with such a file."""
    spec = adapter.transport
    action = f"{spec.namespace}/{spec.submit_operation}"
    if spec.kind == "soap11":
        return {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{action}"'}
    if spec.kind == "soap12":
        return {"content-type": f'application/soap+xml; charset=utf-8; action="{action}"'}
    if spec.kind == "csv":
        charset = "windows-1251" if "windows-1251" in sample.name else "utf-8"
        return {"content-type": f"{spec.media_types[0]}; charset={charset}"}
    return {"content-type": spec.media_types[0]}


class LocalGateway:
    """One throw-away gateway for `slug`'s caller, under `root` (a temporary folder if None)."""

    def __init__(self, slug: str, root: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="gateway-kit-") if root is None else None
        self.root = Path(self._tmp.name) if self._tmp else root
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            database=str(self.root / "gateway.sqlite3"),
            tls_cert=UNUSED,
            tls_key=UNUSED,
            client_ca=UNUSED,
            linkage_keys=[KeyFile(id="kit", file=_key(self.root, "linkage"))],
            internal_key_file=_key(self.root, "internal"),
            storage_key=KeyFile(id="kit", file=_key(self.root, "storage")),
            register_url="https://register.invalid",
            register_ca=UNUSED,
            register_client_cert=UNUSED,
            register_client_key=UNUSED,
        )
        self.app = create_app(settings, forward=False, local_caller=Caller(slug, "local-kit"))
        self.db: Database = self.app.state.gateway.db
        self.adapter: Adapter = self.app.state.gateway.adapters[slug]

    def send(self, raw: bytes, headers: dict[str, str]) -> httpx.Response:
        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
                return await client.post(self.adapter.transport.path, content=raw, headers=headers)

        return asyncio.run(post())

    def send_file(self, sample: Path) -> httpx.Response:
        return self.send(sample.read_bytes(), request_headers(self.adapter, sample))

    def canonical(self) -> list[dict[str, Any]]:
        rows = self.db.read_sync(lambda tx: tx.all("SELECT body FROM outbox ORDER BY seq"))
        return [orjson.loads(bytes(r[0])) for r in rows]

    def audit_rows(self) -> list[str]:
        rows = self.db.read_sync(lambda tx: tx.all("SELECT * FROM audit ORDER BY seq"))
        return [json.dumps(r, ensure_ascii=False, default=str) for r in rows]

    def close(self) -> None:
        self.db.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalGateway:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
