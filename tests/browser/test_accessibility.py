"""axe-core (WCAG 2.2 AA) over every page, in every language, in each display mode.

The pages come from the app's routes (tests/browser/sitemap.py); one test per language and
mode walks them all with one browser page per kind of visitor and reports every violation of
every page at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Site, open_context
from tests.browser.sitemap import (
    CITIZEN_MODES,
    LANGUAGES,
    missing_from_table,
    not_found_url,
    pages_to_check,
)

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}


@pytest.fixture(scope="module")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture(scope="module")
def tabs(browser: Any, site: Site) -> Iterator[dict[str, Any]]:
    """One page per kind of visitor, reused for every URL (pages are read, never changed)."""
    contexts = {who: open_context(browser, site, who)
                for who in ("anonymous", "citizen", "officer", "supervisor")}  # fmt: skip
    yield {who: context.new_page() for who, context in contexts.items()}
    for context in contexts.values():
        context.close()


def _problems(page: Any, axe: Any, *, language: str) -> list[str]:
    """What is wrong on the loaded page: axe violations, the html lang, the one <h1>."""
    found = []
    if (lang := page.get_attribute("html", "lang")) != language:
        found.append(f"<html lang> is {lang!r}, not {language!r}")
    if (headings := page.locator("h1").count()) != 1:
        found.append(f"{headings} <h1> elements (one expected)")
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        found.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — at {targets}"
        )
    return found


def _check(page: Any, axe: Any, url: str, *, language: str, status: int) -> list[str]:
    response = page.goto(url)
    if response is None or response.status != status:
        return [f"answered {response.status if response else 'nothing'}, not {status}"]
    return _problems(page, axe, language=language)


def _report(failures: dict[str, list[str]]) -> str:
    lines = [f"{len(failures)} page(s) with problems:"]
    for url, problems in failures.items():
        lines += [f"  {url}"] + [f"    - {problem}" for problem in problems]
    return "\n".join(lines)


def test_every_page_route__is_in_the_page_table(site: Site) -> None:
    missing = missing_from_table(site.app)
    assert not missing, (
        f"pages without a line in tests/browser/sitemap.py PAGES: {missing}: add it to the "
        "page table (who opens it and, for {params}, how to find a real id in the world)"
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("mode", CITIZEN_MODES)
def test_every_page__no_wcag22_aa_violations(
    site: Site, tabs: dict[str, Any], axe: Any, language: str, mode: str
) -> None:
    failures, checked = {}, 0
    for path, page in pages_to_check(site.app):
        if mode not in page.modes:
            continue
        url = f"{page.address(path, site.world)}"
        url += ("&" if "?" in url else "?") + f"lang={language}&mode={mode}"
        checked += 1
        if problems := _check(tabs[page.who], axe, url, language=language, status=page.status):
            failures[f"{url} (as {page.who})"] = problems
    assert checked, "no page was checked"
    assert not failures, _report(failures)


@pytest.mark.parametrize("language", LANGUAGES)
def test_error_page__no_violations(
    site: Site, tabs: dict[str, Any], axe: Any, language: str
) -> None:
    for who, url in (("anonymous", "/nothing-here"), ("citizen", not_found_url())):
        problems = _check(tabs[who], axe, f"{url}?lang={language}", language=language, status=404)
        assert not problems, _report({url: problems})


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_pages_after_a_failed_attempt__no_violations(
    browser: Any, site: Site, axe: Any, language: str
) -> None:
    context = open_context(browser, site, "anonymous")
    page = context.new_page()
    try:
        page.goto(f"/login/officer?lang={language}")
        page.locator("input[name=username]").fill("nobody")
        page.locator("input[name=password]").fill("wrong password")
        page.locator("input[name=totp]").fill("000000")
        with page.expect_navigation():
            page.locator("form[action='/login/officer'] [type=submit]").click()
        officer = _problems(page, axe, language=language)
        page.goto(f"/login/citizen?lang={language}")
        page.locator("input[name=national_id]").fill(site.world.citizen.national_id)
        with page.expect_navigation():
            page.locator("form[action='/login/citizen'] [type=submit]").click()
        page.locator("input[name=code]").fill("000000")
        with page.expect_navigation():
            page.locator("form[action='/login/citizen/code'] [type=submit]").click()
        citizen = _problems(page, axe, language=language)
    finally:
        context.close()
    assert not officer, _report({"/login/officer (wrong password)": officer})
    assert not citizen, _report({"/login/citizen/code (wrong code)": citizen})
