"""Test harness: run a real uvicorn server (mTLS or plain HTTP) on a free port in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from gateway.tls import ServerTls, build_server, client_ssl_context

HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


def bound_socket(host: str = HOST, port: int = 0) -> socket.socket:
    """A socket bound to `port` (0: a free one); handing it to uvicorn leaves no window for
    another process to take the port between choosing and listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Lets a stopped server's port be bound again at once (connections in TIME_WAIT).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def serving(server: uvicorn.Server, sock: socket.socket) -> Iterator[None]:
    """Run an already built `uvicorn.Server` on `sock` in a thread until the block ends."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server stopped during start-up (see its log)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("the server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True  # skips waiting for connections and the lifespan shutdown
            thread.join(timeout=_START_TIMEOUT)
        sock.close()


@contextmanager
def running(
    app: ASGIApp,
    *,
    tls: ServerTls | None = None,
    trusted_proxies: Collection[str] = (),
    timeout_keep_alive: int = 60,
    port: int = 0,
) -> Iterator[str]:
    """Serve `app` with `gateway.tls.build_server`; yields the base URL, e.g.
    `https://127.0.0.1:41234` (`http://` when `tls` is None, which needs trusted proxies).

    Pass the `port` of an earlier run to bring a stopped server back at the same address.
    """
    sock = bound_socket(port=port)
    port = sock.getsockname()[1]
    server = build_server(
        app,
        host=HOST,
        port=port,
        tls=tls,
        trusted_proxies=trusted_proxies,
        timeout_keep_alive=timeout_keep_alive,
    )
    with serving(server, sock):
        yield f"{'https' if tls else 'http'}://{HOST}:{port}"


def mtls_client(
    base_url: str, ca: Path, cert: Path | None = None, key: Path | None = None
) -> httpx.Client:
    """An httpx client that verifies the server against `ca` and presents `cert` (if any)."""
    return httpx.Client(base_url=base_url, verify=client_ssl_context(ca, cert, key), timeout=10)


@dataclass
class InProcessGateway:
    """The whole gateway app (no forwarder) served over real mTLS in a thread, with the
    development PKI's client certificates for every institution."""

    base_url: str
    ca: Path
    clients: dict[str, tuple[Path, Path]]

    def client(self, slug: str) -> httpx.Client:
        crt, key = self.clients[slug]
        return mtls_client(self.base_url, self.ca, crt, key)

    def post(self, path: str, raw: bytes, slug: str, headers: Mapping[str, str]) -> httpx.Response:
        with self.client(slug) as client:
            return client.post(path, content=raw, headers=dict(headers))

    def zeep(self, slug: str, path: str) -> Any:
        """A strict zeep client built from the WSDL the gateway publishes at `path?wsdl`."""
        import requests
        import zeep
        from zeep.transports import Transport

        session = requests.Session()
        # Otherwise REQUESTS_CA_BUNDLE (set on these machines) replaces `verify` on each call.
        session.trust_env = False
        session.verify = str(self.ca)
        session.cert = tuple(str(p) for p in self.clients[slug])
        settings = zeep.Settings(forbid_dtd=True, forbid_external=True, strict=True)
        transport = Transport(session=session, timeout=10)
        return zeep.Client(f"{self.base_url}{path}?wsdl", settings=settings, transport=transport)


@contextmanager
def in_process_gateway(root: Path) -> Iterator[InProcessGateway]:
    """A development PKI and configuration under `root`, and the gateway serving them."""
    from gateway.app import create_app
    from gateway.devconfig import write_gateway_config
    from gateway.pki import init_pki
    from gateway.settings import Settings

    layout = init_pki(root / "pki")
    config = write_gateway_config(
        layout, path=root / "gateway.toml", database=str(root / "gateway.sqlite3")
    )
    app = create_app(Settings.load(config), forward=False)
    tls = ServerTls(
        layout.gateway_server.crt, layout.gateway_server.key, layout.institutions_ca.crt
    )
    with running(app, tls=tls) as base_url:
        yield InProcessGateway(
            base_url,
            layout.gateway_ca.crt,
            {slug: (pair.crt, pair.key) for slug, pair in layout.clients.items()},
        )
