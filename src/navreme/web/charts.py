"""Bar charts for the dashboard, drawn server-side as PNG data URIs (no JavaScript, no inline SVG:
the CSP allows `data:` images only). Every chart on a page is followed by the same numbers as a
table, so the image adds a picture and takes nothing away. Callers pass texts already translated.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede any other matplotlib import

from matplotlib.figure import Figure  # noqa: E402 - after the backend is chosen

# Okabe–Ito colours, told apart by people with colour-blindness; hatches tell series apart in
# greyscale too.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
HATCHES = ("", "//", "..", "xx", "\\\\", "--", "oo", "++")
Series = tuple[str, Sequence[int]]


def bars(
    categories: Sequence[str], series: Sequence[Series], *, title: str, value_label: str,
    stacked: bool = False,
) -> str:  # fmt: skip
    """Horizontal bars, one row per category, one bar (or stack part) per series; a data URI.

    Drawing takes about a tenth of a second a chart; the same figures in the same language
    give the same picture, so recent pictures are kept and reused (most of a dashboard's
    figures do not change between two looks a few seconds apart).
    """
    frozen = tuple((name, tuple(values)) for name, values in series)
    return _drawn(tuple(categories), frozen, title, value_label, stacked)


@functools.lru_cache(maxsize=128)
def _drawn(
    categories: tuple[str, ...], series: tuple[tuple[str, tuple[int, ...]], ...], title: str,
    value_label: str, stacked: bool,
) -> str:  # fmt: skip
    rows_high = max(len(categories), 1) * (1 if stacked else max(len(series), 1) ** 0.5)
    figure = Figure(figsize=(6.4, 1.4 + 0.45 * rows_high), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    rows = list(range(len(categories)))
    height = 0.8 if stacked else 0.8 / max(len(series), 1)
    left = [0] * len(categories)
    for index, (name, values) in enumerate(series):
        offsets = rows if stacked else [r - 0.4 + height * (index + 0.5) for r in rows]
        axes.barh(
            offsets, list(values), height=height, left=left if stacked else None, label=name,
            color=COLOURS[index % len(COLOURS)], hatch=HATCHES[index % len(HATCHES)],
            edgecolor="#333333", linewidth=0.5,
        )  # fmt: skip
        if stacked:
            left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(rows, list(categories))
    axes.invert_yaxis()  # the first category on top, as in the table below
    axes.set_xlabel(value_label)
    axes.set_title(title)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(left=0, right=None if _largest(series, stacked) else 1)  # no negative axis
    if len(series) > 1:
        # Below the plot, so it never hides a bar.
        figure.legend(loc="outside lower center", ncols=min(len(series), 3), fontsize="small",
                      frameon=False)  # fmt: skip
    return _data_uri(figure)


def _largest(series: Sequence[Series], stacked: bool) -> int:
    if stacked:
        return max((sum(column) for column in zip(*(v for _, v in series), strict=True)), default=0)
    return max((max(values, default=0) for _, values in series), default=0)


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
