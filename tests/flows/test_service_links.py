"""Every citizen service of the seed page is reachable from the login page, the home page
and the footer of every page."""

from __future__ import annotations

import re

import pytest

SERVICES = ("/activate", "/password/change", "/password/forgot", "/unsubscribe")


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"#?]+)"', html))


@pytest.mark.parametrize("page", ["/login", "/"])
def test_the_page_links_to_every_service_in_its_content(app, browser, page):
    html = browser.get(page).get_data(as_text=True)
    main = re.search(r"<main.*?</main>", html, re.S).group(0)
    assert set(SERVICES) <= links(main)


def test_the_footer_links_to_every_service_and_each_link_opens(app, browser):
    html = browser.get("/password/forgot").get_data(as_text=True)
    footer = re.search(r"<footer.*?</footer>", html, re.S).group(0)
    assert set(SERVICES) <= links(footer)
    for service in SERVICES:
        assert browser.get(service).status_code == 200, service
