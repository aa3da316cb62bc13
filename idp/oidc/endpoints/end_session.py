"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

Redirects only to a registered ``post_logout_redirect_uri``, and only when a valid
``id_token_hint`` or ``client_id`` names the client; otherwise shows our own page.
A request without ``id_token_hint``, or with one from another session, is confirmed by the
citizen first. The browser's session ends even if it timed out meanwhile (the citizen was at
the relying party, not here): the tokens issued in it are revoked with it.
"""

from __future__ import annotations

import hmac

from authlib.oauth2 import OAuth2Error
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import current_app, render_template, request
from joserfc.jwk import KeySet

from idp.audit import EventTag, record_event
from idp.extensions import csrf
from idp.oidc import server
from idp.oidc.endpoints import blueprint
from idp.oidc.id_token import sid_for
from idp.sessions import browser_session, end_session

LOGOUT_PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales",
                 "logout_hint")


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return KeySet.import_key_set(current_app.extensions["idp.keys"].public_jwks())

    def get_algorithms(self) -> list[str]:
        return ["RS256", "ES256"]

    def is_post_logout_redirect_uri_legitimate(self, request_, uri, client, logout_hint) -> bool:  # type: ignore[no-untyped-def]
        # Reached only when client_id names the client and the URI is registered for it.
        return True

    def end_session(self, end_session_request) -> None:  # type: ignore[no-untyped-def]
        login_session = browser_session()
        if login_session is not None:
            record_event(EventTag.LOGOUT, login_session.citizen,
                         client_id=end_session_request.client.client_id
                         if end_session_request.client else None)
        end_session(login_session)


def _foreign_hint(end_request) -> bool:  # type: ignore[no-untyped-def]
    """An ``id_token_hint`` from another session (anyone's ID token) must not log this
    browser out silently: any site could otherwise end a citizen's session with a link."""
    login_session = browser_session()
    claims = end_request.id_token_claims or {}
    return login_session is not None and not _names_session(claims, login_session.id)


def _names_session(claims: dict, session_id: str) -> bool:
    """Whether an ID token carries the ``sid`` its client was given for this session."""
    aud, sid = claims.get("aud"), claims.get("sid")
    if not isinstance(aud, str) or not isinstance(sid, str) or not sid.isascii():
        return False
    return hmac.compare_digest(sid, sid_for(aud, session_id))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():  # type: ignore[no-untyped-def]
    authorization_server = server()
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        csrf.protect()
    try:
        end_request = authorization_server.validate_endpoint_request(EndSession.ENDPOINT_NAME)
    except OAuth2Error:
        return render_template("oidc/logout_error.html", status=400), 400
    if (end_request.needs_confirmation or _foreign_hint(end_request)) and not confirmed:
        params = {name: request.values[name] for name in LOGOUT_PARAMS if name in request.values}
        return render_template("oidc/logout_confirm.html", params=params,
                               client=end_request.client)
    response = authorization_server.create_endpoint_response(EndSession.ENDPOINT_NAME, end_request)
    return response or render_template("oidc/logged_out.html")
