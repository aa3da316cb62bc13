"""Regeneration of the activation code with a recognised digital certificate (SPEC §3.6).

For a registered citizen who lost the code: the certificate proves who they are, a
confirmation (a CSRF-protected POST, so that a link cannot do it) issues a new code, shown
once. The old code stops working at once and the count of wrong entries starts again
(``citizens.regenerate_activation_code``, shared with ``idp citizen regenerate-code``).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from idp import citizens
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.flows import certificate_step
from idp.models import CitizenStatus

blueprint = Blueprint("activation_code", __name__, url_prefix="/activation-code")
blueprint.record_once(lambda state: certificate_step.init_app(state.app))
PAGE = "activation_code/regenerate.html"


@blueprint.route("/regenerate", methods=["GET", "POST"])
def regenerate():  # type: ignore[no-untyped-def]
    holder, refusal = certificate_step.holder_or_refusal(PAGE)
    if refusal is not None:
        return refusal
    assert holder is not None
    citizen = citizens.find(holder.document)
    if citizen is None or citizen.status == CitizenStatus.UNSUBSCRIBED:
        # Only the holder of this certificate learns that their document is not registered.
        record_event(EventTag.ACTIVATION_CODE_REGENERATION_REFUSED, reason="not_registered")
        return render_template(PAGE, problem="certificate_not_registered", holder=holder)
    if request.method == "GET":
        return render_template(PAGE, holder=holder)
    code = citizens.regenerate_activation_code(citizen, channel="certificate")
    return render_template("activation_code/done.html", holder=holder, code=code,
                           issued_at=clock.now(), email=citizen.email)
