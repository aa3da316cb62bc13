"""Fixtures for the end-to-end tests: a live IdP (gunicorn, real HTTP), the demo relying
party registered with it, and a real headless Chromium driven by Selenium.

Chromium and its driver come from the system (``make test`` installs Debian's ``chromium``
and ``chromium-driver``); Selenium is told where they are so that it never tries to
download a browser (the test network is closed).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.live import LiveDemoRp, LiveIdp, start_demo_rp, start_idp

# Without the networking switches Chromium phones home at start-up and, offline, hangs.
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=en-GB",
)
BROWSER_PREFERENCES = {
    # The IdP picks its language from Accept-Language when the RP sends no ui_locales:
    # English keeps the assertions on visible text readable for everyone.
    "intl.accept_languages": "en-GB,en",
    # No speculative connections. `idp serve` and `idp-demo-rp` run gunicorn's sync workers,
    # which take one connection at a time and wait for its request: a preconnected socket
    # the browser never uses holds the only worker until gunicorn's 30 s timeout, and the
    # RP's back-channel calls to the IdP time out meanwhile. Production puts a buffering
    # proxy in front of the workers (README, "Deploying"); a test browser talks to them
    # directly, so it must only open connections it sends requests on.
    "net.network_prediction_options": 2,
}


@pytest.fixture(scope="module")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    server = start_idp(tmp_path_factory.mktemp("e2e-idp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo_rp(live_idp: LiveIdp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemoRp]:
    rp = start_demo_rp(tmp_path_factory.mktemp("e2e-rp"), live_idp)
    yield rp
    rp.stop()


@pytest.fixture(scope="session")
def chromium_binaries() -> tuple[str, str]:
    """Chromium and chromedriver from the system; the only reason these tests may skip."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed "
                    "(make test installs them with scripts/ensure-system-packages.sh)")
    return browser, driver


def start_chromium(binaries: tuple[str, str], profile: Path) -> webdriver.Chrome:
    """Headless Chromium with its own profile in ``profile``, driven through chromedriver."""
    browser, driver_path = binaries
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", BROWSER_PREFERENCES)
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture
def open_browser(chromium_binaries: tuple[str, str],
                 tmp_path: Path) -> Iterator[Callable[[], webdriver.Chrome]]:
    """Opens fresh browsers (own profile each: no cookies shared), all quit at the end;
    for tests where the same citizen uses two devices."""
    opened: list[webdriver.Chrome] = []

    def open_one() -> webdriver.Chrome:
        opened.append(start_chromium(chromium_binaries, tmp_path / f"chromium-profile-{len(opened)}"))
        return opened[-1]

    try:
        yield open_one
    finally:
        for driver in opened:
            driver.quit()


@pytest.fixture
def chrome(open_browser: Callable[[], webdriver.Chrome]) -> webdriver.Chrome:
    """A fresh browser per test (own profile: no cookies carried over), always quit."""
    return open_browser()
