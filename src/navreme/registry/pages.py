"""The citizen's own record: how we may contact them (order, consent, quiet hours) and
everything Navreme holds about them, in plain words.

Every read goes through the registry's access-checked getters (self only: a guardian acts for
a ward through the officer or API routes); every change is audited like its API twin.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.queries import officer_entries_about
from navreme.config import get_settings
from navreme.identity import secrets
from navreme.identity.principal import Principal
from navreme.messaging import choices
from navreme.messaging.actions import channels, preferred_format
from navreme.messaging.choices import DEFAULT_QUIET, ladder_for
from navreme.messaging.models import ContactSettings, Delivery, InboundMessage, Message
from navreme.messaging.outbox_api import ContactSettingsIn
from navreme.registry import actions, queries
from navreme.registry.models import CONSENT_PURPOSES, ContactEndpoint, Municipality, Person
from navreme.registry.schemas import ConsentChange
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.pages import CsrfField, csrf_ok, language_of, page_principal, render, render_error

router = APIRouter(include_in_schema=False)

NOTICES = {
    "order": N_("Your order of channels is saved."),
    "given": N_("Thank you. Your consent is recorded."),
    "withdrawn": N_("Your consent is withdrawn. We will not contact you for this any more."),
    "contact": N_("Your quiet hours are saved."),
}
FORM_GONE = N_("The form expired. Please try again.")
BAD_TIME = N_("Please give both times as hours and minutes, for example 21:00 and 08:00.")
SAME_TIME = N_("The start and the end of quiet hours must differ.")
LADDER_PURPOSES = ("service", *CONSENT_PURPOSES)


def _me(request: Request, session: Session) -> tuple[Principal, Person | None]:
    """The signed-in citizen and their own record, if they may change its contact choices."""
    principal = page_principal(request, session)
    if not principal.is_citizen or principal.id is None:
        return principal, None
    return principal, queries.get_person_for_contact_change(session, principal, principal.id)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login/citizen", status_code=303)


# --- contact and consent ---


@dataclass
class ConsentView:
    purpose: str
    general: bool  # "yes, on any channel" is in force
    on: list[str] = field(default_factory=list)  # channels with consent in force
    off: list[str] = field(default_factory=list)  # channels answered "no"

    @property
    def state(self) -> str:
        if self.general and not self.off:
            return "on"
        return "partly" if self.on or self.general else "off"


def consent_views(session: Session, person_id: uuid.UUID) -> list[ConsentView]:
    ledger = queries.consent_ledger(session, person_id)
    general = {e.purpose: e.granted for e in ledger if e.channel == queries.ANY_CHANNEL}
    views = {p: ConsentView(p, general.get(p, False)) for p in CONSENT_PURPOSES}
    for answer in queries.consents_in_force(ledger):
        # The general answer covers every other channel; list the channels' own answers.
        if answer.decided_by != queries.ANY_CHANNEL:
            view = views[answer.purpose]
            (view.on if answer.granted else view.off).append(answer.channel)
    for view in views.values():
        if view.general:
            view.on = []  # already said: yes on every channel
    return list(views.values())


def _masked(channel: str, address: str) -> str:
    """Enough of the address to recognise it, as the API shows it."""
    return secrets.mask_address(channel, address)[-24:]


def _hhmm(moment: time | None) -> str:
    return moment.strftime("%H:%M") if moment else ""


def _settings_context(session: Session, person: Person) -> dict[str, Any]:
    contacts = queries.contacts_of(session, person.id)
    row = session.get(ContactSettings, person.id)
    now = clock.now()
    return {
        "person": person,
        "verified": [c for c in contacts if c.verified_at is not None],
        "unverified": [c for c in contacts if c.verified_at is None],
        "ladders": [
            (purpose, ladder_for(session, channels(), person.id, purpose, now))
            for purpose in LADDER_PURPOSES
        ],
        "consents": consent_views(session, person.id),
        "quiet": row is None or row.quiet_from is not None,
        "quiet_from": _hhmm(row.quiet_from if row else DEFAULT_QUIET[0]),
        "quiet_until": _hhmm(row.quiet_until if row else DEFAULT_QUIET[1]),
        "format": preferred_format(person.accessibility),
        "mask": _masked,
    }


def _settings_page(
    request: Request, session: Session, principal: Principal, person: Person, *,
    status: int = 200, error: str | None = None, error_at: str = "", **kept: Any,
) -> HTMLResponse:  # fmt: skip
    context = _settings_context(session, person) | kept
    return render(
        request, "citizen/settings.html", principal, status=status, error=error,
        error_at=error_at, notice=NOTICES.get(request.query_params.get("done", "")), **context,
    )  # fmt: skip


@router.get("/me/settings", response_class=HTMLResponse)
def settings(request: Request, session: DB) -> Response:
    principal, person = _me(request, session)
    if person is None:
        return _to_login()
    return _settings_page(request, session, principal, person)


def _own_verified(session: Session, person: Person, raw: str) -> ContactEndpoint | None:
    try:
        endpoint = session.get(ContactEndpoint, uuid.UUID(raw))
    except ValueError:
        return None
    if endpoint is None or endpoint.person_id != person.id or endpoint.verified_at is None:
        return None
    return endpoint


@router.post("/me/settings/order", response_class=HTMLResponse)
def order(
    request: Request, session: DB,
    csrf: CsrfField = "",
    endpoint: Annotated[str, Form(max_length=64)] = "",
    move: Annotated[str, Form(max_length=8)] = "",
) -> Response:  # fmt: skip
    principal, person = _me(request, session)
    if person is None:
        return _to_login()
    if not csrf_ok(request, principal, csrf):
        return _settings_page(request, session, principal, person, status=403, error=FORM_GONE)
    found = _own_verified(session, person, endpoint)
    if found is None or move not in ("up", "down"):
        return render_error(request, status=404)
    actions.reorder_contact(
        session, person=person, endpoint=found, up=move == "up", actor=principal
    )
    return RedirectResponse("/me/settings?done=order#order", status_code=303)


@router.post("/me/settings/consent", response_class=HTMLResponse)
def consent(
    request: Request, session: DB,
    csrf: CsrfField = "",
    purpose: Annotated[str, Form(max_length=32)] = "",
    granted: Annotated[str, Form(max_length=8)] = "",
) -> Response:  # fmt: skip
    principal, person = _me(request, session)
    if person is None:
        return _to_login()
    if not csrf_ok(request, principal, csrf):
        return _settings_page(request, session, principal, person, status=403, error=FORM_GONE)
    if purpose not in CONSENT_PURPOSES or granted not in ("yes", "no"):
        return render_error(request, status=422)
    change = ConsentChange(purpose=purpose, channel=queries.ANY_CHANNEL, granted=granted == "yes")
    actions.change_consent(session, person=person, change=change, actor=principal, source="web")
    done = "given" if change.granted else "withdrawn"
    return RedirectResponse(f"/me/settings?done={done}#consent", status_code=303)


def _clock(raw: str) -> time:
    return time.fromisoformat(raw.strip()[:5])


def _quiet_hours(quiet: str, start: str, end: str) -> ContactSettingsIn:
    """Checked like the API's body (ValueError with a page text when it is not right)."""
    if quiet != "on":
        return ContactSettingsIn(
            timezone=get_settings().timezone, quiet_from=None, quiet_until=None
        )
    try:
        begins, ends = _clock(start), _clock(end)
    except ValueError:
        raise ValueError(BAD_TIME) from None
    if begins == ends:
        raise ValueError(SAME_TIME)
    try:
        return ContactSettingsIn(
            timezone=get_settings().timezone, quiet_from=begins, quiet_until=ends
        )
    except ValidationError:
        raise ValueError(BAD_TIME) from None


@router.post("/me/settings/contact", response_class=HTMLResponse)
def contact(
    request: Request, session: DB,
    csrf: CsrfField = "",
    quiet: Annotated[str, Form(max_length=8)] = "",
    quiet_from: Annotated[str, Form(max_length=16)] = "",
    quiet_until: Annotated[str, Form(max_length=16)] = "",
) -> Response:  # fmt: skip
    principal, person = _me(request, session)
    if person is None:
        return _to_login()
    if not csrf_ok(request, principal, csrf):
        return _settings_page(request, session, principal, person, status=403, error=FORM_GONE)
    try:
        chosen = _quiet_hours(quiet, quiet_from, quiet_until)
    except ValueError as wrong:
        return _settings_page(
            request, session, principal, person, status=422, error=str(wrong), error_at="quiet",
            quiet=quiet == "on", quiet_from=quiet_from, quiet_until=quiet_until,
        )  # fmt: skip
    choices.set_quiet_hours(
        session, person_id=person.id, timezone=chosen.timezone, quiet_from=chosen.quiet_from,
        quiet_until=chosen.quiet_until, actor=principal,
    )  # fmt: skip
    return RedirectResponse("/me/settings?done=contact#quiet", status_code=303)


# --- what we hold ---

SECTIONS = {
    "person": N_("your basic record"),
    "documents": N_("your documents"),
    "events": N_("your life events"),
    "contacts": N_("your contact details"),
    "consents": N_("your consents"),
    "guardians": N_("your guardians"),
    "wards": N_("the people in your care"),
    "conversation": N_("your messages to us"),
    "messages": N_("our messages to you"),
    "contact_settings": N_("your quiet hours"),
    "offers": N_("your offers"),
    "appointments": N_("your appointments"),
}
LOOKS = {
    "person.view": N_("Looked at %(section)s"),
    "person.lookup": N_("Found your record by your personal number"),
    "person.update": N_("Changed your basic record"),
    "document.add": N_("Added a document"),
    "life_event.record": N_("Recorded a life event"),
    "contact.add": N_("Added a contact detail"),
    "consent.change": N_("Recorded a consent for you"),
    "guardian.link": N_("Recorded a guardian"),
}
SOMETHING_ELSE = N_("Worked on your record")
LIFE_EVENTS = {
    "birth": N_("Birth"),
    "turned_18": N_("Turned 18"),
    "move": N_("Moved house"),
    "death": N_("Death"),
}
CONSENT_SOURCES = {
    "web": N_("This website"),
    "api": N_("An app or an office"),
    "channel": N_("Your reply to one of our messages"),
    "import": N_("Taken over from an earlier register"),
    "seed": N_("Taken over from an earlier register"),
}
OTHER_SOURCE = N_("Another way")
GUARDIAN_KINDS = {"parent": N_("Parent"), "legal_guardian": N_("Legal guardian")}
LOOKS_SHOWN = 100


def masked_national_id(national_id: str) -> str:
    """Only the last three digits: enough to recognise, not enough to misuse."""
    return "•" * max(len(national_id) - 3, 0) + national_id[-3:]


@dataclass(frozen=True)
class Look:
    at: datetime
    department: str
    what: str  # an N_ text, maybe with %(section)s
    section: str  # an N_ text or ""


def looks_at(session: Session, person_id: uuid.UUID, language: str) -> list[Look]:
    """Officers' reads and changes of the person's record, newest first (from the audit log)."""
    found = officer_entries_about(session, "person", str(person_id), limit=LOOKS_SHOWN)
    return [
        Look(
            at=entry.at,
            department=getattr(department, f"name_{language}", "") if department else "",
            what=LOOKS.get(entry.action, SOMETHING_ELSE),
            section=SECTIONS.get(str((entry.details or {}).get("section", "person")), ""),
        )
        for entry, department in found
    ]


def message_counts(session: Session, person_id: uuid.UUID) -> tuple[Counter[str], Counter[str]]:
    """How many tries we made per channel, and how many messages the person sent per channel."""
    ours = session.execute(
        select(Delivery.channel, func.count())
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.person_id == person_id)
        .group_by(Delivery.channel)
    )
    theirs = session.execute(
        select(InboundMessage.channel, func.count())
        .where(InboundMessage.person_id == person_id)
        .group_by(InboundMessage.channel)
    )
    return Counter({c: n for c, n in ours}), Counter({c: n for c, n in theirs})


def _residence(session: Session, person: Person, language: str) -> str:
    if person.abroad_country:
        return person.abroad_country
    place = session.get(Municipality, person.municipality_code)
    if place is None:
        return person.municipality_code or ""
    return place.name_mk if language == "mk" else place.name


def _held(session: Session, person: Person, language: str) -> dict[str, Any]:
    from navreme.rules.queries import offers_of
    from navreme.scheduling.models import Office
    from navreme.scheduling.queries import appointments_of

    ours, theirs = message_counts(session, person.id)
    appointments = appointments_of(session, person.id)
    offices = {o.id: o for o in session.scalars(select(Office).where(
        Office.id.in_({a.office_id for a in appointments})))}  # fmt: skip
    return {
        "person": person,
        "national_id": masked_national_id(person.national_id),
        "residence": _residence(session, person, language),
        "documents": queries.documents_of(session, person.id),
        "events": queries.life_events_of(session, person.id),
        "contacts": queries.contacts_of(session, person.id),
        "consents": consent_views(session, person.id),
        "ledger": list(reversed(queries.consent_ledger(session, person.id))),
        "guardians": queries.guardians_of(session, person.id),
        "wards": queries.wards_of(session, person.id),
        "offers": offers_of(session, person.id, language),  # type: ignore[arg-type]
        "appointments": [(a, offices.get(a.office_id)) for a in appointments],
        "sent": sorted(ours.items()),
        "received": sorted(theirs.items()),
        "settings": session.get(ContactSettings, person.id),
        "format": preferred_format(person.accessibility),
        "looks": looks_at(session, person.id, language),
        "looks_shown": LOOKS_SHOWN,
        "life_events": LIFE_EVENTS,
        "guardian_kinds": GUARDIAN_KINDS,
        "sources": CONSENT_SOURCES,
        "other_source": OTHER_SOURCE,
    }


@router.get("/me/data", response_class=HTMLResponse)
def data(request: Request, session: DB) -> Response:
    principal = page_principal(request, session)
    if not principal.is_citizen or principal.id is None:
        return _to_login()
    person = queries.get_person_for(session, principal, principal.id)
    if person is None:
        return _to_login()
    language = language_of(request, principal)
    return render(request, "citizen/data.html", principal, **_held(session, person, language))
