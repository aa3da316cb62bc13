"""The demo's pages: each view parses the request, asks :class:`ClaveProvider`, and renders."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from . import presenting, signing
from .oidc import ClaveProvider, ProviderProblem, TokensRefused

bp = Blueprint("demo", __name__)

LEVEL_URIS = {
    "low": "http://eidas.europa.eu/LoA/low",
    "substantial": "http://eidas.europa.eu/LoA/substantial",
}
PROMPTS = frozenset({"none", "login", "consent"})
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# What an error code from the authorization endpoint means for the citizen (RFC 6749 §4.1.2.1,
# OIDC Core §3.1.2.6), and the status this site answers with.
AUTHORIZATION_ERRORS: dict[str, tuple[int, Any]] = {
    "access_denied": (400, _l("You cancelled the login, or chose not to share your details "
                              "with this site.")),
    "login_required": (400, _l("You asked to continue without logging in again, but you have "
                               "no active Cl@ve session.")),
    "interaction_required": (400, _l("Cl@ve needs you to interact with it before logging you in.")),
    "consent_required": (400, _l("Cl@ve needs your consent before sharing your details.")),
    "invalid_request": (400, _l("Cl@ve rejected the login request sent by this site.")),
    "invalid_scope": (400, _l("This site asked for details Cl@ve will not release to it.")),
    "unauthorized_client": (400, _l("This site is not allowed to log citizens in this way.")),
    "server_error": (502, _l("Cl@ve met an internal error.")),
    "temporarily_unavailable": (503, _l("Cl@ve is temporarily unavailable.")),
}
MAX_SHOWN_DESCRIPTION = 300


def provider() -> ClaveProvider:
    return current_app.extensions["demo_rp"]


@bp.app_context_processor
def template_helpers() -> dict[str, object]:
    return {"csrf_token": csrf_token, "settings": provider().settings}


@bp.get("/")
def home() -> str:
    bundle = session.get("login")
    return render_template(
        "home.html",
        login=presenting.present_login(bundle, session.get("requested_acr")) if bundle else None,
        default_level=next((name for name, uri in LEVEL_URIS.items()
                            if uri == provider().settings.acr), "substantial"),
        languages=presenting.LANGUAGES,
    )


@bp.get("/login")
def login() -> Response:
    settings = provider().settings
    if not settings.is_client_configured:
        raise ProviderProblem(
            503,
            _("Demo not configured"),
            _("This site has no Cl@ve client credentials yet. Run `idp init --demo` (it writes "
              "%(file)s) or set DEMO_RP_CLIENT_ID and DEMO_RP_CLIENT_SECRET.",
              file=settings.client_file),
        )
    acr = _requested_acr(request.args.get("acr"), default=settings.acr)
    prompt = request.args.get("prompt") or None
    if prompt is not None and prompt not in PROMPTS:
        abort(400, _("Unknown prompt %(prompt)r; use one of: %(known)s.", prompt=prompt,
                     known=", ".join(sorted(PROMPTS))))
    response = provider().login_redirect(acr, prompt, _ui_locales(request.args.get("lang")))
    # Kept to tell the citizen when Cl@ve answered with a lower level than this site asked for.
    session["requested_acr"] = acr
    return response


@bp.get("/callback")
def callback() -> Response:
    clave = provider()
    # RFC 9207 asks to check the issuer before anything else, error responses included.
    clave.check_response_issuer(request.args, required=False)
    if "error" in request.args:
        clave.forget_pending_login(request.args.get("state"))
        raise _authorization_error(request.args)
    bundle = clave.complete_login(request.args)
    requested_acr = session.get("requested_acr")
    session.clear()
    session["login"] = bundle
    session["requested_acr"] = requested_acr
    return redirect(url_for(".home"))


@bp.post("/refresh")
def refresh() -> Response:
    _check_csrf()
    bundle = session.get("login")
    if not bundle:
        flash(_("You are not logged in."), "warning")
        return redirect(url_for(".home"))
    try:
        refreshed = provider().refresh(bundle)
    except TokensRefused:
        # A refused refresh token is revoked for good (rotation, replay detection).
        session.pop("login", None)
        raise
    session["login"] = refreshed
    flash(_("Tokens refreshed. %(expiry)s", expiry=presenting.expiry_sentence(refreshed)), "success")
    return redirect(url_for(".home"))


@bp.get("/logout")
def logout() -> Response:
    bundle = session.get("login")
    session.clear()
    if not bundle:
        return redirect(url_for(".home"))
    try:
        return provider().logout_redirect(bundle["id_token"])
    except ProviderProblem as problem:
        raise ProviderProblem(
            problem.status,
            _("Logged out of this site only"),
            _("You are logged out of this site, but Cl@ve could not be told: your Cl@ve session "
              "may still be open. %(reason)s", reason=problem.message),
            problem.detail,
        ) from problem


@bp.get("/logged-out")
def logged_out() -> str:
    provider().check_logout_response()
    return render_template("logged_out.html")


def csrf_token() -> str:
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def _check_csrf() -> None:
    expected = session.get("csrf_token")
    sent = request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected, sent):
        abort(400, _("This form has expired. Go back to the home page and try again."))


def _requested_acr(value: str | None, *, default: str) -> str:
    if not value:
        return default
    if value in LEVEL_URIS:
        return LEVEL_URIS[value]
    if value in LEVEL_URIS.values():
        return value
    abort(400, _("Unknown level of assurance %(value)r; use low or substantial.", value=value))


def _ui_locales(value: str | None) -> str | None:
    tags = (value or "").split()
    if not tags:
        return None
    if not all(LANGUAGE_TAG.match(tag) for tag in tags):
        abort(400, _("%(value)r is not a list of language tags.", value=value))
    return " ".join(tags)


def _authorization_error(args: Mapping[str, str]) -> ProviderProblem:
    error = args["error"]
    status, meaning = AUTHORIZATION_ERRORS.get(error, (400, _l("Cl@ve could not log you in.")))
    description = (args.get("error_description") or "")[:MAX_SHOWN_DESCRIPTION]
    return ProviderProblem(
        status,
        _("Login not completed"),
        str(meaning),
        f"{error}: {description}" if description else error,
    )


# -- Cl@ve Firma ---------------------------------------------------------------------------

@bp.get("/sign")
def sign_page() -> str:
    return render_template("sign.html")


@bp.post("/sign")
def start_signature() -> Response:
    _check_csrf()
    settings = provider().settings
    if not settings.is_client_configured:
        abort(503, _("This site has no Cl@ve client credentials yet."))
    state = secrets.token_urlsafe(16)
    created = signing.request_signature(settings, signing.sample_pdf(), state,
                                        reason=_("Sample application to the municipality"))
    session["signature"] = {"request_id": created["request_id"], "state": state}
    return redirect(created["sign_url"])


@bp.get("/signed")
def signed() -> str:
    asked = session.get("signature") or {}
    request_id, state = request.args.get("request_id", ""), request.args.get("state", "")
    if not asked or not hmac.compare_digest(asked.get("state", ""), state) \
            or asked.get("request_id") != request_id:
        abort(400, _("This answer does not belong to a signature asked from this browser."))
    session.pop("signature", None)
    settings = provider().settings
    outcome = signing.status(settings, request_id)
    validation = None
    if outcome == "signed":
        validation = signing.validate(signing.signed_document(settings, request_id),
                                      signing.ca_certificate(settings))
    return render_template("signed.html", outcome=outcome, validation=validation)
