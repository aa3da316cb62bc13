"""Cl@ve Firma: citizens sign documents in the cloud with their own key (issue 16)."""

from __future__ import annotations

from flask import Flask


def init_firma(app: Flask) -> None:
    """The relying parties' signature API (the citizen's pages are a flow)."""
    from idp.firma import api

    app.register_blueprint(api.blueprint)
