"""The IdP's own pages: home (with the citizen services), language choice, health."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.sessions import current_session, end_session
from idp.unit_of_work import abandon
from idp.web import LANGUAGES, RETRY_AFTER_SECONDS, remember_language

log = logging.getLogger("idp")

blueprint = Blueprint("home", __name__)
# A language the citizen chose by hand is kept beyond the visit (an RP's, for the visit).
SWITCHER_CHOICE_SECONDS = 365 * 86400


@blueprint.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template("home.html", login_session=current_session())


@blueprint.post("/session/end")
def logout():  # type: ignore[no-untyped-def]
    login_session = current_session()
    if login_session is not None:
        record_event(EventTag.LOGOUT, login_session.citizen)
    end_session(login_session)
    return render_template("oidc/logged_out.html")


@blueprint.post("/language")
def language():  # type: ignore[no-untyped-def]
    chosen = request.form.get("lang", "")
    back = request.form.get("next", "")
    target = back if _local_path(back) else url_for("home.index")
    response = redirect(target)
    if chosen in LANGUAGES:
        remember_language(response, chosen, max_age=SWITCHER_CHOICE_SECONDS)
    return response


def _local_path(back: str) -> bool:
    """A path on this site only. Browsers drop tabs and newlines from a URL and read a
    backslash as a slash, so "/<TAB>/evil.example" would leave for another host."""
    return (back.startswith("/") and not back.startswith("//") and len(back) <= 512
            and "\\" not in back and back.isprintable() and not any(ch.isspace() for ch in back))


@blueprint.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """The process answers: no database, nothing that could make a busy worker look dead."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Whether this process can serve: the database answers a ``SELECT 1``."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("not ready: the database did not answer (%s)", error.__class__.__name__)
        abandon()
        response = jsonify(status="unavailable", reason="database_unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return jsonify(status="ready")
