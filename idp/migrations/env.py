"""Alembic environment: the models' metadata is the target."""

from alembic import context
from sqlalchemy import engine_from_config, pool

import idp.firma.models  # noqa: F401 - registers the Cl@ve Firma certificates
import idp.firma.signature_requests  # noqa: F401 - registers the signature requests
import idp.mobile.models  # noqa: F401 - registers the Cl@ve mobile tables
import idp.oidc.models  # noqa: F401 - registers the protocol tables
import idp.passkeys.models  # noqa: F401 - registers the passkey tables
import idp.ratelimit  # noqa: F401 - registers the rate counters
from idp.extensions import db

config = context.config
target_metadata = db.metadata


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                         prefix="sqlalchemy.", poolclass=pool.NullPool)
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
