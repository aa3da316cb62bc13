"""pyHanko (about 14 MB) is loaded by a worker when it first inspects or signs a document,
not with the app: a worker that never signs stays within issue 14's 120 MB."""

from __future__ import annotations

import subprocess
import sys

LOADED = """
import sys
from idp import create_app

app = create_app(IDP_DATABASE_URL="sqlite://", IDP_KEYS_DIR=sys.argv[1], IDP_SECRET_KEY="x" * 32)
print("before", sorted(m for m in ("pyhanko", "pyhanko_certvalidator") if m in sys.modules))
with app.app_context():
    from idp.firma.signer import DocumentRefused, inspect_pdf
    try:
        inspect_pdf(b"%PDF-1.7 not really")
    except DocumentRefused:
        pass
print("after", sorted(m for m in ("pyhanko", "pyhanko_certvalidator") if m in sys.modules))
"""


def test_the_app_loads_pyhanko_only_when_a_document_is_inspected(tmp_path):
    run = subprocess.run([sys.executable, "-c", LOADED, str(tmp_path / "keys")], capture_output=True,
                         text=True, timeout=60, check=True)
    assert run.stdout.splitlines() == [
        "before []", "after ['pyhanko', 'pyhanko_certvalidator']"], run.stdout + run.stderr
