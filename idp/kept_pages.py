"""Pages rendered once per language and kept: a page whose text changes only with the
language and a few inputs (which tab is open, which errors are shown) is rendered once for
each such key with a marker in the place of each request's own values (the CSRF token, the
pending request's id, the QR challenge...), then filled in for each request. Rendering the
login page whole was about two thirds of ``GET /login`` (docs/performance.md).

Every per-request value goes through the template as a marker, and is filled in escaped
as Jinja's autoescape would have written it: a template that transformed a value (a filter,
a test on it) would leave its marker changed, which ``render`` refuses at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from flask import current_app, g, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from idp.web import rendered_locale

CSRF_TOKEN = "csrf_token"  # noqa: S105 - a slot's name; the slot every form fills (flask_wtf's token of this request)
_KEPT = 64  # keys per page: languages × the few inputs that change its text


class KeptPage:
    """``template`` with per-request ``slots``; ``render`` keeps its text per key."""

    def __init__(self, template: str, *slots: str) -> None:
        self.template = template
        self._token = "kept" + secrets.token_hex(8)  # per process: no page text can hold it
        self._markers = {name: f"{self._token}s{number}x" for number, name in enumerate(slots)}
        self._slot_of = {marker: name for name, marker in self._markers.items()}
        self._split = re.compile("(" + "|".join(self._markers.values()) + ")")

    def marker(self, slot: str) -> str:
        """What the template is given in the place of ``slot``'s value."""
        return self._markers[slot]

    def render(self, key: Hashable, context: dict[str, Any], values: Mapping[str, object],
               stand_ins: Callable[[], dict[str, Any]]) -> str:
        """The page for ``key`` (besides the language and the script root, by which every
        page is kept) and ``context``, with this request's ``values`` filled in.
        ``stand_ins()`` gives what replaces in ``context`` each item that holds a
        per-request value, with ``marker(slot)`` in the value's place; it is called only
        when the page is first rendered for the key."""
        full_key = (key, str(get_locale()), rendered_locale(), request.script_root)
        # Kept per app: a page holds the app's settings (the issuer, lifetimes, what is
        # enabled), and one process may hold several apps (the tests, a dispatcher).
        kept_here = current_app.extensions.setdefault("kept_pages", {}).setdefault(self, {})
        kept = kept_here.get(full_key)
        if kept is None:
            if len(kept_here) >= _KEPT:
                kept_here.clear()
            kept = kept_here[full_key] = self._render_marked({**context, **stand_ins()})
        texts, slots = kept
        if CSRF_TOKEN in self._markers:
            values = {**values, CSRF_TOKEN: generate_csrf()}
        page = [texts[0]]
        for slot, text in zip(slots, texts[1:], strict=True):
            page += (escape(values[slot]), text)
        return "".join(page)

    def _render_marked(self, context: dict[str, Any]) -> tuple[list[str], list[str]]:
        csrf_field = current_app.config.get("WTF_CSRF_FIELD_NAME", CSRF_TOKEN)
        real_token = g.pop(csrf_field, None)
        if CSRF_TOKEN in self._markers:
            setattr(g, csrf_field, self._markers[CSRF_TOKEN])  # what generate_csrf returns
        try:
            html = render_template(self.template, **context)
        finally:
            g.pop(csrf_field, None)
            if real_token is not None:
                setattr(g, csrf_field, real_token)
        pieces = self._split.split(html)
        texts, slots = pieces[::2], [self._slot_of[marker] for marker in pieces[1::2]]
        if any(self._token in text.lower() for text in texts):
            raise ValueError(f"{self.template} changes a per-request value: it cannot be kept")
        return texts, slots
