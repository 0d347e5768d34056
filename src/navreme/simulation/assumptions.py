"""Every number the simulation assumes, with where it comes from. The reactive arm's free
parameters are calibrated (see docs/simulation.md) against the real figures in REAL_FIGURES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Reported figures of the real campaign (MISSION.md, PERFORMANCE.md, issue 4; press reports of
# the Ministry of Internal Affairs, as summarised there).
REAL_FIGURES = {
    "applications_per_working_day": 10_000,
    "travel_documents_by_2023_11_15": 1_050_000,
    "id_cards_by_2023_11_15": 900_000,
    "driving_licences_by_2023_11_15": 480_000,
    "no_show_share_skopje": 0.70,
}
CHECKPOINT = date(2023, 11, 15)

# Each document took about ten days to produce (seed paper 000, section 4: "Each document
# issuing procedure takes an average of 10 days").
PRODUCTION_DAYS = 10


@dataclass(frozen=True)
class Reactive:
    """The real process: mass media, a booking site, one document per visit."""

    # Calibrated: ≈ 10 000 applications per working day over the demo offices' 109 counters.
    units_per_counter: int = 420
    bookable_share: float = 0.75  # the rest of a day: collections and walk-ins at the counter
    booking_horizon_days: int = 21  # the site offered the next three weeks (assumed)
    # The booking tool "stopped working in the past 3-4 months, shortly after the law went into
    # effect" (seed paper 000, section 4): from then on a call centre that rarely answers.
    site_down_from: date = date(2023, 8, 15)
    call_centre_success: float = 0.25
    # Mass-media announcements: (date, share of the not yet informed reached). Assumed:
    # the law's entry into force, a pre-summer reminder, after summer, the deadline run-up.
    announcements: tuple[tuple[date, float], ...] = (
        (date(2023, 5, 1), 0.45), (date(2023, 6, 15), 0.35), (date(2023, 9, 4), 0.45),
        (date(2023, 12, 1), 0.6), (date(2024, 1, 15), 0.8),
    )  # fmt: skip
    word_of_mouth_daily: float = 0.004
    # Procrastination (calibrated): a share acts within days of hearing; the rest at a
    # Beta-distributed fraction of the time left before the deadline.
    early_share: float = 0.35
    early_mean_days: float = 10.0
    late_beta: tuple[float, float] = (1.4, 1.6)
    retry_mean_days: float = 4.0  # after a failed booking attempt
    walk_in_share: float = 0.35  # of those who find no slot: queue at the office instead
    # Re-booking: Skopje's ten MVR offices are a bus ride apart, so people booked several and
    # kept the earliest (calibrated to ≈ 70 % no-shows in Skopje, MISSION.md); elsewhere some
    # also booked the next town's office.
    extra_bookings_skopje: float = 2.0
    extra_bookings_elsewhere: float = 0.25
    # A booked person who does not come: got served as a walk-in or at another office first,
    # re-booked, forgot (no reminders). Calibrated so that Skopje's no-shows, these plus the
    # unused extra bookings, come to ≈ 70 %; elsewhere assumed lower.
    no_show_skopje: float = 0.66
    no_show_elsewhere: float = 0.15
    recapture_share: float = 0.5  # held slots of no-shows the walk-in queue gets to use
    collect_delay_mean_days: float = 6.0  # from ready to coming for it (no "ready" notice)
    # Diaspora: in the country in July–August, some over the winter holidays.
    summer: tuple[date, date] = (date(2023, 7, 1), date(2023, 8, 31))
    winter: tuple[date, date] = (date(2023, 12, 20), date(2024, 1, 15))
    summer_share: float = 0.65


@dataclass(frozen=True)
class Proactive:
    """Navreme: waves of invitations with held slots, bundled family visits, reminders."""

    # SMS reminders raise attendance (pooled odds ratio 1.48: Guy R. et al., "How effective are
    # short message service reminders at increasing clinic attendance? A meta-analysis",
    # Health Services Research 47(2):614–632, 2012): a 10 % no-show becomes 1 - 13.3/14.3 ≈ 7 %.
    no_show: float = 0.07
    no_show_buffer: float = 0.07  # the wave planner leaves this share of each day free
    invite_days_before: int = 14  # the invitation (with its held slot) goes out two weeks ahead
    # Passports may be delivered by post to an address in the country (issue 4, "delivery
    # where the service allows"); ID cards are handed over in person (identity check).
    deliver_passports_at_home: bool = True
    delivery_days: int = 3
    candidate_offices: int = 3
    # Diaspora invited while in the country; the window ends early enough for the second visit.
    summer: tuple[date, date] = (date(2023, 7, 1), date(2023, 8, 10))
