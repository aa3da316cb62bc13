"""The reference phone app, ``idp-mobile``, run as a citizen's phone against a live IdP."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

from idp.sms import latest_code
from tests.factories import new_dni
from tests.support.live import BIN, LiveIdp, active_citizen

_CODE_SHOWN = re.compile(r'class="verification-code"[^>]*>(\d+)<')
_QR = re.compile(r'data-challenge="([^"]+)".*?class="qr" src="([^"]+)"', re.DOTALL)


def code_shown_in(html: str) -> str:
    """The code a page tells the citizen to type in the app (number matching)."""
    found = _CODE_SHOWN.search(html)
    assert found, "the page shows no code to type in the app"
    return found.group(1)


def qr_shown_on(browser: requests.Session, page: requests.Response) -> str:
    """The id of the QR challenge a login page shows, once the browser has loaded its image
    (whose first request stores the challenge the page drafted)."""
    found = _QR.search(page.text)
    assert found, "the page shows no QR code"
    assert browser.get(urljoin(page.url, found.group(2)), timeout=10).status_code == 200
    return found.group(1)


def mobile(state: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run ``idp-mobile`` with the device kept in ``state``."""
    return subprocess.run([str(BIN / "idp-mobile"), "--state", str(state), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def enroll(idp: LiveIdp, state: Path, document: str, password: str) -> None:
    """``idp-mobile enroll``: DNI/NIE and password, then the SMS code typed at its prompt."""
    before = latest_code(idp.sms_file)  # read first: the enrollment's SMS may come at once
    process = subprocess.Popen(
        [str(BIN / "idp-mobile"), "--state", str(state), "enroll", "--issuer", idp.url,
         "--document", document, "--password", password],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The SMS arrives after the credentials were accepted; then the code is typed in.
    code = wait_for_new_code(idp, before=before)
    _, err = process.communicate(code + "\n", timeout=60)
    assert process.returncode == 0, err


def enrolled_citizen(idp: LiveIdp, folder: Path, password: str) -> tuple[str, Path]:
    """An active citizen with an enrolled phone: (their document, the phone's state file)."""
    document = new_dni()
    active_citizen(idp, document, password)
    state = folder / f"device-{document}.json"
    enroll(idp, state, document, password)
    return document, state


def wait_for_new_code(idp: LiveIdp, before: str | None) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code = latest_code(idp.sms_file)
        if code and code != before:
            return code
        time.sleep(0.05)
    raise TimeoutError("no SMS code")
