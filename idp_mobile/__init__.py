"""idp-mobile: the reference Cl@ve mobile client, a stand-in for the phone app.

It talks to the IdP only over HTTP, through the versioned API ``/api/mobile/v1``.
"""
