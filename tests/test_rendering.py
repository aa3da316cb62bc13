"""What every page reuses: the session cookie's JSON (idp.rendering)."""

from __future__ import annotations

from datetime import datetime

from flask.sessions import session_json_serializer
from markupsafe import Markup

from idp.rendering import SessionCookies, SessionJSON

FLASKS = session_json_serializer
OURS = SessionJSON()
# What the app keeps in its cookie: pending requests, the CSRF secret, flows, QR drafts.
KEPT = {"interactions": ["r" * 32], "csrf_token": "c" * 40, "flow:login": "f" * 43,
        "mobile_drafts": [["d" * 22, "123456", 1765000000, None]], "_permanent": False}


def test_a_session_cookie_written_by_either_serializer_is_read_the_same_by_both(app):
    with app.app_context():
        for written in (FLASKS.dumps(KEPT), OURS.dumps(KEPT)):
            assert FLASKS.loads(written) == OURS.loads(written) == KEPT


def test_values_that_need_flasks_tags_keep_their_types_through_the_session_cookie(app):
    tagged = {"when": datetime(2026, 12, 6, 21, 0), "pair": ("a", 1), "raw": b"\x00\xff",
              "markup": Markup("<b>x</b>"), "nested": [{" t": ["looks", "tagged"]}], "ids": {1: "a"}}
    with app.app_context():
        for written in (FLASKS.dumps(tagged), OURS.dumps(tagged)):
            assert OURS.loads(written) == FLASKS.loads(written)
        back, flasks = OURS.loads(OURS.dumps(tagged)), FLASKS.loads(FLASKS.dumps(tagged))
    assert back == flasks and back["pair"] == ("a", 1) and back["raw"] == b"\x00\xff"
    assert type(back["markup"]) is Markup and back["nested"] == [{" t": ["looks", "tagged"]}]


def test_the_app_signs_its_session_cookie_with_the_short_json(app):
    assert isinstance(app.session_interface, SessionCookies)
    with app.app_context():
        signer = app.session_interface.get_signing_serializer(app)
        assert isinstance(signer.serializer, SessionJSON)
        assert signer.loads(signer.dumps(KEPT)) == KEPT
