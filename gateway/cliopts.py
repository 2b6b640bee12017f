"""Options and helpers shared by the `gateway` command's sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import ConfigurationError
from gateway.settings import Settings
from gateway.store.db import Database

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="GATEWAY_CONFIG", help="The gateway's TOML file."),
]


def settings_from(config: Path) -> Settings:
    try:
        return Settings.load(config)
    except (ConfigurationError, ValueError) as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def database_from(config: Path) -> Database:
    return Database(settings_from(config).database)
