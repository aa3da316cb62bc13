"""What tests/support/compiled.py shares between the apps of a worker is only compiled code:
each app still builds URLs with its own converters and renders its templates' current source."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template_string, url_for
from jinja2 import FileSystemLoader
from werkzeug.routing import BaseConverter

from tests.support.compiled import TEMPLATES


def app_with_converter(prefix: str) -> Flask:
    class Side(BaseConverter):
        def to_url(self, value: str) -> str:
            return prefix + value

    app = Flask(__name__)
    app.url_map.converters["side"] = Side
    app.add_url_rule("/x/<side:value>", "x", lambda value: value)
    return app


def test_apps_sharing_a_url_builder_each_build_with_their_own_converters() -> None:
    first, second = app_with_converter("a-"), app_with_converter("b-")
    rules = [next(app.url_map.iter_rules("x")) for app in (first, second)]
    assert rules[0]._build.__func__ is rules[1]._build.__func__  # compiled once
    with first.test_request_context():
        assert url_for("x", value="1") == "/x/a-1"
    with second.test_request_context():
        assert url_for("x", value="1") == "/x/b-1"


def test_a_template_changed_between_two_apps_renders_its_new_source(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("one")
    for expected in ("one", "two"):
        app = Flask(__name__)
        app.jinja_loader = FileSystemLoader(tmp_path)  # type: ignore[assignment]
        app.jinja_env.bytecode_cache = TEMPLATES
        with app.test_request_context():
            assert render_template_string('{% include "page.html" %}') == expected
        (tmp_path / "page.html").write_text("two")
