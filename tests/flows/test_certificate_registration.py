"""Registration act and activation-code regeneration with a recognised digital certificate,
through the real forms, the certificate arriving as the TLS terminator passes it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, Citizen, CitizenStatus
from tests.conftest import build_app, prepare_files
from tests.factories import make_citizen
from tests.support.browser import csrf_token, is_sms_page, shows_message, submit
from tests.support.pki import Authority, escaped, make_authority

PROXY = "10.1.2.3"
STRANGER = "203.0.113.9"
HEADER = "HTTP_X_SSL_CLIENT_CERT"
DOCUMENT = "12345678Z"
DETAILS = {"email": "Maria@Example.org", "phone": "+34 600 222 333", "contrast_data": "01012031"}
REGISTER, REGENERATE = "/register/certificate", "/activation-code/regenerate"


@pytest.fixture
def authority() -> Authority:
    return make_authority()


@pytest.fixture
def app(template_dir, tmp_path, authority):  # type: ignore[no-untyped-def]
    """The server trusting ``authority`` and certificates passed by the proxies of
    10.1.2.0/24; the test body runs in a twin app's context, as in tests/conftest.py."""
    ca_file = tmp_path / "trusted-cas.pem"
    ca_file.write_bytes(authority.pem())
    prepare_files(template_dir, tmp_path)
    overrides = {"IDP_TRUSTED_CA_FILE": str(ca_file), "IDP_TRUSTED_PROXIES": "10.1.2.0/24"}
    server, twin = build_app(tmp_path, **overrides), build_app(tmp_path, **overrides)
    with twin.test_request_context():
        yield server


def presenting(browser: FlaskClient, certificate_header: str | None, peer: str = PROXY) -> FlaskClient:
    """Every request of ``browser`` now comes from ``peer`` with that header value."""
    browser.environ_base["REMOTE_ADDR"] = peer
    if certificate_header is None:
        browser.environ_base.pop(HEADER, None)
    else:
        browser.environ_base[HEADER] = certificate_header
    return browser


def register(browser: FlaskClient, **fields: str) -> TestResponse:
    return submit(browser, browser.get(REGISTER), REGISTER, **{**DETAILS, **fields})


def citizen_of(document: str = DOCUMENT) -> Citizen | None:
    db.session.expire_all()
    return db.session.scalar(db.select(Citizen).filter_by(document=document))


def tags() -> list[str]:
    return list(db.session.scalars(db.select(AuditEvent.tag).order_by(AuditEvent.id)))


def shown_code(response: TestResponse) -> str:
    groups = re.findall(r'<span class="code-group">([A-Z0-9]{4})</span>', response.get_data(as_text=True))
    assert len(groups) == 4, response.get_data(as_text=True)
    return "-".join(groups)


def activate(browser: FlaskClient, document: str, email: str, code: str) -> TestResponse:
    return submit(browser, browser.get("/activate"), "/activate", document=document, email=email,
                  activation_code=code)


# -- registration ----------------------------------------------------------------------

def test_a_citizen_registers_with_a_certificate_and_gets_a_working_activation_code(app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    page = browser.get(REGISTER)
    assert "GARCÍA" in page.get_data(as_text=True) and DOCUMENT in page.get_data(as_text=True)
    done = register(browser)
    assert done.status_code == 200 and shows_message(done, "certificate_registered")
    assert done.headers["Cache-Control"] == "no-store"
    citizen = citizen_of()
    assert citizen.status == CitizenStatus.REGISTERED
    assert (citizen.given_name, citizen.first_surname, citizen.second_surname) == ("MARÍA", "GARCÍA", "LÓPEZ")
    assert (citizen.email, citizen.phone) == ("maria@example.org", "+34600222333")
    assert tags()[-1] == "registration"
    started = activate(app.test_client(), DOCUMENT, "maria@example.org", shown_code(done))
    assert is_sms_page(started, "/activate/otp")


def test_the_receipt_prints_from_a_stylesheet_and_its_print_button_is_only_an_enhancement(
        app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    html = register(browser).get_data(as_text=True)
    assert "receipt.css" in html and "receipt.js" in html
    assert "<style" not in html and " style=" not in html and "<script>" not in html
    assert re.search(r"<button[^>]*data-print[^>]*hidden", html)
    css = app.test_client().get("/static/receipt.css")
    assert "@media print" in css.get_data(as_text=True)
    css.close()


def test_the_receipt_gives_the_issuers_activation_address_whatever_the_host_header(
        app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    foreign = {"Host": "idp.attacker.example"}
    page = browser.get(REGISTER, headers=foreign)
    done = browser.post(REGISTER, headers=foreign, data={**DETAILS, "csrf_token": csrf_token(
        page.get_data(as_text=True))})
    html = done.get_data(as_text=True)
    assert shows_message(done, "certificate_registered")
    assert f"{app.config['IDP_ISSUER']}/activate" in html and "attacker" not in html


def test_the_code_is_shown_once_a_second_visit_says_already_registered(app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    register(browser)
    again = browser.get(REGISTER)
    assert shows_message(again, "certificate_already_registered")
    assert 'class="code-group"' not in again.get_data(as_text=True)


REFUSED = {
    "certificate_expired": lambda ca: ca.issue(not_before=clock.now() - timedelta(days=400),
                                               not_after=clock.now() - timedelta(days=1)),
    "certificate_not_yet_valid": lambda ca: ca.issue(not_before=clock.now() + timedelta(days=1)),
    "certificate_untrusted": lambda ca: make_authority("AC Desconocida").issue(),
    "certificate_wrong_usage": lambda ca: ca.issue(digital_signature=False),
    "certificate_no_document": lambda ca: ca.issue(serial_number="IDCES-12345678A"),
}


@pytest.mark.parametrize("reason", list(REFUSED))
def test_a_refused_certificate_says_why_and_registers_nothing(app, browser, authority, reason):
    presenting(browser, escaped(REFUSED[reason](authority)))
    page = browser.get(REGISTER)
    assert page.status_code == 400 and shows_message(page, reason)
    posted = submit(browser, page, REGISTER, **DETAILS)
    assert posted.status_code == 400 and shows_message(posted, reason)
    assert citizen_of() is None
    event = db.session.scalars(db.select(AuditEvent).filter_by(tag="certificate_refused")).first()
    assert event.detail["reason"] == reason


def test_a_malformed_pem_is_refused_as_unreadable(app, browser):
    presenting(browser, "-----BEGIN%20CERTIFICATE-----%0Agarbage%0A-----END%20CERTIFICATE-----%0A")
    assert shows_message(browser.get(REGISTER), "certificate_malformed")
    assert citizen_of() is None


def test_a_certificate_header_from_an_untrusted_address_counts_as_no_certificate(app, browser, authority):
    presenting(browser, escaped(authority.issue()), peer=STRANGER)
    page = browser.get(REGISTER)
    assert shows_message(page, "certificate_missing") and "GARCÍA" not in page.get_data(as_text=True)
    posted = submit(browser, page, REGISTER, **DETAILS)
    assert posted.status_code == 400 and shows_message(posted, "certificate_missing")
    assert citizen_of() is None
    event = db.session.scalars(db.select(AuditEvent).filter_by(tag="certificate_refused")).first()
    assert event.detail == {"reason": "untrusted_source", "peer": STRANGER}


def test_behind_proxyfix_the_direct_peer_decides_not_a_forwarded_address(app, authority, tmp_path):
    overrides = {"IDP_TRUSTED_CA_FILE": app.config["IDP_TRUSTED_CA_FILE"],
                 "IDP_TRUSTED_PROXIES": "10.1.2.0/24", "IDP_PROXY_COUNT": 1}
    behind_proxy = build_app(tmp_path, **overrides).test_client()
    header = escaped(authority.issue())
    spoofed = presenting(behind_proxy, header, peer=STRANGER).get(
        REGISTER, headers={"X-Forwarded-For": PROXY})
    assert shows_message(spoofed, "certificate_missing")
    genuine = presenting(behind_proxy, header, peer=PROXY).get(
        REGISTER, headers={"X-Forwarded-For": "198.51.100.7"})
    assert "GARCÍA" in genuine.get_data(as_text=True)


def test_without_a_certificate_the_page_explains_how_to_present_one(app, browser):
    page = browser.get(REGISTER)
    assert page.status_code == 200 and shows_message(page, "certificate_missing")
    assert 'name="email"' not in page.get_data(as_text=True)


def test_an_already_registered_document_registers_nothing_new_and_says_so(app, browser, authority):
    person = make_citizen(document=DOCUMENT)
    before = (person.citizen.activation_code_hash, person.citizen.email, person.citizen.password_hash)
    presenting(browser, escaped(authority.issue()))
    page = browser.get(REGISTER)
    assert shows_message(page, "certificate_already_registered")
    assert 'name="email"' not in page.get_data(as_text=True)
    posted = submit(browser, page, REGISTER, **DETAILS)
    assert shows_message(posted, "certificate_already_registered")
    citizen = citizen_of()
    assert (citizen.activation_code_hash, citizen.email, citizen.password_hash) == before
    assert "registration_refused" in tags()


def test_an_unsubscribed_citizen_can_register_again_with_a_certificate(app, browser, authority):
    person = make_citizen(document=DOCUMENT)
    person.citizen.status = CitizenStatus.UNSUBSCRIBED
    db.session.commit()
    presenting(browser, escaped(authority.issue()))
    done = register(browser)
    assert shows_message(done, "certificate_registered")
    assert citizen_of().status == CitizenStatus.REGISTERED


def test_the_citizens_details_are_checked_field_by_field(app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    refused = register(browser, email="not-an-email", phone="600 222 333", contrast_data="")
    assert refused.status_code == 400
    for key in ("email_invalid", "phone_invalid", "field_required"):
        assert shows_message(refused, key), key
    assert citizen_of() is None


def test_a_registration_form_without_its_csrf_token_registers_nothing(app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    browser.get(REGISTER)
    refused = browser.post(REGISTER, data=DETAILS)
    assert refused.status_code == 400 and shows_message(refused, "csrf_failed")
    assert citizen_of() is None


# -- regeneration ------------------------------------------------------------------------

def regenerate(browser: FlaskClient) -> TestResponse:
    return submit(browser, browser.get(REGENERATE), REGENERATE)


def test_regeneration_stops_the_old_code_at_once_and_the_new_one_works(app, browser, authority):
    person = make_citizen(document=DOCUMENT, active=False)
    presenting(browser, escaped(authority.issue()))
    done = regenerate(browser)
    assert done.status_code == 200 and shows_message(done, "activation_code_regenerated")
    new_code = shown_code(done)
    citizen = app.test_client()
    assert shows_message(activate(citizen, DOCUMENT, person.citizen.email, person.activation_code),
                         "activation_failed")
    assert is_sms_page(activate(citizen, DOCUMENT, person.citizen.email, new_code), "/activate/otp")
    event = db.session.scalars(db.select(AuditEvent).filter_by(tag="activation_code_regenerated")).one()
    assert event.detail == {"channel": "certificate"}


def test_regeneration_resets_the_wrong_entry_counter_and_unblocks_the_code(app, browser, authority):
    person = make_citizen(document=DOCUMENT, active=False)
    for _ in range(5):
        activate(app.test_client(), DOCUMENT, person.citizen.email, "AAAA-AAAA-AAAA-AAAA")
    assert citizen_of().activation_code_blocked
    presenting(browser, escaped(authority.issue()))
    new_code = shown_code(regenerate(browser))
    citizen = citizen_of()
    assert (citizen.activation_failures, citizen.activation_code_blocked) == (0, False)
    assert is_sms_page(activate(app.test_client(), DOCUMENT, person.citizen.email, new_code),
                       "/activate/otp")


def test_opening_the_regeneration_page_changes_nothing_until_confirmed(app, browser, authority):
    person = make_citizen(document=DOCUMENT)
    presenting(browser, escaped(authority.issue()))
    page = browser.get(REGENERATE)
    assert page.status_code == 200 and 'class="code-group"' not in page.get_data(as_text=True)
    assert citizen_of().activation_code_hash == person.citizen.activation_code_hash


def test_regeneration_for_an_unregistered_document_says_so_and_creates_nothing(app, browser, authority):
    presenting(browser, escaped(authority.issue()))
    page = browser.get(REGENERATE)
    assert shows_message(page, "certificate_not_registered")
    assert shows_message(submit(browser, page, REGENERATE), "certificate_not_registered")
    assert citizen_of() is None
    assert "activation_code_regeneration_refused" in tags()


def test_regeneration_with_a_refused_certificate_keeps_the_old_code(app, browser, authority):
    person = make_citizen(document=DOCUMENT)
    presenting(browser, escaped(make_authority("AC Desconocida").issue()))
    page = browser.get(REGENERATE)
    assert shows_message(page, "certificate_untrusted")
    assert submit(browser, page, REGENERATE).status_code == 400
    assert citizen_of().activation_code_hash == person.citizen.activation_code_hash


def test_home_login_and_footer_link_to_both_certificate_services(app, browser):
    for page in ("/", "/login"):
        main = re.search(r"<main.*?</main>", browser.get(page).get_data(as_text=True), re.S).group(0)
        assert REGISTER in main and REGENERATE in main, page
    footer = re.search(r"<footer.*?</footer>", browser.get("/").get_data(as_text=True), re.S).group(0)
    assert REGISTER in footer and REGENERATE in footer


def test_no_header_value_and_no_form_makes_the_certificate_pages_answer_500(app, browser, authority):
    text = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=255), max_size=300)
    valid = escaped(authority.issue())
    page = presenting(browser, valid).get(REGISTER)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.one_of(text, st.just(valid)), st.dictionaries(st.sampled_from(list(DETAILS)), text))
    def check(header, form):  # type: ignore[no-untyped-def]
        presenting(browser, header)
        for url in (REGISTER, REGENERATE):
            assert browser.get(url).status_code < 500
        posted = submit(browser, page, REGISTER, **form)
        assert posted.status_code < 500, posted.get_data(as_text=True)[:500]

    check()
