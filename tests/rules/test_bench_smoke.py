"""`navreme bench rules` end to end at 300 persons on SQLite: it runs and both engines agree."""

from __future__ import annotations

import pytest

pytest.importorskip("numpy")
pytest.importorskip("openfisca_core")

from navreme.cli.bench import _bench_module  # noqa: E402


def test_bench_rules_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench_module("rules")
    args = bench.arguments(["--persons", "300", "--backend", "sqlite", "--repeat", "1"])
    status = bench.main(args, "navreme bench rules --persons 300")
    out = capsys.readouterr()
    assert status == 0, out.err  # 0: every rule's OpenFisca count equals Navreme's
    assert "| sqlite | 300 | 20 |" in out.out
    assert "MISMATCH" not in out.err
