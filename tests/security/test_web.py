"""The language switcher goes back only to a page of ours."""

from __future__ import annotations

import pytest

from tests.support.browser import submit


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
                                    "/\\evil.example", "//evil.example", "https://evil.example/",
                                    "/\x00/evil.example", "/ /evil.example"])
def test_language_switcher_never_leaves_the_site(app, browser, target):
    page = browser.get("/")
    response = submit(browser, page, "/language", lang="en", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switcher_returns_to_the_local_page_it_came_from(app, browser):
    page = browser.get("/")
    response = submit(browser, page, "/language", lang="en", next="/login?ir=abc")
    assert response.headers["Location"] == "/login?ir=abc"
