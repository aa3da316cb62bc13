"""Demo relying party: a small government web app that logs citizens in with Cl@ve.

It is an ordinary OpenID Connect client. It knows the identity provider only through its
discovery document and talks to it over HTTP, exactly as a third-party RP would.
"""
