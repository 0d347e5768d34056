"""`navreme simulate renewal-campaign` writes the report, its tables and its charts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("matplotlib")

from navreme.cli.main import app  # noqa: E402


def test_renewal_campaign__small_country__writes_tables_and_charts(
    settings: object, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, [
        "simulate", "renewal-campaign", "--persons", "3000", "--seed", "3", "--out", str(tmp_path),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = (tmp_path / "simulation.md").read_text(encoding="utf-8")
    assert "| visits per person who got documents |" in report
    assert "## Calibration of the reactive arm" in report
    for name in ("documents-issued", "office-load"):
        for suffix in ("png", "svg"):
            assert (tmp_path / "simulation" / f"{name}.{suffix}").stat().st_size > 1000


def test_renewal_campaign__deadline_before_start__refused(settings: object, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "simulate", "renewal-campaign", "--persons", "1000", "--start", "2024-01-01",
        "--deadline", "2023-01-01", "--out", str(tmp_path),
    ])  # fmt: skip
    assert result.exit_code != 0
    assert not (tmp_path / "simulation.md").exists()
