"""Working days of the campaign: weekends and North Macedonia's public holidays closed."""

from __future__ import annotations

from datetime import date

import pytest

pytest.importorskip("numpy")

from navreme.simulation.calendar import PUBLIC_HOLIDAYS_2023_24, calendar_days, working_mask  # noqa: E402


def test_working_mask__campaign__weekends_and_holidays_closed() -> None:
    days = calendar_days(date(2023, 5, 1), date(2024, 2, 12))
    working = working_mask(days)
    assert len(days) == 288
    assert int(working.sum()) == 197
    assert not working[0]  # 1 May 2023, Labour Day (a Monday)
    assert working[1]  # 2 May 2023, a Tuesday
    assert not working[5]  # 6 May 2023, a Saturday
    assert len(PUBLIC_HOLIDAYS_2023_24) == 9
