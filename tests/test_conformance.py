"""The adapter conformance suite (gateway.kit.conformance), run for every registered adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import load_adapters
from gateway.kit import conformance


@pytest.mark.parametrize("slug", sorted(load_adapters()))
def test_adapter_is_conformant(slug: str, tmp_path: Path) -> None:
    findings = conformance.run(slug, tmp_path)
    assert not findings, "\n".join(str(f) for f in findings)


def test_the_suite_catches_what_it_checks(tmp_path: Path) -> None:
    """A wrong golden file, an unlocated problem and a leaked value are each found."""
    adapter = load_adapters()["ozd"]
    sample = conformance.ADAPTERS_DIR / "ozd" / "samples" / "ozd-signal.json"
    expected = conformance.expected_path(sample)
    original = expected.read_text("utf-8")
    try:
        expected.write_text(original.replace('"physical"', '"sexual"', 1), "utf-8")
        findings = list(conformance.check_golden(adapter, tmp_path / "g"))
        assert any(f.check == "golden" and f.where == sample.name for f in findings)
    finally:
        expected.write_text(original, "utf-8")
    leak = tmp_path / "p" / "leak.log"
    leak.parent.mkdir()
    leak.write_text("Елена", "utf-8")
    assert [f.check for f in conformance.check_privacy(adapter, tmp_path / "p")] == ["privacy"]
