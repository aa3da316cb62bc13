"""py_webauthn (about 5 MB with what it imports) is loaded by a worker when it first meets a
passkey, not with the app: a worker that serves passwords and tokens stays within issue 14's
120 MB."""

from __future__ import annotations

import subprocess
import sys

LOADED = """
import sys
from idp import create_app

app = create_app(IDP_DATABASE_URL="sqlite://", IDP_KEYS_DIR=sys.argv[1], IDP_SECRET_KEY="x" * 32)
print("before", sorted(m for m in ("webauthn", "cbor2") if m in sys.modules))
with app.test_request_context("/passkey/options", method="POST"):
    from idp.passkeys import ceremonies
    ceremonies.authentication_options()
print("after", sorted(m for m in ("webauthn", "cbor2") if m in sys.modules))
"""


def test_the_app_loads_webauthn_only_when_a_passkey_ceremony_starts(tmp_path):
    run = subprocess.run([sys.executable, "-c", LOADED, str(tmp_path / "keys")], capture_output=True,
                         text=True, timeout=60, check=True)
    assert run.stdout.splitlines() == ["before []", "after ['cbor2', 'webauthn']"], run.stdout + run.stderr
