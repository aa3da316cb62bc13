"""The SMS gateway interface and its backends (SPEC §3, "SMS OTP").

The OTP lifecycle only ever talks to an ``SmsGateway``; which backend answers is chosen once,
from ``IDP_SMS_BACKEND``, by ``gateway_from_settings``. Every backend either hands the message
over or raises ``SmsDeliveryError``, so the caller can tell the citizen to try again without
leaving a half-sent code behind.

No Flask here: the gateways are plain services, usable from the CLI, tests and the demo alike.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from idp.clock import clock
from idp.files import PRIVATE_FILE, private_dir, tighten

if TYPE_CHECKING:
    import requests

# A "run of 6 digits" is exactly six digits not touching another digit, so a longer number
# in the text (a phone number, a reference) is never taken for the code.
_CODE_RUN = re.compile(r"(?<!\d)\d{6}(?!\d)")


class SmsGateway(Protocol):
    def send(self, to: str, text: str) -> None:
        """Hand ``text`` over for delivery to ``to`` or raise ``SmsDeliveryError``."""


class SmsDeliveryError(Exception):
    """The backend could not hand the message over; nothing was sent.

    Messages of this error never contain the SMS text, which holds a one-time code.
    """


class ConsoleSms:
    """Development-only backend: prints the whole message, code included, to stderr.

    In development the console is how the developer reads the code, so the code must be
    visible there. That is exactly why this backend writes straight to ``sys.stderr`` and
    logs nothing through ``logging``: structured or shipped production logs must never hold a
    one-time code. Never configure it in production.
    """

    def send(self, to: str, text: str) -> None:
        # sys.stderr is looked up on each call so a redirected stream (pytest's capsys,
        # a supervisor) receives the message.
        print(f"[SMS to {to}] {text}", file=sys.stderr, flush=True)


class FileSms:
    """Appends one JSON object per line: ``{"to": …, "text": …, "sent_at": "…Z"}``.

    Used by tests and the demo to read the codes the IdP sent. Several workers (server
    processes, test threads) may append at once, so each line goes out in a single
    ``O_APPEND`` write under an exclusive ``flock``: readers only ever see whole lines.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        tighten(self.path)  # live one-time codes: the owner's alone, even if an older start made it

    def send(self, to: str, text: str) -> None:
        sent_at = clock.now().isoformat(timespec="seconds") + "Z"
        line = json.dumps({"to": to, "text": text, "sent_at": sent_at}, ensure_ascii=False)
        data = (line + "\n").encode("utf-8")
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    written = os.write(fd, data)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        except OSError as exc:
            raise SmsDeliveryError(f"could not append to SMS file {self.path}: {exc}") from exc
        if written != len(data):
            raise SmsDeliveryError(f"short write to SMS file {self.path}")


class HttpSms:
    """POSTs ``{"to": …, "text": …}`` as JSON to a real SMS gateway.

    Anything but a 2xx answer within ``timeout`` seconds counts as not delivered: a gateway
    that is down must show the citizen "try again", not hang the login page. Redirects are
    not followed, since a gateway that redirects a POST has not accepted the message.

    Pass a shared ``requests.Session`` to reuse connections; without one each message uses
    a short-lived connection that is closed at once.
    """

    def __init__(
        self,
        url: str,
        token: str = "",
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        # Loaded here, when the gateway is configured, not with the module: requests and
        # urllib3 are about 5 MB of each worker's memory, which the other backends never use.
        import requests

        self.http = requests
        self.url = url
        self.token = token
        self.timeout = timeout
        self.session = session

    def send(self, to: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        post = self.session.post if self.session is not None else self.http.post
        try:
            response = post(
                self.url,
                json={"to": to, "text": text},
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except self.http.Timeout as exc:
            raise SmsDeliveryError(f"SMS gateway timed out after {self.timeout}s") from exc
        except self.http.RequestException as exc:
            raise SmsDeliveryError(f"SMS gateway unreachable ({type(exc).__name__})") from exc
        with response:
            if not 200 <= response.status_code < 300:
                raise SmsDeliveryError(f"SMS gateway answered HTTP {response.status_code}")


def gateway_from_settings(
    backend: str,
    *,
    http_url: str = "",
    http_token: str = "",
    http_timeout: float = 5.0,
) -> SmsGateway:
    """Build the gateway ``IDP_SMS_BACKEND`` names, refusing anything else at start-up.

    A misspelt backend must stop the IdP from starting rather than silently drop codes.
    """
    if backend == "console":
        return ConsoleSms()
    if backend.startswith("file:"):
        path = backend.removeprefix("file:")
        if not path:
            raise ValueError(
                "IDP_SMS_BACKEND 'file:PATH' needs a path, e.g. 'file:instance/sms.jsonl'"
            )
        return FileSms(path)
    if backend == "http":
        if not http_url:
            raise ValueError("IDP_SMS_BACKEND 'http' needs IDP_SMS_HTTP_URL")
        return HttpSms(http_url, token=http_token, timeout=http_timeout)
    raise ValueError(
        f"unknown IDP_SMS_BACKEND {backend!r}: expected 'console', 'file:PATH' or 'http'"
    )


def read_sms_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every message the file backend wrote, oldest first; none if nothing was sent yet."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def latest_code(path: str | os.PathLike[str], to: str | None = None) -> str | None:
    """The code in the newest message (to ``to`` if given), or None if there is none.

    The format promises the code is the only run of 6 digits in the text; a message that
    breaks that promise raises ``ValueError`` rather than guessing.
    """
    messages = [m for m in read_sms_file(path) if to is None or m["to"] == to]
    if not messages:
        return None
    runs = _CODE_RUN.findall(messages[-1]["text"])
    if len(runs) != 1:
        raise ValueError(f"expected exactly one 6-digit code in the SMS, found {len(runs)}")
    return runs[0]
