"""Citizen flows: one module (blueprint) per flow; views parse, call steps and render."""

from __future__ import annotations

from flask import Flask


def register_flows(app: Flask) -> None:
    from idp import sessions, web
    from idp.flows import (
        account,
        activation,
        activation_code,
        consent,
        home,
        login,
        mobile,
        passkey,
        password_change,
        password_reset,
        registration,
        signature,
        unsubscribe,
    )
    from idp.mobile import api as mobile_api
    from idp.oidc import interaction

    for module in (home, login, activation, consent, mobile, mobile_api, passkey, password_change,
                   password_reset, unsubscribe, account, registration, activation_code, signature):
        app.register_blueprint(module.blueprint)
    # The pages that answer what a pending authorization request asks of the citizen.
    interaction.register_pages(app, login="login.start", step_up="login.start",
                               consent="consent.show", shown_at_once={"login": login.render_login})
    sessions.keep_across_logins(app, login.AFTER_LOGIN)
    web.allow_large_body(app, "signature.own", "IDP_FIRMA_MAX_PDF_BYTES")
