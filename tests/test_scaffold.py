"""`gateway adapter new` gives, for each transport, an adapter that passes the conformance suite
without an edit to the core (run in a copy of the project, as an integration engineer would)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.kit.scaffold import KINDS

PROJECT = Path(__file__).resolve().parents[1]
COPIED = ("gateway", "adapters", "mappings", "profiles", "registry", "pyproject.toml")


def gateway_command(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in COPIED:
        source = PROJECT / name
        target = tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    return tmp_path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_scaffolded_adapter_is_conformant(project: Path, kind: str) -> None:
    slug = f"new{kind}"
    created = gateway_command(project, "adapter", "new", slug, "--transport", kind)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (project / "adapters" / slug / "samples" / "invalid").is_dir()
    core = [p for p in ("gateway",) if (project / p).exists()]
    assert core  # the core folder is copied untouched; only data and adapters change
    tested = gateway_command(project, "adapter", "test", slug)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert f"{slug}: conformant" in tested.stdout


def test_bad_names_and_kinds_are_refused(project: Path) -> None:
    assert (
        gateway_command(project, "adapter", "new", "Bad-Name", "--transport", "json").returncode
        == 2
    )
    assert (
        gateway_command(project, "adapter", "new", "okname", "--transport", "fax").returncode == 2
    )
    assert gateway_command(project, "adapter", "new", "mvr", "--transport", "json").returncode == 2
