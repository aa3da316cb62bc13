"""One module per protocol endpoint, all on the ``oidc`` blueprint (no CSRF: clients
authenticate themselves; the browser-facing forms live in ``idp.flows``)."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Blueprint

from idp import transport

blueprint = Blueprint("oidc", __name__)
transport.require_https(blueprint)  # but the public documents (discovery.py)


def register_endpoints(server: AuthorizationServer) -> None:
    from idp.oidc.endpoints import (  # noqa: F401 - importing registers the routes
        authorization,
        discovery,
        end_session,
        introspection,
        revocation,
        token,
        userinfo,
    )

    server.register_endpoint(revocation.Revocation)
    server.register_endpoint(introspection.Introspection)
    server.register_endpoint(userinfo.userinfo_endpoint())
    server.register_endpoint(end_session.EndSession)

