"""Flask extensions, created unbound and initialised in ``create_app``."""

from typing import Any, TypeVar

from flask_babel import Babel
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.util import identity_key


class Base(DeclarativeBase):
    pass


# No reload of every object after each commit: a request commits several times (audit
# events, single-use claims) and reads what it just wrote. Where another writer may have
# changed a row in between (the conditional UPDATEs of counters and single use), the code
# refreshes that object explicitly.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
csrf = CSRFProtect()
babel = Babel()

_Row = TypeVar("_Row", bound=Base)


def in_session(entity: type[_Row], key: Any) -> _Row | None:
    """The row of ``entity`` with primary key ``key`` if this unit of work already holds it
    (read along with another one), without a statement."""
    return db.session.identity_map.get(identity_key(entity, key))  # type: ignore[return-value]

