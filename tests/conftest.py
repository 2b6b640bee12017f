"""Suite-wide: every canonical message built in this process is also checked by fhir.resources.

The pipeline checks each canonical Bundle with our profile rules (`gateway.profile.validate`)
before storing it; during the tests, a Bundle that passes those rules must also be valid FHIR R4
for `fhir.resources.R4B`, or the test that produced it fails. (Messages built by the gateway
processes of the end-to-end tests are checked from their stores when each stack stops.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway import profile
from tests import pg

CHECKED = {"bundles": 0}


@pytest.fixture(scope="session", autouse=True)
def every_valid_bundle_is_valid_fhir() -> Iterator[None]:
    original = profile.validate

    def validate(bundle: dict[str, Any]) -> list[Any]:
        problems = original(bundle)
        if not problems:
            Bundle.model_validate(bundle)  # raises: the profile let through invalid FHIR
            CHECKED["bundles"] += 1
        return problems

    profile.validate = validate  # type: ignore[assignment]
    try:
        yield
    finally:
        profile.validate = original  # type: ignore[assignment]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"canonical bundles also validated with fhir.resources.R4B in process: {CHECKED['bundles']}"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's location: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.sqlite3")
    else:
        with pg.schema() as found:
            yield found
