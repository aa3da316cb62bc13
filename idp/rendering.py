"""What every page's rendering reuses rather than rebuilds: the request's catalogue for the
template's strings, the addresses a page builds without values, the session cookie's
serializer (each was rebuilt for every string, link or request; docs/performance.md)."""

from __future__ import annotations

import json
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g, has_request_context, request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_translations
from itsdangerous import URLSafeTimedSerializer
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


class SessionJSON(TaggedJSONSerializer):
    """Flask's tagged JSON for the session, written and read by the json module alone when
    nothing in it needs a tag (what this app keeps there: strings, numbers, lists). Flask's
    own walks every value through each of its tags' checks, on every request that reads
    the cookie and every one that writes it. The cookie reads the same either way: a
    value without tags is plain JSON to both."""

    def dumps(self, value: Any) -> str:
        if _plain(value):
            return json.dumps(value, separators=(",", ":"))
        return super().dumps(value)

    def loads(self, value: str | bytes) -> Any:
        # The same untagging as Flask's (innermost first), done by the parser as it builds
        # each object instead of by a second walk over the result.
        return json.loads(value, object_hook=self.untag)


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    """JSON that Flask's tags would leave as it is: exact scalars (a ``Markup`` string is
    tagged), lists, and objects whose keys are strings none of which a tag could be (a tag
    key starts with a space)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and not key.startswith(" ") and _plain(item)
                   for key, item in value.items())
    return False


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, its serializer built once per set of keys instead of
    twice per request (read and written), its JSON written and read the short way
    (``SessionJSON``)."""

    serializer = SessionJSON()
    _built: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._built is None or self._built[0] != keys:
            self._built = (keys, super().get_signing_serializer(app))
        return self._built[1]


@pass_context
def gettext(context: Context, string: str, **variables: object) -> str:
    """Jinja's newstyle ``gettext`` (escaped values, ``%(name)s`` placeholders), straight
    to this request's catalogue."""
    translated = translations().ugettext(string)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)  # noqa: S704 - our catalogue, as Jinja's own gettext
    # Formatted only when there is something to format ("%%" included): most strings are plain.
    return translated % variables if variables or "%" in translated else translated


_PAGE_URLS_KEPT = 256


def page_urls(app: Flask):  # type: ignore[no-untyped-def]
    """``url_for`` for templates: an address built without values (a page's links, its
    stylesheet and scripts: about twenty on every page) is built once per script root and
    kept; any other is built each time."""
    build = app.url_for
    built: dict[tuple[str, str | None, str], str] = {}

    def url_for(endpoint: str, **values: str) -> str:
        if values.keys() - {"filename"} or not has_request_context():
            return build(endpoint, **values)
        key = (endpoint, values.get("filename"), request.script_root)
        address = built.get(key)
        if address is None:
            if len(built) >= _PAGE_URLS_KEPT:  # the script root comes with the request
                built.clear()
            address = built[key] = build(endpoint, **values)
        return address

    return url_for


def translations() -> NullTranslations:
    """The catalogue of this request's language, looked up once per request: Flask-Babel's
    own callables look it up for every string of a page (about fifty), each time through
    its request context, the locale and the catalogue cache."""
    found = g.get("translations")
    if found is None:
        found = g.translations = get_translations()
    return found

