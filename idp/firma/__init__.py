"""Cl@ve Firma: citizens sign documents in the cloud with a key of their own that never
leaves the server (SPEC §10).

This package is the signing core; the relying parties' API and the citizen's pages are
built on top of it and reach it only through these modules:

* ``identity`` — ``SignerIdentity`` and ``signer_identity(citizen)``: the one place that
  reads the identity model. Everything else here knows a signer only by that value.
* ``signer`` — ``inspect_pdf`` (refuses what cannot be signed, with a message key),
  ``sign_pdf`` (PAdES) and ``sign_digest`` (detached CAdES).
* ``pki`` — the citizen's key and certificate (made on first use, sealed at rest) and
  ``revoke_citizen_certificates``, called wherever the credential ends.
* ``ca`` — the deployment's Cl@ve Firma CA (made by ``idp init``) and its CRL;
  ``web`` publishes both at ``/firma/ca.crt`` and ``/firma/crl``.

On top of it, the service the relying parties and citizens use:

* ``signature_requests`` — what an RP asked to have signed, decided once, downloaded once;
* ``submission`` and ``api`` — the RP API ``/api/signature/v1`` (``openapi.json``), whose
  clients authenticate through ``idp.oidc.client_auth``, its one door to the protocol;
* ``decisions`` — signing (or refusing) a request for the citizen who authorised it; the
  citizen's pages are a flow, ``idp.flows.signature``.

Nothing here commits: it runs in the caller's unit of work (``idp.unit_of_work``).
"""

from __future__ import annotations

from flask import Flask


def init_firma(app: Flask) -> None:
    """Publish the CA certificate and its CRL; serve the relying parties' API."""
    from idp import web as pages
    from idp.firma import api, web

    app.register_blueprint(web.blueprint)
    app.register_blueprint(api.blueprint)
    pages.allow_large_body(app, "signature_api.create_request", "IDP_FIRMA_MAX_PDF_BYTES")
