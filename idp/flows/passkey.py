"""Passkeys in the browser: logging in with one (the login page's third way), and adding,
renaming and removing them on the account page.

A login with a passkey that verified its user (PIN, fingerprint, face) is substantial:
the signature proves possession of a key that never leaves the authenticator and only
answers this site, and the verification is a second factor held by the authenticator.
Its ``amr`` (RFC 8176) is ``pop`` (proof of possession of a key, without saying whether
hardware or software holds it: with attestation ``none`` nobody knows, and synced passkeys
live in password managers), ``user`` (the authenticator tested the citizen's presence)
and ``mfa`` (possession plus the PIN or biometric it checked).

The page's JavaScript (static/passkeys.js) runs the ceremonies and posts the result in
a plain form, so that the answer (a redirect to the relying party, a refusal) is a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, redirect, request, url_for

from idp import metrics, notices, ratelimit
from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag, record_event
from idp.flows import account, forms
from idp.flows.login import finish_login, render_login
from idp.flows.substantial import requires_substantial_session, substantial_session
from idp.metrics import LoginMethod, LoginOutcome
from idp.models import Citizen, LoginSession
from idp.oidc import interaction
from idp.passkeys import ceremonies, store
from idp.passkeys.ceremonies import Refused
from idp.passkeys.models import Passkey

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticationCredential

blueprint = Blueprint("passkey", __name__)
PASSKEY_AMR = ["mfa", "pop", "user"]


def _json(text: str) -> Response:
    return Response(text, mimetype="application/json", headers={"Cache-Control": "no-store"})


# -- login ---------------------------------------------------------------------------------

@blueprint.post("/login/passkey/options")
def login_options():  # type: ignore[no-untyped-def]
    return _json(ceremonies.authentication_options())


@blueprint.post("/login/passkey")
def log_in():  # type: ignore[no-untyped-def]
    pending = interaction.load(request.form.get("ir"))
    try:
        credential = ceremonies.parse_assertion(request.form.get("credential", ""))
    except Refused as refused:
        # It counts against the address as any refused answer does: past the limit a flood
        # of them is refused unread and unaudited.
        if not ratelimit.guard("passkey", ip=ratelimit.client_address()).reserve():
            return ratelimit.too_many_attempts()
        record_event(EventTag.PASSKEY_LOGIN_REFUSED, reason=refused.reason)
        return render_login(pending, passkey_problem=refused.key, status=400)
    limits = ratelimit.guard("passkey", ip=ratelimit.client_address(), credential=credential.id)
    if not limits.reserve():
        return ratelimit.too_many_attempts()
    passkey = store.find_active(credential.id)
    try:
        citizen = _verified_login(passkey, credential)
    except Refused as refused:
        tag = (EventTag.PASSKEY_COUNTER_WENT_BACK if refused.key == "passkey_counter"
               else EventTag.PASSKEY_LOGIN_REFUSED)
        record_event(tag, passkey.citizen if passkey else None, reason=refused.reason,
                     passkey_id=passkey.id if passkey else None)
        metrics.login(LoginMethod.PASSKEY, LoginOutcome.FAILED)
        return render_login(pending, passkey_problem=refused.key, status=400)
    limits.release()
    return finish_login(citizen, pending, acr=ACR_SUBSTANTIAL, amr=PASSKEY_AMR,
                        method=LoginMethod.PASSKEY)


def _verified_login(passkey: Passkey | None, credential: AuthenticationCredential) -> Citizen:
    """The citizen this assertion logs in, once every check has passed and the passkey's
    new count is stored; ``Refused`` (and nothing stored) otherwise."""
    challenge = ceremonies.take_login_challenge(credential)  # used up, whatever follows
    if passkey is None:
        raise Refused("passkey_unknown", "no such passkey")
    verified = ceremonies.verify_assertion(credential, challenge, public_key=passkey.public_key,
                                           user_handle=passkey.user_handle)
    if not verified.user_verified:
        raise Refused("passkey_not_verified", "no user verification")
    citizen = passkey.citizen
    if not citizen.is_active:
        raise Refused("passkey_unknown", f"citizen {citizen.status}")
    if citizen.password_blocked:
        raise Refused("passkey_blocked", "password blocked")
    if store.counter_went_back(passkey, verified.new_sign_count):
        raise Refused("passkey_counter",
                      f"sign count {verified.new_sign_count} after {passkey.sign_count}")
    if not store.record_use(passkey, new_count=verified.new_sign_count,
                            backed_up=verified.credential_backed_up):
        raise Refused("passkey_expired", "used or removed meanwhile")
    return citizen


# -- the account page ----------------------------------------------------------------------

@blueprint.post("/account/passkeys/options")
def enrollment_options():  # type: ignore[no-untyped-def]
    login_session = substantial_session()
    if login_session is None:
        abort(403)
    citizen = login_session.citizen
    existing = store.active_passkeys(citizen)
    if len(existing) >= store.MAX_PASSKEYS:
        abort(409)
    return _json(ceremonies.registration_options(
        citizen_id=citizen.id, user_handle=store.user_handle(citizen), user_name=citizen.document,
        display_name=citizen.full_name, existing=[p.credential_id for p in existing]))


@blueprint.post("/account/passkeys")
@requires_substantial_session()
def add(login_session: LoginSession):  # type: ignore[no-untyped-def]
    citizen = login_session.citizen
    errors = forms.FormErrors()
    name = forms.text("name", errors)
    if len(store.active_passkeys(citizen)) >= store.MAX_PASSKEYS:
        errors.add("name", "passkey_limit")
    if errors:
        return account.page(login_session, passkey_errors=errors, status=400)
    try:
        credential = ceremonies.verify_registration(request.form.get("credential", ""),
                                                    citizen_id=citizen.id)
        if store.credential_known(credential.credential_id):
            raise Refused("passkey_already_registered", "credential id already registered")
    except Refused as refused:
        record_event(EventTag.PASSKEY_ENROLLMENT_REFUSED, citizen, reason=refused.reason)
        errors.add("name", refused.key)
        return account.page(login_session, passkey_errors=errors, status=400)
    passkey = store.add(citizen, credential, name)
    record_event(EventTag.PASSKEY_ADDED, citizen, passkey_id=passkey.id,
                 backup_eligible=passkey.backup_eligible)
    notices.passkey_changed(citizen, "added")
    return redirect(url_for("account.show", passkey="added", _anchor="passkeys-heading"))


@blueprint.post("/account/passkeys/rename")
@requires_substantial_session()
def rename(login_session: LoginSession):  # type: ignore[no-untyped-def]
    citizen = login_session.citizen
    errors = forms.FormErrors()
    name = forms.text("name", errors)
    if errors:  # said above the list, not at the field of the new passkey's name
        return account.page(login_session, passkey_errors={"rename": errors["name"]}, status=400)
    passkey_id = _passkey_id()
    if not store.rename(citizen, passkey_id, name):
        abort(404)
    record_event(EventTag.PASSKEY_RENAMED, citizen, passkey_id=passkey_id)
    notices.passkey_changed(citizen, "renamed")
    return redirect(url_for("account.show", passkey="renamed", _anchor="passkeys-heading"))


@blueprint.post("/account/passkeys/remove")
@requires_substantial_session()
def remove(login_session: LoginSession):  # type: ignore[no-untyped-def]
    citizen = login_session.citizen
    passkey_id = _passkey_id()
    if not store.remove(citizen, passkey_id):
        abort(404)
    record_event(EventTag.PASSKEY_REMOVED, citizen, passkey_id=passkey_id)
    notices.passkey_changed(citizen, "removed")
    return redirect(url_for("account.show", passkey="removed", _anchor="passkeys-heading"))


def _passkey_id() -> int:
    raw = request.form.get("passkey", "")
    if not raw.isdigit() or len(raw) > 18:
        abort(404)
    return int(raw)

