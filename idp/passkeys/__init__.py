"""Passkeys (WebAuthn): a phishing-resistant way to log in, enrolled from the account page.

``ceremonies`` runs the WebAuthn registration and authentication with py_webauthn;
``store`` keeps each citizen's passkeys (at most ``MAX_PASSKEYS``), their names, sign
counters and backup flags, and revokes them.
"""
