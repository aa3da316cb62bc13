"""WCAG 2.2 AA and Deque's best practices on every page in every language: axe-core
(tests/a11y, from the npm registry, injected from the local file: nothing is fetched) at
every stop of the tour."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from idp.web import language_tag
from tests.e2e import pages, tour
from tests.e2e.conftest import start_chromium
from tests.support.live import start_demo_rp, start_idp, stop_all
from tests.support.pki import make_authority

pytestmark = [pytest.mark.e2e]

AXE = Path(__file__).parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Deque's best practices too (landmarks, one main, heading order, ...): what a screen-reader
# user relies on beyond the letter of WCAG.
AXE_TAGS = [*WCAG_AA, "best-practice"]
TEMPLATES = Path(__file__).parents[2] / "idp" / "templates"
# Half the languages are walked on a narrow window, where no page may scroll sideways: 320 CSS
# px is a 1280 px screen at 400% zoom (WCAG 1.4.10 Reflow), 360 px a common phone; Basque and
# Galician have the longest words.
NARROW_WIDTHS = {"es": 320, "gl": 360, "eu": 360}
OVERFLOWS = "return document.documentElement.scrollWidth > window.innerWidth"
WIDEST = """
return [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
"""
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(result => done(result.violations.map(v => ({
      rule: v.id, impact: v.impact, help: v.help,
      where: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + n.failureSummary)}))))
  .catch(error => done([{rule: "axe-failed", help: String(error), where: []}]));
"""


@pytest.fixture(scope="module")
def stops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tour.Stops]:
    base = tmp_path_factory.mktemp("a11y-idp")
    authority = make_authority()
    (base / "cas.pem").write_bytes(authority.pem())
    idp = start_idp(base, IDP_OTP_RESEND_INTERVAL="0", IDP_TRUSTED_CA_FILE=str(base / "cas.pem"),
                    IDP_TRUSTED_PROXIES="127.0.0.1")
    rp = start_demo_rp(tmp_path_factory.mktemp("a11y-rp"), idp)
    low_rp = start_demo_rp(tmp_path_factory.mktemp("a11y-low-rp"), idp, name="Biblioteca Municipal",
                           default_acr="http://eidas.europa.eu/LoA/low")
    yield tour.Stops(idp, rp, low_rp, authority)
    stop_all(low_rp, rp, idp)


@pytest.fixture(scope="module")
def tour_browser(chromium_binaries: tuple[str, str],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebDriver, dict]]:
    """One Chromium for every walk a worker makes, and the window size it started with.

    axe-core is given to Chromium once, to run in every document it loads: sent with each
    stop's script instead, its 650 kB cost about 0.1 s of transfer through chromedriver per stop."""
    driver = start_chromium(chromium_binaries, tmp_path_factory.mktemp("a11y-chromium"))
    if AXE.exists():
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": AXE.read_text()})
    try:
        yield driver, driver.get_window_size()
    finally:
        driver.quit()


@pytest.fixture
def chrome(tour_browser: tuple[WebDriver, dict]) -> WebDriver:
    """The module's browser as a new one would be: on no page, at its first size, presenting
    no certificate (and without cookies: each walk starts with tour.use_language)."""
    driver, size = tour_browser
    driver.get("about:blank")
    driver.set_window_size(size["width"], size["height"])
    pages.present(driver, None)
    return driver


def violations(driver: WebDriver) -> list[dict]:
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text())
    return driver.execute_async_script(RUN_AXE, AXE_TAGS)


@pytest.mark.parametrize("language", [
    # One xdist group per language, so that both workers can share the walks.
    pytest.param(language, marks=pytest.mark.xdist_group(f"a11y-{language}"))
    for language in tour.LANGUAGES])
def test_every_page_passes_axe_wcag_2_2_aa_and_best_practices(
        chrome: WebDriver, stops: tour.Stops, language: str) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test runs npm ci in tests/a11y)")
    narrow = language in NARROW_WIDTHS
    if narrow:
        chrome.set_window_size(NARROW_WIDTHS[language], 780)
    found, shown = {}, set()
    for stop, template in tour.walk(chrome, stops, language):
        shown.add(template)
        problems = violations(chrome)
        if narrow and chrome.execute_script(OVERFLOWS):
            problems.append({"rule": "reflow",
                             "help": f"the page scrolls sideways at {NARROW_WIDTHS[language]} px",
                             "where": chrome.execute_script(WIDEST)})
        lang = chrome.execute_script("return document.documentElement.lang")
        if lang != language_tag(language):
            problems.append({"rule": "html-lang", "help": f"lang is {lang!r}", "where": []})
        if problems:
            found[stop] = problems
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    missed = every_page() - shown - set(tour.NOT_ON_THE_TOUR)
    assert not missed, f"pages the tour does not visit (add a stop): {sorted(missed)}"


def every_page() -> set[str]:
    """Every template that is a page (partials start with _; base.html is the layout)."""
    return {str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
            if not path.name.startswith("_") and path.name != "base.html"}
