"""``idp-mobile``: the reference Cl@ve mobile client, the phone's stand-in in demos and tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from idp_mobile.client import MobileClient, MobileError, decode_qr_image, parse_challenge_link
from idp_mobile.device import DeviceKey

DEFAULT_STATE = Path(os.environ.get("IDP_MOBILE_STATE", "~/.config/idp-mobile/device.json")).expanduser()


def _load(state: Path) -> tuple[DeviceKey, MobileClient]:
    if not state.exists():
        raise click.ClickException(f"No enrolled device in {state}: run 'idp-mobile enroll' first.")
    device = DeviceKey.load(state)
    assert device.issuer
    return device, MobileClient.for_issuer(device.issuer)


def _show(data: Any, as_json: bool, lines: list[str]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else "\n".join(lines))


# Number matching stops blind approvals, not a phishing page relaying a real login: the
# origin shown above and this warning are what the citizen can still check.
APPROVE_ONLY_IF = ("Approve only if you started this login yourself, just now, from that address"
                   " and browser; if someone asked you to approve it or to tell them a code, deny it.")


def _describe(challenge: dict[str, Any]) -> list[str]:
    origin = challenge.get("origin") or {}
    device = " on ".join(part for part in (origin.get("browser"), origin.get("system")) if part)
    document = challenge.get("document")
    asked = ([f"  Sign document:  {document.get('name')}", f"  SHA-256:        {document.get('sha256')}"]
             if isinstance(document, dict)
             else [f"  Data requested: {', '.join(challenge.get('requested_claims') or []) or '-'}"])
    return [f"Request {challenge['id']}",
            f"  Requested by:   {challenge.get('requester') or '(Cl@ve)'}",
            *asked,
            f"  From address:   {origin.get('ip') or 'unknown'}",
            f"  Browser:        {device or 'unknown'}  ({origin.get('user_agent') or '-'})",
            f"  Requested at:   {challenge.get('requested_at')}",
            f"  Expires:        {challenge['expires_at']}"]


def run() -> None:
    """The ``idp-mobile`` console script: whatever it writes is its user's alone."""
    os.umask(0o077)
    main()


@click.group()
@click.option("--state", type=click.Path(path_type=Path), default=DEFAULT_STATE, show_default=True,
              help="File holding this device's key (created with mode 0600).")
@click.pass_context
def main(ctx: click.Context, state: Path) -> None:
    """Cl@ve mobile reference client."""
    ctx.obj = state


@main.command()
@click.option("--issuer", required=True, help="The IdP's issuer URL.")
@click.option("--document", required=True)
@click.option("--password", help="Asked for when not given.")
@click.option("--otp", "sms_code", help="The SMS code; asked for when not given.")
@click.option("--name", default="idp-mobile", show_default=True, help="Device name shown to the citizen.")
@click.pass_obj
def enroll(state: Path, issuer: str, document: str, password: str | None, sms_code: str | None,
           name: str) -> None:
    """Enroll this device with Permanent Cl@ve and an SMS code."""
    password = password or click.prompt("Password", hide_input=True)

    def read_code(hint: str) -> str:
        return sms_code or click.prompt(f"SMS code sent to the phone ending in {hint}")

    try:
        device = MobileClient.for_issuer(issuer).enroll(document, password, name, read_code)
    except MobileError as error:
        raise click.ClickException(f"Enrollment refused: {error.error}") from error
    device.save(state)
    click.echo(f"Enrolled device {device.device_id}; key saved in {state}")


@main.command()
@click.argument("qr")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def scan(state: Path, qr: str, as_json: bool) -> None:
    """Show a login request from a QR code: its link, or an image file of it."""
    device, client = _load(state)
    text = decode_qr_image(Path(qr)) if Path(qr).is_file() else qr
    try:
        _, challenge_id = parse_challenge_link(text)
        challenge = client.challenge(device, challenge_id)
    except (ValueError, MobileError) as error:
        raise click.ClickException(str(error)) from error
    _show(challenge, as_json, _describe(challenge) + [
        "", APPROVE_ONLY_IF,
        f"Approve with: idp-mobile approve {challenge_id} (it asks for the code shown in the browser)"])


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def pending(state: Path, as_json: bool) -> None:
    """List login requests pushed to this device."""
    device, client = _load(state)
    requests_ = client.pending(device)
    lines = [line for r in requests_ for line in _describe(r)] or ["No pending requests."]
    if requests_:
        lines += ["", APPROVE_ONLY_IF, "Approve with: idp-mobile approve <request>"]
    _show(requests_, as_json, lines)


def _decide(state: Path, challenge_id: str, approve: bool, code: str | None) -> None:
    """Send the decision; exit non-zero unless the IdP recorded exactly that decision, so
    that a script never takes a login that did not happen for an approval."""
    device, client = _load(state)
    try:
        outcome = client.decide(device, challenge_id, approve, code)
    except MobileError as error:
        raise click.ClickException(f"Refused: {error.error}") from error
    click.echo(outcome)
    if outcome == "wrong_code":
        raise click.ClickException("That is not the code shown in the browser: the request is denied.")
    if outcome != ("approved" if approve else "denied"):
        raise click.ClickException(f"The request was not {'approved' if approve else 'denied'}: {outcome}.")


@main.command()
@click.argument("challenge_id")
@click.option("--code", help="The code shown in the browser; asked for when not given.")
@click.pass_obj
def approve(state: Path, challenge_id: str, code: str | None) -> None:
    """Approve a login request, typing the code its browser shows (a wrong code denies it)."""
    typed = code if code is not None else click.prompt("Code shown in the browser")
    _decide(state, challenge_id, True, "".join(typed.split()))


@main.command()
@click.argument("challenge_id")
@click.pass_obj
def deny(state: Path, challenge_id: str) -> None:
    """Deny a login request."""
    _decide(state, challenge_id, False, None)
