"""``GET /firma/ca.crt`` and ``GET /firma/crl``: what any validator needs to trust a Cl@ve
Firma signature and to learn that a certificate was revoked. Both DER; the CRL is made
again only when it changed (``idp.firma.pki.current_crl``), never per request."""

from __future__ import annotations

from flask import Blueprint, Response

from idp.firma import pki

blueprint = Blueprint("firma", __name__, url_prefix="/firma")
CRL_MAX_AGE = 60  # seconds a cache may keep the CRL: a revocation is public within a minute


@blueprint.get("/ca.crt")
def ca_certificate() -> Response:
    response = Response(pki.authority().certificate_der, mimetype="application/pkix-cert")
    response.headers["Content-Disposition"] = 'attachment; filename="clave-firma-ca.crt"'
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@blueprint.get("/crl")
def crl() -> Response:
    response = Response(pki.current_crl(), mimetype="application/pkix-crl")
    response.headers["Content-Disposition"] = 'attachment; filename="clave-firma.crl"'
    response.cache_control.public = True
    response.cache_control.max_age = CRL_MAX_AGE
    return response
