"""The ``idp`` operator command. Operators script it, so these forms are stable.

Each command that changes anything is one unit of work (``transaction()``): all of it is
committed when the command succeeds, nothing when it fails."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask

from idp import create_app
from idp.serving import DEFAULT_SERVER, SERVERS
from idp.unit_of_work import transaction


def _app() -> Flask:
    return create_app()


def _emit(data: dict, as_json: bool, lines: list[str]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else "\n".join(lines))


def run() -> None:
    """The ``idp`` console script: umask 077 first, so that whatever the command and the
    server's workers write is the operator's alone (the files that hold secrets
    are created 0600 whatever the umask: idp.files)."""
    os.umask(0o077)
    main()


@click.group()
def main() -> None:
    """Clave IdP operator commands (configured by the IDP_* environment)."""


@main.command()
@click.option("--demo", is_flag=True, help="Also seed a demo relying party and citizen.")
def init(demo: bool) -> None:
    """Migrate the database and create signing keys and the Cl@ve Firma CA (idempotent)."""
    from idp.database import upgrade
    from idp.firma.ca import ensure_ca
    from idp.oidc.keys import ensure_keys

    app = _app()
    with app.app_context(), transaction():
        upgrade(app)
        ensure_keys(Path(app.config["IDP_KEYS_DIR"]), app.config["IDP_KEYS_PASSPHRASE"])
        ensure_ca(Path(app.config["IDP_KEYS_DIR"]), app.config["IDP_KEYS_PASSPHRASE"],
                  app.config["IDP_FIRMA_KEY_TYPE"])
        click.echo(f"Database ready: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}")
        click.echo(f"Signing keys and the Cl@ve Firma CA in {app.config['IDP_KEYS_DIR']}/")
        if demo:
            from idp.demo import seed_demo

            seed_demo(app)


# -- clients -----------------------------------------------------------------------------

@main.group()
def client() -> None:
    """Relying parties."""


@client.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--scope", default="openid profile email phone national_id", show_default=True)
@click.option("--auth-method", default="client_secret_basic", show_default=True,
              type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt",
                                 "none"]))
@click.option("--jwks-uri")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False),
              help="The client's public JWKS, registered inline (private_key_jwt).")
@click.option("--default-acr")
@click.option("--subject-type", type=click.Choice(["pairwise", "public"]), default="pairwise")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]))
@click.option("--backchannel-logout-uri")
@click.option("--signature", is_flag=True,
              help="May ask citizens to sign documents (Cl@ve Firma, /api/signature/v1).")
@click.option("--json", "as_json", is_flag=True)
def client_create(as_json: bool, jwks_file: str | None, **options) -> None:  # type: ignore[no-untyped-def]
    """Register a relying party; prints its client_id and (once) its secret."""
    from idp.clients import ClientError, register_client

    try:
        jwks = json.loads(Path(jwks_file).read_text()) if jwks_file else None
    except ValueError as error:
        raise click.UsageError(f"--jwks-file is not JSON: {error}") from error
    app = _app()
    with app.app_context(), transaction():
        try:
            registered = register_client(jwks=jwks, **options)
        except ClientError as error:
            raise click.UsageError(str(error)) from error
        data = {"client_id": registered.client.client_id, "client_secret": registered.secret}
    _emit(data, as_json, [f"client_id:     {data['client_id']}",
                          f"client_secret: {data['client_secret'] or '(none: public or key-based client)'}"])


def _client_change(change, client_id: str):  # type: ignore[no-untyped-def]
    from idp.clients import ClientError

    app = _app()
    with app.app_context(), transaction():
        try:
            return change(client_id), app.config["IDP_CLIENT_CACHE_SECONDS"]
        except ClientError as error:
            raise click.UsageError(str(error)) from error


@client.command("disable")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def client_disable(client_id: str, as_json: bool) -> None:
    """Refuse a relying party, and its tokens, at every endpoint."""
    from idp.clients import set_disabled

    _, seconds = _client_change(lambda cid: set_disabled(cid, True), client_id)
    _emit({"client_id": client_id, "disabled": True}, as_json,
          [f"{client_id} disabled: every IdP process refuses it within {seconds} s."])


@client.command("enable")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def client_enable(client_id: str, as_json: bool) -> None:
    """Accept a disabled relying party again."""
    from idp.clients import set_disabled

    _client_change(lambda cid: set_disabled(cid, False), client_id)
    _emit({"client_id": client_id, "disabled": False}, as_json, [f"{client_id} enabled."])


@client.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def client_rotate_secret(client_id: str, as_json: bool) -> None:
    """Give a relying party a new secret (printed once); the old one stops working."""
    from idp.clients import rotate_secret

    registered, seconds = _client_change(rotate_secret, client_id)
    _emit({"client_id": client_id, "client_secret": registered.secret}, as_json,
          [f"client_id:     {client_id}", f"client_secret: {registered.secret}",
           f"(the old secret stops working within {seconds} s)"])


@client.command("list")
@click.option("--json", "as_json", is_flag=True)
def client_list(as_json: bool) -> None:
    """Every relying party: its id, whether it is enabled, how it authenticates, its name."""
    from idp.clients import describe, registered_clients

    app = _app()
    with app.app_context():
        found = [describe(c) for c in registered_clients()]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    rows = [("CLIENT_ID", "STATE", "AUTH", "NAME")] + [
        (c["client_id"], "disabled" if c["disabled"] else "enabled",
         c["token_endpoint_auth_method"], c["name"]) for c in found]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                              row[3]]))


def _show(data: dict, as_json: bool, *lines: str) -> None:
    shown = [f"{key + ':':<30} {' '.join(value) if isinstance(value, list) else value}"
             for key, value in data.items() if value not in (None, [], "")]
    _emit(data, as_json, [*shown, *lines])


@client.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def client_show(client_id: str, as_json: bool) -> None:
    """A relying party's registration (everything but its secret)."""
    from idp.clients import ClientError, describe, registered

    app = _app()
    with app.app_context():
        try:
            data = describe(registered(client_id))
        except ClientError as error:
            raise click.UsageError(str(error)) from error
    _show(data, as_json)


@client.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Replaces every redirect URI (repeat for several).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Replaces every post-logout redirect URI (repeat for several).")
@click.option("--no-post-logout-redirect-uris", "no_logout_uris", is_flag=True,
              help="Removes every post-logout redirect URI.")
@click.option("--scope", help="The scopes it may ask for, space-separated (openid among them).")
@click.option("--default-acr")
@click.option("--no-default-acr", is_flag=True, help="Removes the default acr.")
@click.option("--signature/--no-signature", default=None,
              help="Whether it may ask citizens to sign documents (Cl@ve Firma).")
@click.option("--json", "as_json", is_flag=True)
def client_update(client_id: str, name: str | None, redirect_uris: tuple[str, ...],
                  post_logout_redirect_uris: tuple[str, ...], no_logout_uris: bool,
                  scope: str | None, default_acr: str | None, no_default_acr: bool,
                  signature: bool | None, as_json: bool) -> None:
    """Change a relying party's names, URIs, scopes, default acr or signature permission
    (checked as at create)."""
    from idp.clients import describe, registered, update_client

    if no_logout_uris and post_logout_redirect_uris:
        raise click.UsageError("--no-post-logout-redirect-uris and --post-logout-redirect-uri "
                               "exclude each other")
    if no_default_acr and default_acr:
        raise click.UsageError("--no-default-acr and --default-acr exclude each other")
    changes: dict = {"name": name, "redirect_uris": redirect_uris or None,
                     "post_logout_redirect_uris": () if no_logout_uris else post_logout_redirect_uris or None,
                     "scope": scope, "signature": signature}
    if default_acr or no_default_acr:
        changes["default_acr"] = default_acr
    if all(value is None for value in changes.values()):
        raise click.UsageError("nothing to change: give at least one option (see --help)")

    def change(cid: str):  # type: ignore[no-untyped-def]
        changed = update_client(cid, **changes)
        return changed, describe(registered(cid))

    (changed, data), seconds = _client_change(change, client_id)
    note = (f"Changed: {', '.join(changed)}; every IdP process sees it within {seconds} s."
            if changed else "Nothing changed: it was registered so already.")
    _show({**data, "changed": changed} if as_json else data, as_json, note)


# -- citizens ----------------------------------------------------------------------------

@main.group()
def citizen() -> None:
    """Citizens (registration office acts)."""


def _document(raw: str):  # type: ignore[no-untyped-def]
    from idp.documents import InvalidDocument, parse_document
    from idp.messages import message

    try:
        return parse_document(raw)
    except InvalidDocument as invalid:
        with _app().test_request_context():
            raise click.BadParameter(message(invalid.reason)) from invalid


@citizen.command("register")
@click.option("--document", required=True)
@click.option("--given-name", required=True)
@click.option("--first-surname", required=True)
@click.option("--second-surname")
@click.option("--birthdate", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--email", required=True)
@click.option("--phone", required=True, help="E.164, e.g. +34600111222")
@click.option("--contrast-data", required=True, help="DNI validity date or NIE support number")
@click.option("--json", "as_json", is_flag=True)
def citizen_register(document: str, birthdate, as_json: bool, **fields) -> None:  # type: ignore[no-untyped-def]
    """The registration act: records the citizen and prints the activation code once."""
    from idp import citizens
    from idp.registration import RegistrationError, validate_registration

    app = _app()
    with app.test_request_context(), transaction():
        parsed = _document(document)
        try:
            clean = validate_registration(**fields)
            registration = citizens.register(
                parsed, birthdate=birthdate.date() if birthdate else None, **clean)
        except (RegistrationError, citizens.AlreadyRegistered) as error:
            raise click.UsageError(str(error) or "This document is already registered.") from error
    data = {"document": parsed.number, "activation_code": registration.activation_code}
    _emit(data, as_json, [f"Registered {parsed.number}.",
                          f"Activation code (shown once): {registration.activation_code}"])


@citizen.command("show")
@click.argument("document")
@click.option("--json", "as_json", is_flag=True)
def citizen_show(document: str, as_json: bool) -> None:
    """Status, blocks and expiry of a citizen — never a secret."""
    app = _app()
    with app.test_request_context():
        found = _find_citizen(document)
        data = {
            "document": found.document, "document_type": found.document_type,
            "given_name": found.given_name, "first_surname": found.first_surname,
            "second_surname": found.second_surname, "email": found.email, "phone": found.phone,
            "status": found.status, "password_blocked": found.password_blocked,
            "password_failures": found.password_failures,
            "activation_code_blocked": found.activation_code_blocked,
            "activation_failures": found.activation_failures,
            "password_expires_at": found.password_expires_at.isoformat() + "Z"
            if found.password_expires_at else None,
            "sms_wrong_codes": found.otp_failures,
            "sms_codes_locked_until": found.otp_locked_until.isoformat() + "Z"
            if found.otp_locked_until else None,
        }
    _emit(data, as_json, [f"{k}: {v}" for k, v in data.items()])


def _find_citizen(document: str, *, subscribed: bool = False):  # type: ignore[no-untyped-def]
    """The citizen of ``document`` (in an app context); ``subscribed`` refuses one who has
    unsubscribed, for whom only a new registration act will do."""
    from idp import citizens
    from idp.models import CitizenStatus

    found = citizens.find(_document(document))
    if found is None:
        raise click.ClickException("No citizen with that document.")
    if subscribed and found.status == CitizenStatus.UNSUBSCRIBED:
        raise click.ClickException("This citizen has unsubscribed: a new registration act is needed.")
    return found


@citizen.command("unblock-code")
@click.argument("document")
def citizen_unblock_code(document: str) -> None:
    """Unblock the activation code after too many wrong entries (the same code works again)."""
    from idp import citizens

    with _app().test_request_context(), transaction():
        found = _find_citizen(document, subscribed=True)
        was_blocked = found.activation_code_blocked
        citizens.unblock_activation_code(found)
        click.echo(f"Activation code of {found.document} "
                   f"{'unblocked' if was_blocked else 'was not blocked'}; wrong entries reset to 0.")


@citizen.command("regenerate-code")
@click.argument("document")
@click.option("--json", "as_json", is_flag=True)
def citizen_regenerate_code(document: str, as_json: bool) -> None:
    """A new activation code, printed once; the old one stops working at once."""
    from idp import citizens

    with _app().test_request_context(), transaction():
        found = _find_citizen(document, subscribed=True)
        code = citizens.regenerate_activation_code(found)
        data = {"document": found.document, "activation_code": code}
    _emit(data, as_json, [f"New activation code for {data['document']} (shown once): {code}",
                          "The previous code no longer works."])


@citizen.command("change-phone")
@click.argument("document")
@click.option("--phone", required=True, help="E.164, e.g. +34600111222")
def citizen_change_phone(document: str, phone: str) -> None:
    """Record the citizen's new mobile number; codes sent to the old one stop working."""
    from idp import citizens
    from idp.registration import RegistrationError, normalise_phone

    try:
        number = normalise_phone(phone)
    except RegistrationError as error:
        raise click.BadParameter(str(error), param_hint="--phone") from error
    with _app().test_request_context(), transaction():
        found = _find_citizen(document, subscribed=True)
        citizens.change_phone(found, number)
        click.echo(f"Mobile phone of {found.document} is now the one ending in {number[-3:]}.")


@citizen.command("unsubscribe")
@click.argument("document")
@click.option("--json", "as_json", is_flag=True)
def citizen_unsubscribe(document: str, as_json: bool) -> None:
    """Cancel the citizen's Permanent Cl@ve (an office act, identity checked in person):
    every session, token, enrolled app, passkey and Cl@ve Firma certificate is revoked;
    coming back takes a new registration act."""
    from idp.flows.unsubscribe import unsubscribe_citizen

    with _app().test_request_context(), transaction():
        found = _find_citizen(document, subscribed=True)
        unsubscribe_citizen(found, channel="office")
        data = {"document": found.document, "status": found.status}
    _emit(data, as_json, [f"The Permanent Cl@ve of {data['document']} is cancelled; a new "
                          "registration act is needed to use Cl@ve again."])


# -- keys, audit, serving ----------------------------------------------------------------

@main.group()
def keys() -> None:
    """ID-token signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Publish new keys; retired ones stay in the JWKS until their tokens expire."""
    from idp.audit import EventTag, record_event
    from idp.oidc.keys import rotate_keys

    app = _app()
    with app.app_context(), transaction():
        entries = rotate_keys(Path(app.config["IDP_KEYS_DIR"]),
                              retention=timedelta(seconds=app.config["IDP_ID_TOKEN_TTL"]),
                              passphrase=app.config["IDP_KEYS_PASSPHRASE"])
        record_event(EventTag.KEYS_ROTATED)
    for entry in entries:
        state = f"retired {entry.retired_at}" if entry.retired_at else "active"
        click.echo(f"{entry.kid}  {entry.alg}  {state}")


@main.group()
def firma() -> None:
    """Cl@ve Firma: the citizens' signing keys."""


@firma.command("reseal")
@click.option("--json", "as_json", is_flag=True)
def firma_reseal(as_json: bool) -> None:
    """Seal the citizens' signing keys again under this deployment's seal secret, after
    IDP_FIRMA_SEAL_SECRET (or IDP_SECRET_KEY while that is empty) changed.

    The previous secret is read from standard input (asked for, hidden, on a terminal),
    never from the command line, where other users of the machine could read it."""
    from idp.firma.resealing import reseal_keys

    if sys.stdin.isatty():
        previous = click.prompt("The previous seal secret", hide_input=True)
    else:
        previous = sys.stdin.readline().rstrip("\r\n")
    if not previous:
        raise click.UsageError("give the previous seal secret on standard input")
    app = _app()
    with app.app_context(), transaction():
        done = reseal_keys(previous)
    _emit(done.as_dict(), as_json,
          [f"resealed: {done.resealed}", f"already under this secret: {done.current}",
           f"opened by neither secret (left as they were): {done.unopenable}"])
    if done.unopenable:
        sys.exit(1)


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option("-n", "count", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def audit_tail(count: int, as_json: bool) -> None:
    """The latest security events, oldest first."""
    from idp.extensions import db
    from idp.models import AuditEvent

    app = _app()
    with app.app_context():
        events = db.session.scalars(
            db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(count)).all()
        for event in reversed(events):
            row = {"at": event.created_at.isoformat() + "Z", "tag": event.tag,
                   "citizen_id": event.citizen_id, "client_id": event.client_id, "ip": event.ip,
                   "request_id": event.request_id, "detail": event.detail}
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else
                       f"{row['at']}  {event.tag:<24} citizen={event.citizen_id} "
                       f"client={event.client_id} ip={event.ip} req={event.request_id}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def purge(as_json: bool) -> None:
    """Delete expired requests, challenges, codes and rate counters, and send the
    back-channel logouts that are due (run it from cron, every few minutes)."""
    from idp.housekeeping import purge_expired
    from idp.oidc.backchannel import deliver_due

    app = _app()
    with app.app_context():
        with transaction():
            removed = purge_expired()
        delivered = deliver_due()  # a unit of work per delivery attempt
    _emit({**removed, "backchannel_logouts_delivered": delivered}, as_json,
          [f"{name}: {count} deleted" for name, count in removed.items()]
          + [f"back-channel logouts delivered: {delivered}"])


@main.command("dev-certificates")
@click.option("--out", default=Path("instance/dev-certificates"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the CA, the certificate, its key, the PKCS#12 file and the cookies.")
@click.option("--document", default="12345678Z", show_default=True, help="DNI/NIE (the demo citizen's).")
@click.option("--given-name", default="María", show_default=True)
@click.option("--surnames", default="García López", show_default=True)
@click.option("--email", help="Typed in the registration form; by default name.surname@example.org.")
@click.option("--phone", default="+34600000001", show_default=True,
              help="Typed in the registration form.")
@click.option("--contrast-data", default="01012030", show_default=True,
              help="Typed in the registration form.")
@click.option("--password", default="demo", show_default=True, help="Protects the PKCS#12 file.")
def dev_certificates(out: Path, document: str, given_name: str, surnames: str, email: str | None,
                     phone: str, contrast_data: str, password: str) -> None:
    """Development only: a test CA and a citizen certificate to try certificate registration,
    with the lines that register its holder and regenerate their activation code."""
    from idp import settings
    from idp.dev_certificates import Holder, holder_email, instructions, make_dev_certificates

    parsed = _document(document)
    files = make_dev_certificates(out, parsed, given_name=given_name, surnames=surnames,
                                  password=password)
    holder = Holder(f"{given_name} {surnames}", parsed.number,
                    email or holder_email(given_name, surnames), phone, contrast_data)
    config = settings.load()
    click.echo(instructions(files, holder, header=config["IDP_CLIENT_CERT_HEADER"],
                            issuer=config["IDP_ISSUER"], password=password))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--server", type=click.Choice(SERVERS), default=DEFAULT_SERVER, show_default=True,
              help="The HTTP server: granian uses less CPU, gunicorn is the alternative; "
                   "see docs/deployment.md.")
def serve(host: str, port: int, workers: int, server: str) -> None:
    """Serve the IdP (granian or gunicorn; SIGHUP replaces the workers)."""
    from idp import settings
    from idp.serving import serve_app
    from idp.transport import start_warning

    warning = start_warning(settings.load())
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    serve_app(host, port, workers, server)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
