"""Cl@ve Firma, the citizen's side: read what a relying party asks to sign, authorise that
one document with a fresh SMS code (or an approval in the Cl@ve app naming the document
and its SHA-256, with the code this page shows typed there), or refuse it; the browser
then returns to the RP at ``redirect_uri?request_id=…&state=…`` (the RP reads the outcome
from the API).

Only a session at the substantial level (password + SMS code, Cl@ve mobile or a passkey)
may see a request: anyone else logs in first and comes back. A request whose RP named the
signer shows the same refusal to everyone else, whoever they are; one whose RP named nobody
belongs to the first citizen who opens it, and shows everyone else that refusal.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from idp import flow_state, ratelimit
from idp.audit import EventTag, record_event
from idp.firma import decisions
from idp.firma import signature_requests as stored
from idp.firma.signature_requests import SignatureRequest, Status
from idp.firma.signer import DocumentRefused, SigningUnavailable, inspect_pdf
from idp.firma.submission import file_name
from idp.flows import otp_step
from idp.flows.mobile import public_status, seconds_left
from idp.flows.substantial import requires_substantial_session, substantial_session
from idp.mobile import challenges
from idp.mobile.models import ChallengeKind, ChallengeStatus, MobileChallenge
from idp.models import Citizen, FlowState, LoginSession

blueprint = Blueprint("signature", __name__, url_prefix="/signature")
FLOW = "signature"
OTP_PURPOSE = "signature"
STEPS = (_l("Review the document"), _l("SMS code"))


def _refusal(message_key: str, status: int):  # type: ignore[no-untyped-def]
    return render_template("error.html", message_key=message_key, status=status), status


def _decidable(request_id: object, citizen: Citizen) -> tuple[SignatureRequest | None, object]:
    """The pending request ``citizen`` may decide, or None and the page refusing it."""
    found = stored.find(request_id)
    if found is None or found.current_status != Status.PENDING:
        return None, _refusal("signature_unavailable", 404)
    if not stored.claim(found, citizen):
        record_event(EventTag.SIGNATURE_SIGNER_MISMATCH, citizen, client_id=found.client_id or None,
                     request_id=found.id)
        return None, _refusal("signature_other_signer", 403)
    return found, None


@blueprint.get("/<request_id>")
@requires_substantial_session(back_to=lambda request_id: url_for("signature.review", request_id=request_id))
def review(login_session: LoginSession, request_id: str):  # type: ignore[no-untyped-def]
    found, refusal = _decidable(request_id, login_session.citizen)
    if found is None:
        return refusal
    return render_template("signature/review.html", signature_request=found, flow_steps=STEPS,
                           has_app=challenges.has_app(login_session.citizen))


@blueprint.get("/<request_id>/document")
@requires_substantial_session(back_to=lambda request_id: url_for("signature.review", request_id=request_id))
def document(login_session: LoginSession, request_id: str):  # type: ignore[no-untyped-def]
    """The exact bytes that will be signed, for the citizen's own PDF reader."""
    found, refusal = _decidable(request_id, login_session.citizen)
    if found is None:
        return refusal
    if not found.is_pdf:
        return _refusal("signature_unavailable", 404)
    response = Response(found.document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{found.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/<request_id>/sign")
@requires_substantial_session(back_to=lambda request_id: url_for("signature.review", request_id=request_id))
def start_signing(login_session: LoginSession, request_id: str):  # type: ignore[no-untyped-def]
    citizen = login_session.citizen
    found, refusal = _decidable(request_id, citizen)
    if found is None:
        return refusal
    if not ratelimit.guard("signature", citizen=str(citizen.id)).reserve():
        return ratelimit.too_many_attempts()
    if request.form.get("method") == "app" and challenges.has_app(citizen):
        challenge = challenges.create_signature(
            citizen, client_name=found.client_name, request_id=found.id, name=found.name,
            sha256=found.sha256)
        return _app_page(found, challenge, "pending")
    return otp_step.begin(FLOW, citizen, OTP_PURPOSE, partial(_otp_page, found=found), request_id=found.id)


def _app_page(found: SignatureRequest, challenge: MobileChallenge, state: str,
              problem: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("signature/app.html", signature_request=found, challenge=challenge,
                           state=state, problem=problem, flow_steps=STEPS,
                           seconds_left=seconds_left(challenge)), status


@blueprint.post("/app")
def app_continue():  # type: ignore[no-untyped-def]
    """After the app's decision: an approval of this browser's challenge, by the app of the
    citizen logged in here, signs the document it names, once."""
    login_session = substantial_session()
    challenge = challenges.bound(request.form.get("challenge"))
    if login_session is None or challenge is None or challenge.kind != ChallengeKind.SIGNATURE \
            or challenge.citizen_id != login_session.citizen_id or not challenge.document:
        return flow_state.expired_page()
    citizen = login_session.citizen
    found, refusal = _decidable(challenge.document["request_id"], citizen)
    if found is None:
        return refusal
    state = public_status(challenge)
    if state == ChallengeStatus.PENDING:
        return _app_page(found, challenge, state, "mobile_not_yet")
    consumed = challenges.consume(challenge) if state == ChallengeStatus.APPROVED else None
    if consumed is not None and consumed.id == citizen.id:
        return _signed(found, citizen, "mobile")
    problem = "signature_app_denied" if state == ChallengeStatus.DENIED else "mobile_expired"
    return _app_page(found, challenge, state, problem, 400)


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    """The SMS code sent for this one signature; once right, the document is signed."""
    state = flow_state.current(FLOW, "otp")
    login_session = substantial_session()
    if state is None or state.citizen is None or login_session is None \
            or login_session.citizen_id != state.citizen_id:
        return flow_state.expired_page()
    citizen = state.citizen
    found, refusal = _decidable(state.data.get("request_id"), citizen)
    if found is None:
        flow_state.finish(FLOW)
        return refusal
    verified, problem = otp_step.respond(state, citizen, OTP_PURPOSE)
    if not verified:
        return _otp_page(state, problem, found)
    flow_state.finish(FLOW)
    return _signed(found, citizen, "sms")


def _otp_page(state: FlowState, problem: str | None, found: SignatureRequest):  # type: ignore[no-untyped-def]
    return otp_step.page(state, problem, url_for("signature.otp"), STEPS,
                         template="signature/otp.html", signature_request=found)


def _signed(found: SignatureRequest, citizen: Citizen, method: str):  # type: ignore[no-untyped-def]
    """Sign what the citizen has just authorised, and back to the RP."""
    try:
        signed = decisions.sign(found, citizen, method=method)
    except SigningUnavailable as unavailable:
        # Nothing signed, through no fault of anyone here (the time-stamping service, the
        # deployment's seal): the request stays pending, to be authorised again later.
        return _refusal(unavailable.message_key, 503)
    if not signed:
        return _refusal("signature_unavailable", 404)
    return back_to_client(found)


@blueprint.post("/<request_id>/refuse")
@requires_substantial_session(back_to=lambda request_id: url_for("signature.review", request_id=request_id))
def refuse(login_session: LoginSession, request_id: str):  # type: ignore[no-untyped-def]
    found, refusal = _decidable(request_id, login_session.citizen)
    if found is None:
        return refusal
    if not decisions.refuse(found, login_session.citizen):
        return _refusal("signature_unavailable", 404)
    return back_to_client(found)


def back_to_client(found: SignatureRequest):  # type: ignore[no-untyped-def]
    """To the RP's registered redirect URI, with the request's id and the RP's state."""
    separator = "&" if "?" in found.redirect_uri else "?"
    return redirect(found.redirect_uri + separator
                    + urlencode({"request_id": found.id, "state": found.state}))


# -- a PDF of the citizen's own, from the account page ------------------------------------

@blueprint.route("/own", methods=["GET", "POST"])
@requires_substantial_session(back_to=lambda: url_for("signature.own"))
def own(login_session: LoginSession):  # type: ignore[no-untyped-def]
    """Upload a PDF to sign it oneself: it becomes a request only this citizen may decide,
    reviewed and authorised as any other, whose result comes back to ``own_done``."""
    if request.method == "GET":
        return render_template("signature/own.html", problem=None)
    upload = request.files.get("file")
    content = upload.stream.read(current_app.config["IDP_FIRMA_MAX_PDF_BYTES"] + 1) if upload else b""
    try:
        facts = inspect_pdf(content)
    except DocumentRefused as refused:
        return render_template("signature/own.html", problem=refused.message_key,
                               params=refused.params), 400
    citizen = login_session.citizen
    described = stored.Described(stored.Kind.PDF, file_name(upload.filename),  # type: ignore[union-attr]
                                   facts.sha256, facts.size, facts.page_count, content)
    own_request = stored.create(
        client_id="", client_name="", redirect_uri=url_for("signature.own_done"), state="",
        described=described, signer_document=citizen.document, reason=None)
    record_event(EventTag.SIGNATURE_REQUESTED, citizen, request_id=own_request.id, kind="pdf",
                 sha256=facts.sha256, own=True)
    return redirect(url_for("signature.review", request_id=own_request.id))


def _own_signed(login_session: LoginSession | None, request_id: object) -> SignatureRequest | None:
    found = stored.find(request_id)
    if login_session is None or found is None or found.client_id != "" \
            or found.citizen_id != login_session.citizen_id or found.current_status != Status.SIGNED:
        return None
    return found


@blueprint.get("/own/done")
def own_done():  # type: ignore[no-untyped-def]
    login_session = substantial_session()
    found = _own_signed(login_session, request.args.get("request_id"))
    if found is None or found.downloaded_at is not None:
        return redirect(url_for("account.show"))
    return render_template("signature/own_done.html", signature_request=found)


@blueprint.post("/own/download")
def own_download():  # type: ignore[no-untyped-def]
    login_session = substantial_session()
    found = _own_signed(login_session, request.form.get("request_id"))
    signed = stored.take_signature(found) if found is not None else None
    if found is None or signed is None:
        return _refusal("signature_unavailable", 404)
    record_event(EventTag.SIGNATURE_DOWNLOADED, login_session.citizen, request_id=found.id, own=True)  # type: ignore[union-attr]
    response = Response(signed, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{found.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
