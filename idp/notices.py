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


def password_replaced_text(apps_revoked: int, passkeys_revoked: int = 0) -> str:
    """What the citizen reads once a new password replaced theirs (change, expired-password
    renewal, reset). It holds no number: a notice must never look like a code."""
    if passkeys_revoked:
        return gettext("Cl@ve: your password has been changed, your other sessions closed and "
                       "your Cl@ve apps and passkeys revoked. If it was not you, set a new "
                       "password with your activation code under \"Forgot your password?\".")
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


def password_replaced(citizen: Citizen, *, apps_revoked: int, passkeys_revoked: int = 0) -> bool:
    return send_notice(citizen, password_replaced_text(apps_revoked, passkeys_revoked),
                       about="password_replaced")


def passkey_changed_text(change: str) -> str:
    """What the citizen reads once a passkey was added, renamed or removed on the account
    page: whoever did it held a substantial session, which the citizen should know of."""
    if change == "added":
        return gettext("Cl@ve: a passkey has been added to your Cl@ve. If it was not you, remove "
                       "it on your account page and change your password.")
    if change == "renamed":
        return gettext("Cl@ve: one of your passkeys has been renamed. If it was not you, check "
                       "your passkeys on your account page and change your password.")
    return gettext("Cl@ve: a passkey has been removed from your Cl@ve. If it was not you, check "
                   "your account page and change your password.")


def passkey_changed(citizen: Citizen, change: str) -> bool:
    return send_notice(citizen, passkey_changed_text(change), about=f"passkey_{change}")
