"""``idp firma reseal``: after the seal secret changes, the citizens' keys are sealed again
under the new one, and signatures go on with the same certificates."""

from __future__ import annotations

import json

import pytest
from flask import current_app

from idp.audit import EventTag
from idp.extensions import db
from idp.firma import sealing
from idp.firma.models import SigningCertificate
from idp.firma.pki import key_binding
from idp.firma.signer import SigningUnavailable, sign_digest
from idp.models import AuditEvent
from tests.firma.support import new_signer, sha256
from tests.support.cli import cli_for

NEW_SECRET = "the seal secret after the rotation"


@pytest.fixture
def reseal(app, monkeypatch):  # type: ignore[no-untyped-def]
    """``idp firma reseal --json`` in a deployment whose seal secret is now NEW_SECRET."""
    cli_for(app, monkeypatch)
    monkeypatch.setenv("IDP_FIRMA_SEAL_SECRET", NEW_SECRET)

    def run(previous: str):  # type: ignore[no-untyped-def]
        from click.testing import CliRunner

        from idp.cli import main

        done = CliRunner().invoke(main, ["firma", "reseal", "--json"], input=previous + "\n")
        db.session.expire_all()  # the command wrote through its own app and session
        return done

    return run


def signed_once() -> tuple[object, SigningCertificate]:
    """A citizen who signed once under the deployment's first secret, and their key's row."""
    identity = new_signer()
    sign_digest(identity, sha256(b"before"), name="before")
    db.session.commit()
    return identity, certificate_of(identity)


def certificate_of(identity) -> SigningCertificate:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(db.select(SigningCertificate).filter_by(live_citizen_id=identity.citizen_id))


def test_after_reseal_the_new_secret_signs_with_the_same_certificate_the_old_one_opens_nothing(app, reseal):
    old_secret = current_app.config["IDP_SECRET_KEY"]  # the seal secret was empty
    identity, before = signed_once()

    done = reseal(old_secret)

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"resealed": 1, "current": 0, "unopenable": 0}
    current_app.config["IDP_FIRMA_SEAL_SECRET"] = NEW_SECRET
    sign_digest(identity, sha256(b"after"), name="after")
    db.session.commit()
    after = certificate_of(identity)
    assert after.serial == before.serial
    with pytest.raises(sealing.KeyUnavailable):
        sealing.unseal(sealing.derive_kek(old_secret), after.sealed_key,
                       binding=key_binding(after.citizen_id, after.serial))


def test_without_reseal_the_new_secret_cannot_sign(app):
    identity, _ = signed_once()

    current_app.config["IDP_FIRMA_SEAL_SECRET"] = NEW_SECRET
    with pytest.raises(SigningUnavailable):
        sign_digest(identity, sha256(b"after"), name="after")


def test_a_second_reseal_changes_nothing(app, reseal):
    old_secret = current_app.config["IDP_SECRET_KEY"]
    identity, _ = signed_once()
    reseal(old_secret)
    sealed = certificate_of(identity).sealed_key

    again = reseal(old_secret)

    assert json.loads(again.stdout) == {"resealed": 0, "current": 1, "unopenable": 0}
    assert certificate_of(identity).sealed_key == sealed


def test_a_wrong_previous_secret_reseals_nothing_fails_and_leaves_the_key_for_the_right_one(app, reseal):
    old_secret = current_app.config["IDP_SECRET_KEY"]
    identity, before = signed_once()

    wrong = reseal("not the previous secret")

    assert wrong.exit_code == 1
    assert json.loads(wrong.stdout) == {"resealed": 0, "current": 0, "unopenable": 1}
    assert certificate_of(identity).sealed_key == before.sealed_key
    assert json.loads(reseal(old_secret).stdout)["resealed"] == 1


def test_revoked_keys_are_not_counted_and_the_audit_event_names_no_secret(app, reseal):
    old_secret = current_app.config["IDP_SECRET_KEY"]
    signed_once()
    revoked, _ = signed_once()
    from idp.firma.pki import RevocationReason, revoke_citizen_certificates

    revoke_citizen_certificates(revoked.citizen_id, RevocationReason.UNSUBSCRIBED)
    db.session.commit()

    done = reseal(old_secret)

    assert json.loads(done.stdout) == {"resealed": 1, "current": 0, "unopenable": 0}
    event = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.FIRMA_KEYS_RESEALED.value))
    assert event.detail == {"resealed": 1, "current": 0, "unopenable": 0}
    assert old_secret not in json.dumps(event.detail) and NEW_SECRET not in done.output


def test_no_previous_secret_is_a_usage_error_that_changes_nothing(app, reseal):
    identity, before = signed_once()

    done = reseal("")

    assert done.exit_code == 2 and "previous seal secret" in done.output
    assert certificate_of(identity).sealed_key == before.sealed_key
