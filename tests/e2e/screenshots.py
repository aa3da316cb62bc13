"""``make screenshots``: every stop of the page tour (tests/e2e/tour.py), photographed by
headless Chromium on a desktop (1280 px) and a phone (360 px), in Spanish and English, into
``docs/screenshots/<language>/<desktop|phone>/<stop>.png``.

The servers are the tests' own (a live IdP, two demo RPs, a test CA): nothing is
configured by hand and nothing outside the output folder is written.
"""

from __future__ import annotations

import argparse
import base64
import io
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.e2e import tour
from tests.e2e.conftest import BROWSER_PREFERENCES, CHROMIUM_ARGUMENTS
from tests.support.live import start_demo_rp, start_idp
from tests.support.pki import make_authority

WIDTHS = {"desktop": 1280, "phone": 360}
LANGUAGES = ("es", "en")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/screenshots"))
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory(prefix="idp-screenshots-") as scratch:
        base = Path(scratch)
        authority = make_authority()
        (base / "cas.pem").write_bytes(authority.pem())
        idp = start_idp(_folder(base / "idp"), IDP_OTP_RESEND_INTERVAL="0",
                        IDP_TRUSTED_CA_FILE=str(base / "cas.pem"), IDP_TRUSTED_PROXIES="127.0.0.1")
        servers = [idp]
        try:
            rp = start_demo_rp(_folder(base / "rp"), idp)
            servers.append(rp)
            low_rp = start_demo_rp(_folder(base / "low-rp"), idp, name="Biblioteca Municipal",
                                   default_acr="http://eidas.europa.eu/LoA/low")
            servers.append(low_rp)
            stops = tour.Stops(idp, rp, low_rp, authority)
            for language in LANGUAGES:
                for device, width in WIDTHS.items():
                    folder = out / language / device
                    shutil.rmtree(folder, ignore_errors=True)
                    folder.mkdir(parents=True)
                    _photograph(stops, language, width, folder, base / f"profile-{language}-{device}")
                    print(f"{folder}: {len(list(folder.glob('*.png')))} pages")
        finally:
            for server in reversed(servers):
                server.stop()
    return 0


def _photograph(stops: tour.Stops, language: str, width: int, folder: Path, profile: Path) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}", "--hide-scrollbars"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", BROWSER_PREFERENCES)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"),
                              options=options)
    try:
        driver.set_window_size(width, 900)
        for stop, _template in tour.walk(driver, stops, language):
            shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                          {"format": "png", "captureBeyondViewport": True})
            _save_small(base64.b64decode(shot["data"]), folder / f"{stop}.png")
    finally:
        driver.quit()


def _save_small(png: bytes, path: Path) -> None:
    """A page is text on a few flat colours: a 32-colour palette keeps it sharp and makes
    the file several times smaller (the screenshots live in the repository)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=32, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
