"""The token paths' work in the database, statement by statement: a token presented to
UserInfo is checked by one statement; a refresh token or a code is claimed by one
conditional ``UPDATE`` and the new pair written by one ``INSERT`` beside its audit row, all
in one commit (on PostgreSQL all three in one statement, ``idp.oidc.issuing``).
(Each ``/token``, ``/introspect`` and ``/revoke`` request first reads its
address's count of failed client authentications, ``client_auth``.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from idp.extensions import db
from tests.factories import make_citizen, make_client
from tests.flows.support import refresh
from tests.oidc.test_code_flow import basic, redeem
from tests.security.conftest import authorize, tokens_for

_TABLE = re.compile(r"^\s*(?:SELECT\b.*?\bFROM|UPDATE|INSERT INTO|DELETE FROM)\s+(\w+)", re.S | re.I)
_WRITES = re.compile(r"\b(UPDATE|INSERT INTO|DELETE FROM)\s+(\w+)", re.I)


@contextmanager
def statements(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """``"SELECT tokens"``, ``"COMMIT"``…: what reaches the database meanwhile."""
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def statement(conn, cursor, text: str, *_: object) -> None:  # type: ignore[no-untyped-def]
        verb = text.split(None, 1)[0].upper()
        if verb == "WITH":  # its parts that write, in their order
            parts = [f"{verb_.split()[0].upper()} {table}" for verb_, table in _WRITES.findall(text)]
            sent.append(" ".join(["WITH", *parts]))
            return
        match = _TABLE.match(text)
        sent.append(f"{verb} {match.group(1) if match else '?'}")

    def commit(conn) -> None:  # type: ignore[no-untyped-def]
        if not _autocommit(conn):  # in autocommit (PostgreSQL's psycopg) nothing is sent
            sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def _autocommit(conn) -> bool:  # type: ignore[no-untyped-def]
    return getattr(conn.connection.dbapi_connection, "autocommit", False) is True


def test_userinfo_checks_the_token_with_one_statement_and_writes_nothing(app, browser, sms_file):
    issued = tokens_for(browser, sms_file, make_client(), make_citizen())
    with statements(app) as sent:
        info = browser.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert info.status_code == 200
    assert sent == ["SELECT tokens"]


def test_introspection_reads_the_token_with_one_statement(app, browser, sms_file):
    rp = make_client()
    issued = tokens_for(browser, sms_file, rp, make_citizen())
    with statements(app) as sent:
        seen = browser.post("/introspect", headers=basic(rp.client_id, rp.secret),
                            data={"token": issued["access_token"]})
    assert seen.get_json()["active"] is True
    assert sent == ["SELECT rate_counters", "SELECT tokens"]


def test_a_refresh_is_one_claim_and_one_insert_with_its_audit_row_in_one_commit(
        app, browser, sms_file):
    """On PostgreSQL the three are one statement in autocommit, its own transaction (a
    round trip where BEGIN, three statements and COMMIT took five)."""
    rp = make_client()
    issued = tokens_for(browser, sms_file, rp, make_citizen())
    with statements(app) as sent:
        assert refresh(browser, rp, issued["refresh_token"]).status_code == 200
    if db.engine.dialect.name == "postgresql":
        assert sent == ["SELECT rate_counters", "WITH UPDATE tokens INSERT tokens INSERT audit_events"]
    else:
        assert sent == ["SELECT rate_counters", "UPDATE tokens", "INSERT tokens", "INSERT audit_events",
                        "COMMIT"]


def test_a_code_is_redeemed_by_one_claim_and_one_insert_with_its_audit_row_in_one_commit(
        app, browser, sms_file):
    rp = make_client()
    person = make_citizen()
    tokens_for(browser, sms_file, rp, person)  # logged in, consented, the client read
    attempt, code = authorize(browser, sms_file, rp, person)
    with statements(app) as sent:
        assert redeem(browser, rp, attempt, code).status_code == 200
    if db.engine.dialect.name == "postgresql":
        assert sent == ["SELECT rate_counters",
                        "WITH UPDATE authorization_codes INSERT tokens INSERT audit_events"]
    else:
        assert sent == ["SELECT rate_counters", "UPDATE authorization_codes", "INSERT tokens",
                        "INSERT audit_events", "COMMIT"]


def test_a_revocation_finds_the_token_and_revokes_its_family_in_one_commit(app, browser, sms_file):
    rp = make_client()
    issued = tokens_for(browser, sms_file, rp, make_citizen())
    with statements(app) as sent:
        revoked = browser.post("/revoke", headers=basic(rp.client_id, rp.secret),
                               data={"token": issued["refresh_token"]})
    assert revoked.status_code == 200
    assert sent == ["SELECT rate_counters", "SELECT tokens", "UPDATE tokens", "INSERT audit_events",
                    "COMMIT"]
