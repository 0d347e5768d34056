"""T16 on every form and page, T15 for sessions held in the browser's cookie.

Form routes are discovered from the app (every POST outside the API); each needs a line in
FORMS saying who submits it, where, and with which fields, or the table test fails. Every
form must refuse a missing or forged CSRF token before doing anything: the database keeps
every row count. The API's own CSRF header check and the API-token sessions are tested in
tests/web/test_hardening.py and tests/identity/test_sessions.py; here are the page halves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.identity.actions import start_session
from navreme.models import Base
from navreme.web.deps import SESSION_COOKIE
from tests import factories
from tests.browser.sitemap import PAGES, page_routes, post_routes
from tests.browser.world import World, build_world, new_id
from tests.web.support import csrf
from tests.web.support import field as hidden_field

TRACE_MARKS = ("Traceback", 'File "/', "sqlalchemy.", "navreme/", "Exception:", "Error:")
Data = Callable[[World], dict[str, str]]


@dataclass(frozen=True)
class Form:
    """Who submits the form, its action URL (for paths with {params}) and its other fields."""

    who: str  # anonymous | citizen | officer | supervisor
    url: Callable[[World], str] | None = None
    data: Data = field(default=lambda w: {})


def _appointment(suffix: str) -> Callable[[World], str]:
    return lambda w: f"/me/appointments/{w.held.id}/{suffix}"


def _slot(w: World) -> str:
    return w.foreign.starts_at.isoformat()


# Route path → how to submit it. Forms still being built elsewhere are listed under the
# names their briefs give; a line for a route that does not exist is skipped.
FORMS: dict[str, Form] = {
    "/login/officer": Form("anonymous", data=lambda w: {
        "username": w.officer.officer.username, "password": factories.PASSWORD,
        "totp": w.officer.totp_now}),
    "/login/citizen": Form("anonymous", data=lambda w: {"national_id": w.citizen.national_id}),
    "/login/citizen/code": Form("anonymous", data=lambda w: {
        "challenge_id": str(w.offer.id), "code": "123456"}),
    "/logout": Form("citizen"),
    "/me/appointments": Form("citizen", data=lambda w: {
        "offer": str(w.offer.id), "person": str(w.citizen.id), "slot": _slot(w)}),
    "/me/appointments/{appointment_id}/confirm": Form("citizen", _appointment("confirm")),
    "/me/appointments/{appointment_id}/move": Form(
        "citizen", _appointment("move"), lambda w: {"slot": _slot(w)}),
    "/me/appointments/{appointment_id}/cancel": Form("citizen", _appointment("cancel")),
    "/me/plan/hold": Form("citizen"),
    "/me/offers/{offer_id}/decline": Form(
        "citizen", lambda w: f"/me/offers/{w.offer.id}/decline"),
    "/me/messages": Form("citizen", data=lambda w: {"text": "Can I come on Friday?"}),
    "/me/settings/order": Form("citizen", data=lambda w: {"endpoint": new_id(), "move": "up"}),
    "/me/settings/consent": Form("citizen", data=lambda w: {
        "purpose": "surveys", "granted": "true"}),
    "/me/settings/contact": Form("citizen", data=lambda w: {
        "quiet": "on", "quiet_from": "22:00", "quiet_until": "07:00"}),
    "/officer/appointments/{appointment_id}/{mark}": Form(
        "officer", lambda w: f"/officer/appointments/{w.booked.id}/check-in"),
    "/officer/conversation-items/{item_id}/handled": Form(
        "officer", lambda w: f"/officer/conversation-items/{w.question.id}/handled"),
    "/officer/persons": Form("officer", data=lambda w: {"national_id": w.citizen.national_id}),
    "/me/cases": Form("citizen", data=lambda w: {
        "text": "The street light outside is broken.", "category": "street-lighting",
        "request_id": new_id()}),
    "/me/cases/{reference}/rating": Form(
        "citizen", lambda w: f"/me/cases/{w.case.reference}/rating", lambda w: {"rating": "5"}),
    "/me/cases/{reference}/reopen": Form(
        "citizen", lambda w: f"/me/cases/{w.case.reference}/reopen",
        lambda w: {"reason": "Still not fixed."}),
    "/officer/cases/{case_id}/{step}": Form(
        "officer", lambda w: f"/officer/cases/{w.case.id}/accept"),
}  # fmt: skip


def _form_params() -> list[object]:
    return [path for path in sorted(FORMS)]


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


def _sign_in(client: TestClient, session: Session, world: World, who: str) -> None:
    subjects = {
        "citizen": ("citizen", world.citizen.id),
        "officer": ("officer", world.officer.officer.id),
        "supervisor": ("officer", world.supervisor.officer.id),
    }
    if who == "anonymous":
        return
    kind, subject_id = subjects[who]
    started = start_session(session, subject_kind=kind, subject_id=subject_id, replaces=None)
    session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)


def _row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def test_every_form_route__is_in_the_form_table(client: TestClient) -> None:
    missing = [path for path in post_routes(client.app) if path not in FORMS]  # type: ignore[arg-type]
    assert not missing, (
        f"form routes without a line in FORMS ({__file__}): {missing}: add it to the form "
        "table (who submits it, the URL for {params}, the other fields)"
    )


def _existing(app: FastAPI, path: str) -> None:
    if path not in post_routes(app):
        pytest.skip(f"no POST {path} in this app (yet)")


@pytest.mark.parametrize("path", _form_params())
def test_form__forged_or_missing_csrf_token__refused_and_nothing_changed(
    client: TestClient, db_session: Session, path: str
) -> None:
    _existing(client.app, path)  # type: ignore[arg-type]
    world = build_world(db_session)
    form = FORMS[path]
    _sign_in(client, db_session, world, form.who)
    client.get("/login/citizen")  # signed-out forms compare with the double-submit cookie
    url, data = form.url(world) if form.url else path, form.data(world)
    before = _row_counts(db_session)
    forged = client.post(url, data={**data, "csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403, f"POST {path} with a forged token: {forged.status_code}"
    assert "text/html" in forged.headers["content-type"]
    missing = client.post(url, data=data, follow_redirects=False)
    assert missing.status_code == 403, f"POST {path} without a token: {missing.status_code}"
    assert _row_counts(db_session) == before
    assert SESSION_COOKIE not in forged.cookies
    assert SESSION_COOKIE not in missing.cookies


def _page_urls(world: World, app: FastAPI) -> Iterator[tuple[str, str]]:
    for path in page_routes(app):
        page = PAGES.get(path)
        if page is not None:
            yield page.who, page.address(path, world)
    yield "anonymous", "/nothing-here"
    yield "citizen", f"/me/appointments/{world.foreign.id}"


def test_every_page__security_headers(
    client: TestClient, db_session: Session, world: World
) -> None:
    seen = 0
    for who, url in _page_urls(world, client.app):  # type: ignore[arg-type]
        client.cookies.clear()
        _sign_in(client, db_session, world, who)
        response = client.get(url, headers={"Accept": "text/html"})
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        seen += 1
        headers = response.headers
        policy = headers["content-security-policy"]
        for directive in ("default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"):
            assert directive in policy, url
        assert "unsafe-inline" not in policy, url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["x-frame-options"] == "DENY", url
        assert headers["referrer-policy"] == "no-referrer", url
    assert seen >= 4


def test_error_pages__no_stack_trace(client: TestClient) -> None:
    def broken() -> None:
        raise RuntimeError("Error: secret detail from deep inside navreme/")

    client.app.add_api_route("/broken-for-test", broken, include_in_schema=False)  # type: ignore[attr-defined]
    for url, status in (("/nothing-here", 404), ("/broken-for-test", 500)):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == status
        assert "text/html" in response.headers["content-type"]
        assert not [mark for mark in TRACE_MARKS if mark in response.text], response.text
        assert 'href="/"' in response.text  # a way back


@pytest.fixture
def secure_client(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("NAVREME_COOKIE_SECURE", "true")
    config.get_settings.cache_clear()
    from navreme.web.app import create_app

    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def _cookies_of(client: TestClient, db_session: Session, *, sign_out: bool = True) -> list[str]:
    """Every Set-Cookie of a visit: choices, a form token, officer sign-in (and sign-out)."""
    login = factories.officer(db_session)
    db_session.commit()
    seen = client.get("/login/officer?lang=en&mode=large").headers.get_list("set-cookie")
    form = {"username": login.officer.username, "password": factories.PASSWORD,
            "totp": login.totp_now, "csrf_token": csrf(client.get("/login/officer").text)}  # fmt: skip
    seen += client.post("/login/officer", data=form, follow_redirects=False).headers.get_list(
        "set-cookie"
    )
    if sign_out:
        token = csrf(client.get("/me").text)
        out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        seen += out.headers.get_list("set-cookie")
    return seen


def _well_set(cookie: str, *, httponly: bool) -> bool:
    attributes = [part.strip().lower() for part in cookie.split(";")]
    same_site = "samesite=lax" in attributes or "samesite=strict" in attributes
    return "secure" in attributes and same_site and ("httponly" in attributes or not httponly)


def test_cookie_secure__cookies_set__secure_samesite__session_and_form_httponly(
    secure_client: TestClient, db_session: Session
) -> None:
    cookies = _cookies_of(secure_client, db_session, sign_out=False)
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"navreme_session", "navreme_csrf", "navreme_lang", "navreme_mode"} <= names
    for cookie in cookies:
        secret = cookie.startswith(("navreme_session=", "navreme_csrf="))
        assert _well_set(cookie, httponly=secret), cookie


def test_cookie_secure__every_set_cookie__secure_httponly_samesite(
    secure_client: TestClient, db_session: Session
) -> None:
    for cookie in _cookies_of(secure_client, db_session):
        assert _well_set(cookie, httponly=True), cookie


# --- T15 for the browser's cookie session ---


def _officer_form(client: TestClient, login: factories.OfficerLogin) -> dict[str, str]:
    return {"username": login.officer.username, "password": factories.PASSWORD,
            "totp": login.totp_now, "csrf_token": csrf(client.get("/login/officer").text)}  # fmt: skip


def _signed_in(client: TestClient) -> bool:
    """Whether the cookie in the jar names a live session (the pages and the API agree)."""
    return client.get("/api/v1/me").json()["kind"] != "anonymous"


def test_page_login__rotates_the_cookie__the_old_one_is_dead(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    first = client.post("/login/officer", data=_officer_form(client, login), follow_redirects=False)
    old = first.cookies[SESSION_COOKIE]
    with clock.frozen(clock.now() + timedelta(seconds=31)):  # a fresh TOTP step
        second = client.post(
            "/login/officer", data=_officer_form(client, login), follow_redirects=False
        )
    new = second.cookies[SESSION_COOKIE]
    assert new != old
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old)
    assert not _signed_in(client)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, new)
    assert _signed_in(client)


def test_page_logout__the_cookie_is_dead_even_if_kept(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session)
    started = start_session(db_session, subject_kind="citizen", subject_id=person.id, replaces=None)
    db_session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)
    token = csrf(client.get("/me").text)
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    client.cookies.set(SESSION_COOKIE, started.token)  # a copy kept by an attacker
    assert not _signed_in(client)


def test_page_logout__forged_token__the_session_lives_on(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session)
    started = start_session(db_session, subject_kind="citizen", subject_id=person.id, replaces=None)
    db_session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)
    client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, started.token)
    assert _signed_in(client)


@pytest.mark.parametrize(
    ("later", "alive"),
    [(timedelta(minutes=29), True), (timedelta(minutes=31), False)],
)
def test_cookie_session__idle_timeout(
    client: TestClient, db_session: Session, later: timedelta, alive: bool
) -> None:
    person = factories.person(db_session)
    started = start_session(db_session, subject_kind="citizen", subject_id=person.id, replaces=None)
    db_session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)
    with clock.frozen(clock.now() + later):
        assert _signed_in(client) is alive


def test_cookie_session__absolute_timeout_even_when_active(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session)
    started = start_session(db_session, subject_kind="citizen", subject_id=person.id, replaces=None)
    db_session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)
    start = clock.now()
    for minutes in range(25, 12 * 60, 25):
        with clock.frozen(start + timedelta(minutes=minutes)):
            assert _signed_in(client)
    with clock.frozen(start + timedelta(hours=12, minutes=1)):
        assert not _signed_in(client)


def test_page_one_time_code__works_once(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone="+38970777888")
    db_session.commit()
    form = client.get("/login/citizen?lang=en").text
    sent = client.post(
        "/login/citizen", data={"national_id": person.national_id, "csrf_token": csrf(form)}
    ).text
    challenge = {"challenge_id": hidden_field(sent, "challenge_id"), "csrf_token": csrf(sent),
                 "code": factories.last_code(db_session, "+38970777888")}  # fmt: skip
    first = client.post("/login/citizen/code", data=challenge, follow_redirects=False)
    assert first.status_code == 303
    client.cookies.delete(SESSION_COOKIE)
    again = client.post("/login/citizen/code", data=challenge, follow_redirects=False)
    assert again.status_code == 401
    assert SESSION_COOKIE not in again.cookies
