"""The Cl@ve mobile app's JSON API, ``/api/mobile/v1`` (described by ``openapi.json``).

Enrollment proves the citizen with Permanent Cl@ve + SMS code and registers the app's
public key; every later call is signed by that key (``idp.mobile.proofs``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from idp import citizens, flow_state, otp, ratelimit, secrets, transport
from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag, record_event
from idp.documents import InvalidDocument, parse_document
from idp.extensions import csrf, db
from idp.mobile import challenges, proofs
from idp.mobile.models import Device, MobileChallenge
from idp.sms import SmsDeliveryError
from idp.unit_of_work import abandon
from idp.user_agents import describe_device

blueprint = Blueprint("mobile_api", __name__, url_prefix="/api/mobile/v1")
csrf.exempt(blueprint)
transport.require_https(blueprint)  # device proofs and enrollment tokens; not openapi.json
ENROLLMENT = "enrollment"
OPENAPI = Path(__file__).with_name("openapi.json")


def _error(status: int, error: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=error, **extra), status


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
    abandon()  # as every error handler: what the request did is rolled back
    return _error(error.code or 500, (error.name or "error").lower().replace(" ", "_"))


def _body() -> dict[str, Any]:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # deeply nested JSON exhausts the parser: not a dict either
        data = None
    return data if isinstance(data, dict) else {}


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    return value.strip()[:limit] if isinstance(value, str) and len(value) <= limit else ""


@blueprint.get("/openapi.json")
@transport.any_transport
def openapi():  # type: ignore[no-untyped-def]
    return Response(OPENAPI.read_bytes(), mimetype="application/json")


@blueprint.post("/enrollments")
def start_enrollment():  # type: ignore[no-untyped-def]
    data = _body()
    try:
        document = parse_document(_text(data, "document", 32))
    except InvalidDocument as invalid:
        return _error(400, invalid.reason)
    limits = ratelimit.guard("enrollment", ip=ratelimit.client_address(), document=document.number)
    if not limits.reserve():
        return _error(429, "rate_limited")
    citizen = citizens.find(document)
    check = citizens.verify_password(citizen, _text(data, "password", 256))
    if check != citizens.PasswordCheck.OK:
        record_event(EventTag.LOGIN_FAILED, citizen if citizen and citizen.is_active else None,
                     channel="mobile_enrollment", reason=check.value)
        return _error(401, "invalid_credentials")
    assert citizen is not None
    limits.release()
    if citizen.password_expired():
        # As on the web, an expired password must be changed before it proves anything.
        record_event(EventTag.PASSWORD_EXPIRED, citizen, channel="mobile_enrollment")
        return _error(403, "password_expired")
    try:
        code_id = otp.send_otp(citizen, ENROLLMENT)
    except otp.SendRefused as refused:
        return _wait(refused.reason, refused.retry_at)
    except SmsDeliveryError:
        return _error(503, "sms_unavailable")
    token = flow_state.start_for_token(ENROLLMENT, "otp", citizen, otp_id=code_id,
                                       device_name=_text(data, "device_name", 100) or "Cl@ve app")
    return jsonify(enrollment=token, phone_hint=citizen.phone[-3:],
                   expires_in=current_app.config["IDP_OTP_TTL"]), 201


def _wait(error: str, retry_at: datetime | None) -> tuple[Response, int]:
    """A 429 saying, when known, in how many seconds to try again (body and Retry-After)."""
    if retry_at is None:
        return _error(429, error)
    seconds = otp.seconds_until(retry_at)
    response, status = _error(429, error, retry_after=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response, status


@blueprint.post("/devices")
def complete_enrollment():  # type: ignore[no-untyped-def]
    """The enrollment token travels in the body, never in the path: paths are written to
    access logs, and this one is a bearer secret until the SMS code is checked."""
    data = _body()
    limits = ratelimit.guard("otp", ip=ratelimit.client_address())  # as on the SMS-code pages
    if not limits.reserve():
        return _error(429, "rate_limited")
    state = flow_state.by_token(ENROLLMENT, "otp", _text(data, "enrollment", 128))
    if state is None or state.citizen is None:
        return _error(404, "enrollment_not_found")
    try:
        key = proofs.public_key_from_jwk(data.get("public_jwk"))
    except proofs.ProofError as error:
        return _error(400, error.reason)
    result = otp.verify_otp(state.data.get("otp_id"), state.citizen, ENROLLMENT, _text(data, "otp", 16))
    if result != otp.OtpResult.OK:
        if result == otp.OtpResult.LOCKED:
            return _wait(result.value, state.citizen.otp_locked_until)
        return _error(400, result.value)
    device = Device(id=secrets.random_token(16), citizen_id=state.citizen.id,
                    name=state.data.get("device_name", "Cl@ve app"),
                    public_jwk=key.as_dict(private=False))
    db.session.add(device)
    db.session.delete(state)
    limits.release()
    record_event(EventTag.DEVICE_ENROLLED, state.citizen, device_id=device.id)
    return jsonify(device_id=device.id, acr=ACR_SUBSTANTIAL), 201


def device_call(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only for a call signed by an enrolled, unrevoked device; passes it to the view."""

    @wraps(view)
    def signed(*args: Any, **kwargs: Any) -> Any:
        # Refused proofs are counted per address: past the limit they are not even checked,
        # so a flood of forged calls costs neither signature checks nor audit rows.
        limits = ratelimit.guard("device", ip=ratelimit.client_address())
        if not limits.reserve():
            return _error(429, "rate_limited")
        try:
            device, claims = proofs.verify(request.headers.get(proofs.HEADER),
                                           method=request.method, path=request.path)
        except proofs.ProofError as error:
            record_event(EventTag.DEVICE_PROOF_REFUSED, reason=error.reason)
            return _error(401, error.reason)
        limits.release()
        return view(device, claims, *args, **kwargs)

    return signed


def _utc(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _describe(challenge: MobileChallenge) -> dict[str, Any]:
    """What the app shows before the citizen decides: who asks, for what, and where the
    request comes from. Never the code to type: the citizen reads it in the browser."""
    browser, system = describe_device(challenge.origin_user_agent)
    return {
        "id": challenge.id, "kind": challenge.kind, "requester": challenge.client_name,
        "requested_claims": challenge.requested_claims,
        "origin": {"ip": challenge.origin_ip, "user_agent": challenge.origin_user_agent,
                   "browser": browser, "system": system},
        "requested_at": _utc(challenge.created_at),
        "expires_at": _utc(challenge.expires_at),
        **({"document": {"name": challenge.document["name"], "sha256": challenge.document["sha256"]}}
           if challenge.document else {}),
    }


@blueprint.get("/challenges/<challenge_id>")
@device_call
def show_challenge(device: Device, claims: dict[str, Any], challenge_id: str):  # type: ignore[no-untyped-def]
    challenge = db.session.get(MobileChallenge, challenge_id[:64])
    if not challenges.visible_to(challenge, device):
        return _error(404, "challenge_unavailable")
    assert challenge is not None
    return jsonify(_describe(challenge))


@blueprint.post("/challenges/<challenge_id>/decision")
@device_call
def decide(device: Device, claims: dict[str, Any], challenge_id: str):  # type: ignore[no-untyped-def]
    if claims.get("challenge") != challenge_id or claims.get("decision") not in ("approve", "deny"):
        return _error(400, "invalid_decision")
    challenge = db.session.get(MobileChallenge, challenge_id[:64])
    approve = claims["decision"] == "approve"
    if approve and device.citizen.password_blocked:
        # A blocked Cl@ve logs nobody in (its sessions end too, idp.sessions.is_valid) until
        # the citizen sets a new password; denying stays possible.
        record_event(EventTag.MOBILE_APPROVAL_REFUSED, device.citizen, device_id=device.id,
                     reason="credential_blocked")
        return _error(403, "credential_blocked")
    outcome = challenges.decide(challenge, device, approve, claims.get("code"))
    if outcome == challenges.Decision.UNAVAILABLE:
        return _error(404, "challenge_unavailable")
    return jsonify(status=outcome.value)


@blueprint.get("/pending")
@device_call
def pending(device: Device, claims: dict[str, Any]):  # type: ignore[no-untyped-def]
    return jsonify(pending=[_describe(c) for c in challenges.pending_for(device)])
