"""Dashboard charts: a PNG data URI; the same figures are drawn once and reused."""

from __future__ import annotations

import base64

from navreme.web import charts


def test_bars__png_data_uri__same_figures_reused_other_figures_redrawn() -> None:
    series = [("Booked", [3, 1]), ("Free", [5, 7])]
    first = charts.bars(["Veles", "Bitola"], series, title="Today", value_label="Slots")
    assert first.startswith("data:image/png;base64,")
    assert base64.b64decode(first.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    hits = charts._drawn.cache_info().hits
    again = charts.bars(["Veles", "Bitola"], series, title="Today", value_label="Slots")
    assert again == first
    assert charts._drawn.cache_info().hits == hits + 1
    changed = charts.bars(["Veles", "Bitola"], [("Booked", [4, 1]), ("Free", [4, 7])],
                          title="Today", value_label="Slots")  # fmt: skip
    assert changed != first
