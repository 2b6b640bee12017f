"""The `gateway` command as an operator meets it: certs init gives a configuration that loads."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.codes import INSTITUTIONS
from gateway.settings import Settings

runner = CliRunner()


def test_certs_init_writes_a_complete_development_setup(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["certs", "init", "--out", str(out)])
    assert result.exit_code == 0, result.output
    settings = Settings.load(out / "gateway.toml")
    assert set(settings.institutions) == set(INSTITUTIONS)
    assert settings.keyring().linkage[0].key_id == "linkage-2026-1"
    assert settings.sealer().key_id == "storage-2026-11"
    for key in [*out.rglob("*.key")]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for path in (settings.tls_cert, settings.client_ca, settings.register_client_cert):
        assert path.is_file()
    again = runner.invoke(app, ["certs", "init", "--out", str(out)])
    assert again.exit_code == 0
    assert Settings.load(out / "gateway.toml").keyring() == settings.keyring()  # keys are kept


def test_a_broken_configuration_is_refused_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('database = "x"\n')
    result = runner.invoke(app, ["queue", "status", "--config", str(config)])
    assert result.exit_code == 2
    assert "configuration error" in result.output


def test_environment_overrides_one_value_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    runner.invoke(app, ["certs", "init", "--out", str(out)])
    monkeypatch.setenv("GATEWAY_RETRY_MAX_SECONDS", "7")
    assert Settings.load(out / "gateway.toml").retry_max_seconds == 7.0
