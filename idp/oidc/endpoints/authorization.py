"""Authorization endpoint: validate, store the request, then hand it to the front door
(``interaction.resume``), which asks for what is missing or issues the code.

Checks run in the order of ``REQUEST_CHECKS``, after Authlib has validated the client,
the redirect URI (exact match), the scope and PKCE. Until the redirect URI is known to be
registered, errors are shown on an IdP page, never redirected.
"""

from __future__ import annotations

from collections.abc import Callable

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import g, render_template, request

from idp.oidc import claims as claim_rules
from idp.oidc import interaction, server
from idp.oidc.endpoints import blueprint
from idp.web import locale_from_tags

KEPT_PARAMS = {
    "response_type": 32, "client_id": 64, "redirect_uri": 2048, "scope": 512, "state": 2048,
    "nonce": 512, "prompt": 64, "max_age": 12, "acr_values": 512, "ui_locales": 128,
    "login_hint": 64, "display": 16, "claims": 4096, "response_mode": 16,
    "code_challenge": 128, "code_challenge_method": 8,
}


def _no_request_objects(params: dict[str, str]) -> None:
    if "request" in request.values:
        raise RequestNotSupportedError()
    if "request_uri" in request.values:
        raise RequestURINotSupportedError()


def _sizes(params: dict[str, str]) -> None:
    for name, limit in KEPT_PARAMS.items():
        if len(params.get(name, "")) > limit:
            raise InvalidRequestError(f"'{name}' is too long.")


def _openid_scope(params: dict[str, str]) -> None:
    if "openid" not in params.get("scope", "").split():
        raise InvalidScopeError("The 'openid' scope is required.")


def _response_mode(params: dict[str, str]) -> None:
    if params.get("response_mode", "query") not in ("query", "form_post"):
        raise InvalidRequestError("response_mode must be 'query' or 'form_post'.")


def _prompt(params: dict[str, str]) -> None:
    prompts = params.get("prompt", "").split()
    if not set(prompts) <= {"none", "login", "consent", "select_account"}:
        raise InvalidRequestError("Unsupported 'prompt' value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")


def _max_age(params: dict[str, str]) -> None:
    value = params.get("max_age")
    if value is not None and not (value.isascii() and value.isdigit()):
        raise InvalidRequestError("'max_age' must be a non-negative integer.")


def _claims(params: dict[str, str]) -> None:
    try:
        claim_rules.parse_claims_request(params.get("claims"))
    except claim_rules.ClaimsRequestError as error:
        raise InvalidRequestError(f"Invalid 'claims': {error}.") from error


REQUEST_CHECKS: list[Callable[[dict[str, str]], None]] = [
    _no_request_objects, _sizes, _openid_scope, _response_mode, _prompt, _max_age, _claims,
]


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():  # type: ignore[no-untyped-def]
    sent = request.values.to_dict()  # each parameter's first value, looked up once
    params = {name: sent[name] for name in KEPT_PARAMS if name in sent}
    g.ui_locale = locale_from_tags(params.get("ui_locales"))
    try:
        grant = server().get_consent_grant(end_user=None)
        for check in REQUEST_CHECKS:
            _checked(check, params, grant)
    except OAuth2Error as error:
        return interaction.error_response(error, params)
    except ValueError:
        # Authlib refuses to build an error description from input holding characters
        # RFC 6749 forbids there (quotes, backslash, non-ASCII): the request is invalid.
        return render_template("oidc/error.html", error=InvalidRequestError(), status=400), 400
    return interaction.resume(interaction.store(grant.client, params))


def _checked(check: Callable[[dict[str, str]], None], params: dict[str, str],
             grant: AuthorizationCodeGrant) -> None:
    try:
        check(params)
    except OAuth2Error as error:
        error.redirect_uri = grant.redirect_uri
        raise
