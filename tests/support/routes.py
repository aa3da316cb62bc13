"""Every address the IdP answers, with every method it allows, for tests that must reach
all of them (the rules come from the app's URL map, so a new route is covered at once)."""

from __future__ import annotations

import re

from flask import Flask


def every_route(app: Flask) -> list[tuple[str, str]]:
    """(method, path) for each rule and method, a static file, and addresses nobody routes."""
    routes = [("GET", "/static/idp.css"), ("GET", "/no-such-page"), ("POST", "/no-such-page"),
              ("DELETE", "/token")]
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes
