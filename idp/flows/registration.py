"""Online registration act with a recognised digital certificate (SPEC §3.1b).

The certificate proves the document and the names; the citizen adds the e-mail, the mobile
phone and the contrast data that the other flows need. The page and its form are re-read
from the certificate on every request (the browser presents it on each TLS connection), so
no state is kept between them. The activation code is shown once, on the answer to the
form, and is stored only as a keyed hash.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy.exc import IntegrityError

from idp import citizens
from idp.audit import EventTag, record_event
from idp.certificates import CertificateIdentity
from idp.clock import clock
from idp.extensions import db
from idp.flows import certificate_step, forms
from idp.models import CitizenStatus
from idp.registration import RegistrationError, normalise_phone, validate_registration

blueprint = Blueprint("registration", __name__, url_prefix="/register")
blueprint.record_once(lambda state: certificate_step.init_app(state.app))
PAGE = "registration/certificate.html"


@blueprint.route("/certificate", methods=["GET", "POST"])
def certificate():  # type: ignore[no-untyped-def]
    holder, refusal = certificate_step.holder_or_refusal(PAGE)
    if refusal is not None:
        return refusal
    assert holder is not None
    if _already_registered(holder):
        return render_template(PAGE, problem="certificate_already_registered", holder=holder)
    errors = forms.FormErrors()
    if request.method == "GET":
        return render_template(PAGE, holder=holder, errors=errors, form={})
    clean = _details(errors)
    if errors:
        form = {"email": request.form.get("email", "")[:254], "phone": request.form.get("phone", "")[:32]}
        return render_template(PAGE, holder=holder, errors=errors, form=form), 400
    try:
        clean = validate_registration(
            given_name=holder.given_name, first_surname=holder.first_surname,
            second_surname=holder.second_surname, **clean)
    except RegistrationError:  # only the names can still fail, and they are the certificate's
        return render_template(PAGE, problem="certificate_no_document"), 400
    try:
        registration = citizens.register(holder.document, channel="certificate", **clean)
    except (citizens.AlreadyRegistered, IntegrityError):  # the same certificate, in another tab
        db.session.rollback()
        return render_template(PAGE, problem="certificate_already_registered", holder=holder)
    return render_template("registration/done.html", holder=holder,
                           code=registration.activation_code, issued_at=clock.now(),
                           email=registration.citizen.email)


def _already_registered(holder: CertificateIdentity) -> bool:
    """A registered or active Cl@ve stays as it is: a second registration act would
    replace its activation code behind the citizen's back (regeneration is its own
    service). An unsubscribed citizen may register again."""
    found = citizens.find(holder.document)
    if found is None or found.status == CitizenStatus.UNSUBSCRIBED:
        return False
    record_event(EventTag.REGISTRATION_REFUSED, found, reason="already_registered",
                 channel="certificate")
    return True


def _details(errors: forms.FormErrors) -> dict[str, str]:
    """What the citizen typed, checked field by field so that the form says what is wrong;
    ``validate_registration`` then applies the registration act's own rules."""
    email = forms.email(errors)
    phone = forms.text("phone", errors)
    if phone and not errors.get("phone"):
        try:
            phone = normalise_phone(phone)
        except RegistrationError:
            errors.add("phone", "phone_invalid")
    return {"email": email, "phone": phone, "contrast_data": forms.text("contrast_data", errors)}
