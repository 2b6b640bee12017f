"""The `registry` command: serve the reference register over mutual TLS, or show what it holds."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from registry.app import DEFAULT_GATEWAY_IDENTITIES

app = typer.Typer(help="The reference national child register (for tests and demonstrations).")


class FailMode(StrEnum):
    none = "none"
    transient = "transient"
    fatal = "fatal"


DbOpt = Annotated[
    str, typer.Option("--db", help="SQLite file, or a postgresql:// URL", envvar="REGISTRY_DB")
]


@app.command()
def serve(
    cert: Annotated[Path, typer.Option(help="the register's server certificate")],
    key: Annotated[Path, typer.Option(help="its private key")],
    client_ca: Annotated[Path, typer.Option(help="CA that signs the gateway's client certificate")],
    db: DbOpt = "register.sqlite3",
    host: str = "127.0.0.1",
    port: int = 8444,
    gateway_identity: Annotated[
        list[str] | None,
        typer.Option(help="uri:…, subject:… or sha256:… of the gateway certificate (repeatable)"),
    ] = None,
    fail_mode: Annotated[
        FailMode, typer.Option(envvar="REGISTRY_FAIL_MODE", help="answer every message so")
    ] = FailMode.none,
    test_hooks: Annotated[
        bool, typer.Option(help="enable POST /_test/mode; never in production")
    ] = False,
    log_level: str = "info",
) -> None:
    """Serve `POST /fhir/$process-message` and the read API to the gateway's certificate only."""
    from gateway.tls import ServerTls, build_server
    from registry.app import create_app
    from registry.store import Store

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    with Store(db) as store:
        application = create_app(
            store,
            gateway_identities=gateway_identity or DEFAULT_GATEWAY_IDENTITIES,
            fail_mode=fail_mode.value,
            test_hooks=test_hooks,
        )
        tls = ServerTls(cert, key, client_ca)
        build_server(application, host=host, port=port, tls=tls, log_level=log_level).run()


@app.command()
def notifications(db: DbOpt = "register.sqlite3") -> None:
    """Print the received notifications, oldest first."""
    from registry.store import Store

    columns = ("registered_at", "event", "institution", "incident_reference", "case_key", "forms")
    with Store(db) as store:
        rows = [[_cell(n.get(c)) for c in columns] for n in store.notifications()]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    for line in [list(columns), *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    typer.echo(f"{len(rows)} notification(s)")


@app.command()
def stats(
    year: Annotated[int, typer.Option(help="incident year")],
    db: DbOpt = "register.sqlite3",
    csv: Annotated[Path | None, typer.Option(help="write the long-format CSV here")] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML report here")] = None,
) -> None:
    """Distinct children and incidents of a year, beside each institution's notifications."""
    from registry import report
    from registry.stats import read_and_count
    from registry.store import Store

    with Store(db) as store:
        figures = read_and_count(store.active_cases, year)
    typer.echo(report.text_table(figures), nl=False)
    if csv is not None:
        csv.write_text(report.to_csv(figures), "utf-8")
    if html is not None:
        html.write_text(report.to_html(figures), "utf-8")


@app.command()
def simulate(
    children: Annotated[int, typer.Option(help="children in the synthetic year")] = 5000,
    seed: Annotated[int, typer.Option(help="seed of the world")] = 2021,
    year: Annotated[int, typer.Option(help="the year simulated")] = 2021,
    root: Annotated[
        Path | None, typer.Option(help="folder for the stack (default: a temporary one)")
    ] = None,
) -> None:
    """Send a synthetic year through a fresh gateway and register; score the linkage."""
    import tempfile

    from registry.simulate import simulate_in_new_stack

    with tempfile.TemporaryDirectory(prefix="simulate-") as tmp:
        score = simulate_in_new_stack(root or Path(tmp), children=children, seed=seed, year=year)
    typer.echo(score.report())


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)
