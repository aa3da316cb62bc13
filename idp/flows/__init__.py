"""Citizen flows: one module (blueprint) per flow; views parse, call steps and render."""

from __future__ import annotations

from flask import Flask


def register_flows(app: Flask) -> None:
    from idp.flows import activation, consent, home, login, mobile
    from idp.mobile import api as mobile_api

    for module in (home, login, activation, consent, mobile, mobile_api):
        app.register_blueprint(module.blueprint)
