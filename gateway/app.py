"""Assembles the gateway: settings → store, mappings, adapters, pipeline, forwarder, transports.

The layout of the running service is the layout of the code: each adapter is served by the
transport its `TransportSpec` names; everything shares one pipeline, one store and one forwarder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.registry import load_adapters
from gateway.adapter import Adapter
from gateway.audit import api as audit_api
from gateway.audit import checkpoint as audit_checkpoint
from gateway.audit import retention
from gateway.errors import ConfigurationError
from gateway.forwarder import Forwarder, Policy
from gateway.mappings import Mappings
from gateway.pipeline import Pipeline
from gateway.receipts import Caller
from gateway.resources import mappings_dir
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.tls import IdentityTable, TlsIdentityMiddleware, client_ssl_context
from gateway.transports import (
    csv_batch,
    fhir_messaging,
    ndjson,
    problem,
    receipts,
    rest_json,
    soap11,
    soap12,
)
from gateway.transports.common import Submitter
from gateway.transports.express import ExpressLane

RouterFactory = Callable[[Adapter, Submitter], APIRouter]

#: Which transport serves which kind of adapter.
TRANSPORTS: dict[str, RouterFactory] = {
    "soap11": soap11.router,
    "soap12": soap12.router,
    "json": rest_json.router,
    "csv": csv_batch.router,
    "ndjson": ndjson.router,
    "fhir": fhir_messaging.router,
}


@dataclass
class Gateway:
    settings: Settings
    db: Database
    pipeline: Pipeline
    forwarder: Forwarder | None
    adapters: dict[str, Adapter]


def build(settings: Settings, *, forward: bool = True) -> Gateway:
    """`forward=False` builds no forwarder (local tools: `gateway adapter try`, the kit)."""
    mappings = Mappings.load(mappings_dir())
    adapters = load_adapters()
    db = Database(settings.database, writer=settings.store_writer)
    forwarder = (
        None
        if not forward
        else Forwarder(
            db,
            settings.register_url,
            client_ssl_context(
                settings.register_ca, settings.register_client_cert, settings.register_client_key
            ),
            Policy(
                batch=settings.forward_batch,
                concurrency=settings.forward_concurrency,
                base_seconds=settings.retry_base_seconds,
                max_seconds=settings.retry_max_seconds,
                lease_seconds=settings.lease_seconds,
            ),
        )
    )
    wake = forwarder.wake if forwarder else lambda: None
    pipeline = Pipeline(
        db,
        mappings,
        settings.keyring(),
        settings.sealer(),
        wake,
        retired_sealers=settings.retired_sealers(),
    )
    return Gateway(settings, db, pipeline, forwarder, adapters)


def create_app(
    settings: Settings, *, forward: bool = True, local_caller: Caller | None = None
) -> FastAPI:
    """The gateway as an ASGI app. `local_caller` replaces certificate identity with a fixed
    caller, for local tools that run the real transports in process without TLS (the adapter
    kit); `gateway serve` never sets it."""
    gw = build(settings, forward=forward)
    forwarder = gw.forwarder

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(forwarder.run()) if forwarder else None
        # Signed audit checkpoints while serving (local tools, with a fixed caller, do not sign).
        signer = audit_checkpoint.start(gw.db, settings) if local_caller is None else None
        # Daily: monthly audit partitions ahead (PostgreSQL), the payload purge if configured.
        months = settings.payload_retention_months
        upkeep = retention.start(gw.db, months) if local_caller is None else None
        try:
            yield
        finally:
            if upkeep is not None:
                upkeep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upkeep
            if signer is not None:
                signer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await signer
            if forwarder is not None:
                await forwarder.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            gw.db.close()

    app = FastAPI(
        title="Child-violence notification gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gw
    problem.install_handlers(app)
    submits: list[APIRouter] = []
    for adapter in gw.adapters.values():
        factory = TRANSPORTS.get(adapter.transport.kind)
        if factory is None:
            raise ConfigurationError(
                f"adapter {adapter.slug}: no transport serves kind {adapter.transport.kind!r}"
            )
        submits.append(factory(adapter, gw.pipeline))
        app.include_router(submits[-1])
    fhir_paths = [a.transport.path for a in gw.adapters.values() if a.transport.kind == "fhir"]
    if fhir_paths:
        app.include_router(fhir_messaging.refusals_router(fhir_paths))
    app.include_router(receipts.router(gw.pipeline))
    app.include_router(audit_api.router(gw.db, gw.pipeline.keyring, settings.legal_basis))

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # Inside identity, so that the lane's endpoints know their caller.
    app.add_middleware(ExpressLane, routers=submits, guard=problem.UnexpectedErrors)
    if local_caller is not None:
        app.add_middleware(FixedCallerMiddleware, caller=local_caller)
        return app
    identities = IdentityTable(
        settings.institutions, {"security-officer": settings.security_officers}
    )
    app.add_middleware(
        TlsIdentityMiddleware,
        identities=identities,
        trusted_proxies=settings.trusted_proxies,
        header=settings.proxy_cert_header,
    )
    return app


class FixedCallerMiddleware:
    """Every request comes from one caller (local tools only, see `create_app`)."""

    def __init__(self, app: ASGIApp, caller: Caller) -> None:
        self.app = app
        self.caller = caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["caller"] = self.caller
        await self.app(scope, receive, send)
