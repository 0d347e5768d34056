"""A citizen books the offered appointment with the keyboard alone, always seeing the focus.

Only Tab, Shift+Tab, Space and Enter: from "My services" to the offer's Book control, a slot
(a radio button), the Book button, and the booking is in the database.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from navreme.scheduling.models import Appointment, AppointmentItem
from tests.browser.conftest import Site
from tests.browser.sitemap import page_routes

BOOK = re.compile(r"^\s*book\b", re.IGNORECASE)  # "Book", "Book an appointment", "Book this slot"
MOST_TABS = 120  # a page with more stops than this before its main control is a problem too

# What the focused element is: its tag, type, accessible-ish name and whether its focus shows.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== 'none';
  const name = (el.getAttribute('aria-label') || el.innerText || el.value || '').trim();
  return {tag: el.tagName.toLowerCase(), type: (el.getAttribute('type') || '').toLowerCase(),
          name: name, visible: outline || ring, checked: !!el.checked};
}"""


def _focused(page: Any) -> dict[str, Any] | None:
    return page.evaluate(FOCUSED)


def _tab_to(page: Any, wanted: Any, *, what: str) -> dict[str, Any]:
    """Press Tab until `wanted(focused)`; every element on the way must show its focus."""
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused is None:
            continue
        assert focused["visible"], f"focus is invisible on {focused}"
        if wanted(focused):
            return focused
    raise AssertionError(f"{what} cannot be reached with Tab in {MOST_TABS} presses")


def _is_book_control(focused: dict[str, Any]) -> bool:
    return focused["tag"] in ("a", "button") and bool(BOOK.match(focused["name"]))


def _is_radio(focused: dict[str, Any]) -> bool:
    return focused["tag"] == "input" and focused["type"] == "radio"


def _bookings_of(site: Site) -> int:
    with site.session() as session:
        query = (
            select(func.count(func.distinct(Appointment.id)))
            .join(AppointmentItem, AppointmentItem.appointment_id == Appointment.id)
            .where(AppointmentItem.person_id == site.world.citizen.id)
            .where(Appointment.status == "booked")
        )
        return session.scalar(query) or 0


def test_booking__keyboard_only__appointment_booked_with_focus_always_visible(
    citizen_page: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    if "/me/appointments/new" not in page_routes(site.app):
        request.applymarker(
            pytest.mark.xfail(strict=False, reason="booking pages land in the merge")
        )
    page, before = citizen_page, _bookings_of(site)
    page.goto("/me?lang=en")
    _tab_to(page, _is_book_control, what="the offer's Book control")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/me/appointments/new" in page.url
    _tab_to(page, _is_radio, what="a free slot")
    page.keyboard.press("Space")
    assert _focused(page)["checked"], "Space did not choose the slot"
    _tab_to(page, _is_book_control, what="the Book button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _bookings_of(site) == before + 1
    page.keyboard.press("Shift+Tab")  # and the focus still shows going backwards
    if (focused := _focused(page)) is not None:
        assert focused["visible"], f"focus is invisible on {focused}"
