"""SMS notices: messages without a code that tell the citizen of a change to their Cl@ve,
sent through the same gateway as the codes.

A notice goes out once the change it tells of is committed, and it never undoes it: when
the gateway fails, the failure is logged and audited and the page goes on.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext

from idp import metrics
from idp.audit import EventTag, record_event
from idp.models import Citizen
from idp.otp import gateway
from idp.sms import SmsDeliveryError
from idp.unit_of_work import CommitReason, commit_now


def password_replaced_text(apps_revoked: int) -> str:
    """What the citizen reads once a new password replaced theirs (change, expired-password
    renewal, reset). It holds no number: a notice must never look like a code."""
    if apps_revoked:
        return gettext("Cl@ve: your password has been changed, your other sessions closed and "
                       "your Cl@ve apps revoked. If it was not you, set a new password with your "
                       "activation code under \"Forgot your password?\".")
    return gettext("Cl@ve: your password has been changed and your other sessions closed. If it "
                   "was not you, set a new password with your activation code under \"Forgot "
                   "your password?\".")


def send_notice(citizen: Citizen, text: str, *, about: str) -> bool:
    """Send ``text`` to the citizen's phone once the change it tells of (what the request
    did so far) is committed; False when the gateway failed (never raised). Each outcome
    is an audit event, committed with the rest of the request."""
    commit_now(CommitReason.BEFORE_SMS)
    try:
        gateway().send(citizen.phone, text)
    except SmsDeliveryError:
        current_app.logger.warning("SMS gateway failed for a %s notice", about)
        record_event(EventTag.SMS_NOTICE_SEND_FAILED, citizen, about=about)
        metrics.sms("notice", sent=False)
        return False
    record_event(EventTag.SMS_NOTICE_SENT, citizen, about=about)
    metrics.sms("notice", sent=True)
    return True


def password_replaced(citizen: Citizen, *, apps_revoked: int) -> bool:
    return send_notice(citizen, password_replaced_text(apps_revoked), about="password_replaced")
