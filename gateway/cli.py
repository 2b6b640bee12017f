"""The `gateway` command: serve, make a development PKI, read the audit trail and the queue."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import orjson
import typer
import uvicorn

from gateway.audit.cli import audit_app
from gateway.cliopts import ConfigOpt, database_from, settings_from
from gateway.errors import ConfigurationError
from gateway.store import outbox

app = typer.Typer(no_args_is_help=True, help="Child-violence notification gateway.")
certs_app = typer.Typer(no_args_is_help=True, help="Development PKI.")
queue_app = typer.Typer(no_args_is_help=True, help="The queue to the register.")
app.add_typer(certs_app, name="certs")
app.add_typer(audit_app, name="audit")
app.add_typer(queue_app, name="queue")
adapter_app = typer.Typer(no_args_is_help=True, help="The adapter kit: scaffold, try, test.")
app.add_typer(adapter_app, name="adapter")


@app.command()
def serve(
    config: ConfigOpt,
    port: int | None = None,
    no_forward: bool = False,
    workers: Annotated[
        int | None, typer.Option(min=1, help="processes serving one socket (setting `workers`)")
    ] = None,
) -> None:
    """Serve the institutions over mutual TLS and forward to the register."""
    from gateway import workers as processes
    from gateway.app import create_app
    from gateway.tls import ServerTls, build_server

    settings = settings_from(config)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    port = port or settings.port
    count = workers or settings.workers

    def build() -> uvicorn.Server:
        return build_server(
            create_app(settings, forward=not no_forward),
            host=settings.host,
            port=port,
            tls=(
                ServerTls(settings.tls_cert, settings.tls_key, settings.client_ca)
                if settings.listen == "mtls"
                else None
            ),
            trusted_proxies=settings.trusted_proxies,
        )

    try:
        if count == 1:
            build().run()
            return
        if settings.listen == "mtls":
            # The certificates are checked before forking, so that a bad file fails once, here.
            ServerTls(settings.tls_cert, settings.tls_key, settings.client_ca).context()
    except ConfigurationError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(processes.run(build, processes.listening_socket(settings.host, port), count))


@certs_app.command("init")
def certs_init(
    out: Path = Path("certs/out"),
    overwrite: bool = False,
    rsa: bool = typer.Option(False, help="RSA-3072 instead of ECDSA P-256"),
    gateway_port: int = 8443,
    register_port: int = 8444,
) -> None:
    """Create the development PKI and a matching `gateway.toml` under OUT."""
    from gateway.devconfig import write_gateway_config
    from gateway.pki import init_pki

    layout = init_pki(out, overwrite=overwrite, key_type="rsa" if rsa else "ec")
    config = write_gateway_config(
        layout,
        path=out / "gateway.toml",
        port=gateway_port,
        register_url=f"https://127.0.0.1:{register_port}",
    )
    typer.echo(f"development PKI in {out}; configuration {config}")


@queue_app.command("status")
def queue_status(config: ConfigOpt) -> None:
    """How many canonical messages are pending, delivered, dead-lettered."""
    db = database_from(config)
    try:
        counts = db.read_sync(outbox.counts)
    finally:
        db.close()
    typer.echo(orjson.dumps(counts).decode())


@adapter_app.command("new")
def adapter_new(
    name: str,
    transport: Annotated[str, typer.Option(help="soap11, soap12, json, ndjson, csv or fhir")],
    title: Annotated[str | None, typer.Option(help="the institution's name")] = None,
    project: Annotated[Path, typer.Option(help="the project's folder")] = Path("."),
) -> None:
    """Scaffold a working adapter for institution NAME and register it (no core edit)."""
    from gateway.kit.scaffold import ScaffoldError, new_adapter

    try:
        written = new_adapter(project.resolve(), name, transport, title)
    except ScaffoldError as exc:
        typer.echo(f"cannot scaffold: {exc}", err=True)
        raise typer.Exit(2) from exc
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: edit adapters/{name}/, then `gateway adapter test {name}`")


@adapter_app.command("try")
def adapter_try(
    name: str,
    file: Path,
    write_expected: Annotated[
        bool, typer.Option(help="record the result under samples/expected/ (review it!)")
    ] = False,
) -> None:
    """Translate FILE as institution NAME sends it, locally: print the answer and the canonical
    notifications, send nothing anywhere."""
    from gateway import profile
    from gateway.kit.conformance import write_expected as record
    from gateway.kit.local import LocalGateway

    with LocalGateway(name) as gw:
        response = gw.send_file(file)
        typer.echo(f"HTTP {response.status_code} {response.headers.get('content-type', '')}")
        typer.echo(response.text)
        for bundle in gw.canonical():
            typer.echo(orjson.dumps(profile.flatten(bundle), option=orjson.OPT_INDENT_2).decode())
    if write_expected:
        typer.echo(f"wrote {record(name, file)}")


@adapter_app.command("test")
def adapter_test(name: str) -> None:
    """Run the conformance suite for adapter NAME."""
    import tempfile

    from gateway.kit.conformance import run

    with tempfile.TemporaryDirectory(prefix="conformance-") as root:
        findings = run(name, Path(root))
    for finding in findings:
        typer.echo(str(finding))
    if findings:
        typer.echo(f"{name}: {len(findings)} finding(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{name}: conformant")
