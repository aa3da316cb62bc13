"""Faults: a server killed mid-flow loses nothing, and a down SMS gateway leaves no half state."""

from __future__ import annotations

import signal

import pytest
import requests

from idp.extensions import db
from idp.models import OtpCode
from idp.sms import latest_code
from tests.factories import make_citizen, make_client, new_dni
from tests.support.browser import AuthorizationAttempt, shows_message, submit
from tests.support.live import active_citizen, authorize, create_client, form_post, free_port, start_idp

PASSWORD = "Caida-Brusca-2026!"


@pytest.mark.xdist_group("faults")
def test_a_server_killed_mid_login_is_replaced_and_the_login_completes(tmp_path):
    first = start_idp(tmp_path)
    try:
        document = new_dni()
        active_citizen(first, document, PASSWORD)
        browser = requests.Session()
        page = authorize(browser, first, create_client(first)["client_id"])
        otp_page = form_post(browser, page, f"{first.url}/login", document=document, password=PASSWORD)
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)  # workers die with their master
        first.process.wait(timeout=10)
        second = start_idp(first.base, share_with=first)
    except BaseException:
        first.stop()
        raise
    try:
        consent = form_post(browser, otp_page, f"{second.url}/login/otp",
                            otp=latest_code(second.sms_file))
        answer = form_post(browser, consent, f"{second.url}/consent", follow=False, decision="allow")
        assert "code=" in answer.headers["Location"]
        shown = second.cli_json("citizen", "show", document)
        assert shown["status"] == "active" and shown["password_failures"] == 0
    finally:
        second.stop()
        first.stop()  # the killed node's database goes last


def test_sms_gateway_down_gives_try_again_and_sends_no_code(template_dir, tmp_path):
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    settings = {"IDP_SMS_BACKEND": "http", "IDP_SMS_HTTP_URL": f"http://127.0.0.1:{free_port()}/sms",
                "IDP_SMS_HTTP_TIMEOUT": 0.5}
    server, twin = build_app(tmp_path, **settings), build_app(tmp_path, **settings)
    with twin.test_request_context():
        person = make_citizen(document=new_dni())
        rp = make_client(default_acr="http://eidas.europa.eu/LoA/substantial")
        browser = server.test_client()
        page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
        waiting = submit(browser, page, "/login", document=person.document, password=person.password)
        assert waiting.status_code == 400 and shows_message(waiting, "sms_unavailable")
        assert db.session.scalar(db.select(db.func.count()).select_from(OtpCode)) == 0
        resend = submit(browser, waiting, "/login/otp", action="resend")
        assert shows_message(resend, "sms_unavailable")
    for application in (server, twin):
        with application.app_context():
            db.engine.dispose()
