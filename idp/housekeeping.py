"""Deleting short-lived state once it can no longer be used (``idp purge``, run by cron).

Anyone on the internet creates rows without logging in: every ``/authorize`` stores the
request, every login page a QR challenge, every failed attempt a rate counter. Without
this, those tables only grow. Only rows that every reader already treats as absent are
deleted, so purging never changes an outcome:

* pending requests, flow states, mobile challenges, SMS codes, authorization codes,
  answered passkey challenges and signature requests (``idp.firma``: undecided, or
  decided and not downloaded in time) past their ``expires_at`` (an expired code is refused
  without revoking anything, an expired challenge before its answer is looked up);
* rate counters whose window is older than the longest configured limit.

Tokens (a used refresh token must stay to detect a replay and revoke its family) and used
``jti`` values (a client assertion may outlive the hour recorded for it) are kept, and so
are back-channel logouts still to send: ``idp purge`` delivers those that are due instead.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete

from idp.clock import clock
from idp.extensions import db
from idp.firma.signature_requests import SignatureRequest
from idp.mobile.models import MobileChallenge
from idp.models import FlowState, OtpCode
from idp.oidc.models import AuthorizationCode, AuthorizationRequest
from idp.passkeys.models import UsedPasskeyChallenge
from idp.ratelimit import RateCounter, parse_limits

EXPIRING = {
    "authorization_requests": AuthorizationRequest,
    "flow_states": FlowState,
    "mobile_challenges": MobileChallenge,
    "otp_codes": OtpCode,
    "authorization_codes": AuthorizationCode,
    "used_passkey_challenges": UsedPasskeyChallenge,
    "signature_requests": SignatureRequest,
}


def purge_expired() -> dict[str, int]:
    """Delete what has expired; how many rows of each table went."""
    now = clock.now()
    removed = {}
    for name, model in EXPIRING.items():
        removed[name] = db.session.execute(delete(model).where(model.expires_at <= now)).rowcount
    limits = parse_limits(current_app.config["IDP_RATE_LIMITS"]).values()
    longest = max((limit.seconds for limit in limits), default=0)
    removed["rate_counters"] = db.session.execute(delete(RateCounter).where(
        RateCounter.window_start + longest < clock.timestamp())).rowcount
    return removed
