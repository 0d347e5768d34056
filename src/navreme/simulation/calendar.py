"""Working days of North Macedonia's offices during the campaign (Mon–Fri minus public holidays).

Public holidays for all citizens, 1 May 2023 – 12 Feb 2024, from the Law on Holidays of the
Republic of North Macedonia (Закон за празниците, Official Gazette 21/1998 with amendments) and
the government's yearly list of non-working days (a holiday on a Sunday moves to the Monday).
Cross-checked against python-holidays 0.109 (`holidays.country_holidays("MK")`). Holidays only
for members of one faith (Eid al-Adha, 28 June 2023) are left out: offices stay open.
"""

from __future__ import annotations

from datetime import date

import numpy as np

PUBLIC_HOLIDAYS_2023_24: dict[date, str] = {
    date(2023, 5, 1): "Labour Day",
    date(2023, 5, 24): "Saints Cyril and Methodius Day",
    date(2023, 8, 2): "Republic Day (Ilinden)",
    date(2023, 9, 8): "Independence Day",
    date(2023, 10, 11): "Day of the People's Uprising",
    date(2023, 10, 23): "Day of the Macedonian Revolutionary Struggle",
    date(2023, 12, 8): "Saint Clement of Ohrid Day",
    date(2024, 1, 1): "New Year's Day",
    date(2024, 1, 8): "Orthodox Christmas (7 January, a Sunday, observed on Monday)",
}


def calendar_days(start: date, end: date) -> np.ndarray:
    """Every day from `start` to `end` inclusive (datetime64[D])."""
    return np.arange(np.datetime64(start), np.datetime64(end) + 1, dtype="datetime64[D]")


def working_mask(
    days: np.ndarray, holidays: dict[date, str] = PUBLIC_HOLIDAYS_2023_24
) -> np.ndarray:
    """True on the days offices open: Monday–Friday and not a public holiday."""
    weekday = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    closed = np.isin(days, np.array(sorted(holidays), dtype="datetime64[D]"))
    return (weekday < 5) & ~closed
