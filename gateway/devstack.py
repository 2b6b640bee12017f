"""A local stack for the demo, the tests and the benchmark: PKI, register and gateway processes.

Both servers run as real processes on 127.0.0.1 with real mutual TLS, logging to files in the
stack's folder, so that a test can kill one with SIGKILL, restart it, and scan what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import requests
import zeep
from zeep.transports import Transport

from gateway.devconfig import write_gateway_config
from gateway.pki import SECURITY_OFFICER, PkiLayout, init_pki
from gateway.tls import client_ssl_context


def free_port() -> int:
    """A port to serve on, chosen below the kernel's ephemeral range: a port that `bind(0)`
    hands out can be taken, before the server binds it, as the local port of any outgoing
    connection (the health checks, the forwarder), and the server then fails to start."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        code = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.close()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        """The end of the log, so that a failure to start says why where it is reported."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(log unreadable: {exc})"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Stack:
    """Paths, ports and processes of one local deployment under `root`."""

    root: Path
    layout: PkiLayout
    config: Path
    gateway_port: int
    register_port: int
    register_db: Path
    database: str
    register_args: list[str] = field(default_factory=list)
    gateway: Process | None = None
    register: Process | None = None
    replicas: list[Process] = field(default_factory=list)

    @classmethod
    def create(
        cls, root: Path, *, database: str | None = None, register_args: list[str] | None = None
    ) -> Stack:
        root.mkdir(parents=True, exist_ok=True)
        layout = init_pki(root / "pki")
        gateway_port, register_port = free_port(), free_port()
        database = database or str(root / "gateway.sqlite3")
        config = write_gateway_config(
            layout,
            path=root / "pki" / "gateway.toml",
            database=database,
            port=gateway_port,
            register_url=f"https://127.0.0.1:{register_port}",
        )
        return cls(
            root,
            layout,
            config,
            gateway_port,
            register_port,
            root / "register.sqlite3",
            database,
            register_args or [],
        )

    @property
    def gateway_url(self) -> str:
        return f"https://127.0.0.1:{self.gateway_port}"

    @property
    def register_url(self) -> str:
        return f"https://127.0.0.1:{self.register_port}"

    # -- processes -------------------------------------------------------------------------

    def start_register(self) -> None:
        pki = self.layout
        argv = [
            sys.executable, "-m", "registry", "serve",
            "--host", "127.0.0.1", "--port", str(self.register_port),
            "--db", str(self.register_db),
            "--cert", str(pki.register_server.crt), "--key", str(pki.register_server.key),
            "--client-ca", str(pki.gateway_ca.crt),
            *self.register_args,
        ]  # fmt: skip
        self.register = Process("register", argv, self.root / "register.log")
        self.register.start()
        self._wait(self.register_url, self.register, self.gateway_identity())

    def start_gateway(self, extra_env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "gateway", "serve", "--config", str(self.config)]
        self.gateway = Process("gateway", argv, self.root / "gateway.log", extra_env or {})
        self.gateway.start()
        self._wait(self.gateway_url, self.gateway, self.institution_identity("mvr"))

    def start_replica(self, extra_env: dict[str, str] | None = None) -> tuple[Process, str]:
        """Another gateway process on the same configuration and store (PostgreSQL only)."""
        port = free_port()
        argv = [
            sys.executable, "-m", "gateway", "serve", "--config", str(self.config),
            "--port", str(port),
        ]  # fmt: skip
        replica = Process(
            f"replica-{port}", argv, self.root / f"replica-{port}.log", extra_env or {}
        )
        replica.start()
        self.replicas.append(replica)
        url = f"https://127.0.0.1:{port}"
        self._wait(url, replica, self.institution_identity("mvr"))
        return replica, url

    def stop(self) -> None:
        for process in (*self.replicas, self.gateway, self.register):
            if process is not None:
                process.stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def _wait(self, url: str, process: Process, identity: tuple[Path, Path]) -> None:
        deadline = time.monotonic() + 30
        ca = self.layout.register_ca.crt if url == self.register_url else None
        ca = ca or self.layout.gateway_ca.crt
        context = client_ssl_context(ca, *identity)
        while time.monotonic() < deadline:
            if not process.running:
                raise RuntimeError(f"{process.name} exited; {process.log}:\n{process.tail()}")
            try:
                httpx.get(url + "/healthz", verify=context, timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError(f"{process.name} did not start; {process.log}:\n{process.tail()}")

    # -- clients -----------------------------------------------------------------------------

    def institution_identity(self, slug: str) -> tuple[Path, Path]:
        """`slug`'s client certificate; `security-officer` gives the officer's."""
        if slug == SECURITY_OFFICER:
            return self.layout.security_officer.crt, self.layout.security_officer.key
        pair = self.layout.client(slug)
        return pair.crt, pair.key

    def fingerprint(self, slug: str) -> str:
        """SHA-256 of the DER of `slug`'s client certificate, as the audit trail records it."""
        pem = self.layout.client(slug).crt.read_text()
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()

    def gateway_identity(self) -> tuple[Path, Path]:
        return self.layout.gateway_client.crt, self.layout.gateway_client.key

    def client(self, slug: str, **kw: Any) -> httpx.Client:
        """An institution's HTTPS client: its certificate, the gateway's CA, keep-alive."""
        context = client_ssl_context(self.layout.gateway_ca.crt, *self.institution_identity(slug))
        return httpx.Client(base_url=self.gateway_url, verify=context, timeout=30, **kw)

    def soap_client(self, slug: str, path: str) -> zeep.Client:
        """A zeep client built from the gateway's published WSDL, with `slug`'s certificate."""
        session = requests.Session()
        # REQUESTS_CA_BUNDLE would silently replace `verify`: trust only the gateway's CA.
        session.trust_env = False
        crt, key = self.institution_identity(slug)
        session.cert = (str(crt), str(key))
        session.verify = str(self.layout.gateway_ca.crt)
        return zeep.Client(
            f"{self.gateway_url}{path}?wsdl",
            transport=Transport(session=session),
            settings=zeep.Settings(forbid_dtd=True, forbid_external=True, forbid_entities=True),
        )

    def register_client(self) -> httpx.Client:
        context = client_ssl_context(self.layout.register_ca.crt, *self.gateway_identity())
        return httpx.Client(base_url=self.register_url, verify=context, timeout=30)

    def register_notifications(self) -> list[dict[str, Any]]:
        with self.register_client() as client:
            response = client.get("/api/v1/notifications")
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()
            return result

    def gateway_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `gateway ARGS --config <this stack's>` as an operator would."""
        argv = [sys.executable, "-m", "gateway", *args, "--config", str(self.config)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def audit_search(self, *filters: str) -> list[dict[str, Any]]:
        done = self.gateway_cli("audit", "search", *filters)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def wait_for_register(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll the register until it holds at least `count` notifications."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.register_notifications()
            if len(received) >= count or time.monotonic() > deadline:
                return received
            time.sleep(0.1)
