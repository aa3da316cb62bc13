"""Named rate limits, as Warehouse has them, made safe for parallel attempts: a slot is
taken before the attempt and given back when the attempt succeeds, so a limit counts
failed attempts and parallel attempts on several processes never get more than it allows.

A call site::

    limits = ratelimit.guard("login", ip=ratelimit.client_address(), document=document.number)
    if not limits.reserve():
        return ratelimit.too_many_attempts()
    ...                   # the attempt (argon2, a signature check)
    if succeeded:
        limits.release()

Counters live in the database by default, so every app process sees the same counts.
Keys are hashed: a counter row never shows which document or address it counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Protocol

from flask import current_app, render_template, request
from sqlalchemy import Connection, Integer, String, TextClause, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from idp import metrics, secrets
from idp.clock import clock
from idp.extensions import db
from idp.unit_of_work import note_write


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, seconds = text.split("/")
        return cls(int(count), int(seconds))


@lru_cache(maxsize=8)
def parse_limits(text: str) -> Mapping[str, Limit]:
    """``"login.ip=30/300 login.document=10/300"`` → {"login.ip": Limit(30, 300), …}, read
    only: parsed once per setting, not on every request that checks a limit."""
    limits = {}
    for item in text.split():
        name, value = item.split("=")
        limits[name] = Limit.parse(value)
    return MappingProxyType(limits)


class Refused(frozenset[str]):
    """``reserve``'s answer when a limit had no slot left: the keys of the full limits
    (no slot of any limit was taken)."""


class RateLimiter(Protocol):
    def reserve(self, slots: Sequence[tuple[str, Limit]]) -> list[int] | Refused:
        """A slot of each limit, all or none: the windows taken, or the full limits."""
        ...

    def release(self, taken: Sequence[tuple[str, int]]) -> None:
        """Give back slots taken in these windows (no-op for a window already over)."""
        ...

    def count(self, key: str, seconds: int, connection: Connection | None = None) -> int:
        """This window's count, read in the request's session or on ``connection``."""
        ...


class RateCounter(db.Model):
    __tablename__ = "rate_counters"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


_COUNT = select(RateCounter.__table__.c.count).where(
    RateCounter.__table__.c.key_hash == bindparam("key"),
    RateCounter.__table__.c.window_start == bindparam("window"))


class DatabaseRateLimiter:
    """Fixed windows. The slots of an attempt are taken by one INSERT … ON CONFLICT DO
    UPDATE … WHERE count < limit: atomic on PostgreSQL and SQLite (3.35 or later) alike,
    whatever other processes do meanwhile."""

    def _window(self, seconds: int) -> int:
        return clock.timestamp() // seconds * seconds

    def count(self, key: str, seconds: int, connection: Connection | None = None) -> int:
        counted = (connection or db.session).execute(
            _COUNT, {"key": key, "window": self._window(seconds)}).scalar()
        return counted or 0

    def reserve(self, slots: Sequence[tuple[str, Limit]]) -> list[int] | Refused:
        if not slots:
            return []
        if any(limit.count <= 0 for _, limit in slots):
            return Refused(key for key, limit in slots if limit.count <= 0)
        windows = {key: self._window(limit.seconds) for key, limit in slots}
        limits = {key: limit.count for key, limit in slots}
        params = {}
        for i, key in enumerate(sorted(windows)):  # rows in one order everywhere: keys sorted
            params |= {f"key{i}": key, f"window{i}": windows[key], f"limit{i}": limits[key]}
        statement = _reserve_statement(len(windows))
        taken = set(db.session.scalars(statement, params))
        note_write()  # text: the unit of work cannot see it is an INSERT, and must commit it
        if len(taken) < len(windows):
            self.release([(key, windows[key]) for key in sorted(taken)])
            return Refused(windows.keys() - taken)
        return [windows[key] for key, _ in slots]

    def release(self, taken: Sequence[tuple[str, int]]) -> None:
        if taken:
            params = {}
            for i, (key, window) in enumerate(taken):
                params |= {f"key{i}": key, f"window{i}": window}
            db.session.execute(_release_statement(len(taken)), params)


# The statements of an attempt's slots, written once per number of slots. SQLAlchemy
# compiles an ON CONFLICT statement again on every call (it has no cache key): that was
# about 0.4 ms per attempt, more than the statement itself.
@lru_cache(maxsize=16)
def _reserve_statement(slots: int) -> TextClause:
    """One INSERT for every slot of an attempt, the same on SQLite (3.35 or later) and
    PostgreSQL: a row of an older window starts again at 1; one of this window counts on
    only while it is below its limit. A row comes back when its slot was taken (psycopg
    gives no rowcount)."""
    rows = ", ".join(f"(:key{i}, :window{i}, 1)" for i in range(slots))
    limits = " ".join(f"WHEN :key{i} THEN :limit{i}" for i in range(slots))
    return text(
        f"INSERT INTO rate_counters (key_hash, window_start, count) VALUES {rows} "  # noqa: S608 - placeholders only
        "ON CONFLICT (key_hash) DO UPDATE SET "
        "count = CASE WHEN rate_counters.window_start = excluded.window_start "
        "THEN rate_counters.count + 1 ELSE 1 END, window_start = excluded.window_start "
        "WHERE rate_counters.window_start != excluded.window_start "
        f"OR rate_counters.count < CASE rate_counters.key_hash {limits} END "
        "RETURNING rate_counters.key_hash")


@lru_cache(maxsize=16)
def _release_statement(slots: int):  # type: ignore[no-untyped-def]
    counter = RateCounter.__table__.c
    return (update(RateCounter.__table__)
            .where(or_(*(and_(counter.key_hash == bindparam(f"key{i}", type_=String),
                              counter.window_start == bindparam(f"window{i}", type_=Integer))
                         for i in range(slots))), counter.count > 0)
            .values(count=counter.count - 1))


@dataclass
class Guard:
    """The limits that apply to one attempt, e.g. per address and per document: each
    check is (limit name, counter key, limit)."""

    checks: list[tuple[str, str, Limit]]
    limiter: RateLimiter
    taken: list[tuple[str, int]] = field(default_factory=list)

    @property
    def slots(self) -> list[tuple[str, Limit]]:
        return [(key, limit) for _, key, limit in self.checks]

    def reserve(self) -> bool:
        """Take a slot of every limit before the attempt; False (and none taken) when a
        limit is used up, and the attempt must be refused without being made. The slots
        are held by the request's transaction (their rows locked) until it commits:
        parallel attempts wait for it, and the count is exact. An attempt that runs
        argon2id commits them first (``citizens.verify_password``)."""
        windows = self.limiter.reserve(self.slots)
        if isinstance(windows, Refused):
            for name, key, _ in self.checks:
                if key in windows:
                    metrics.RATE_LIMIT_REFUSALS.labels(name).inc()
            return False
        self.taken = [(key, window) for (_, key, _), window in zip(self.checks, windows, strict=True)]
        return True

    def count_failure(self) -> None:
        """Count a failure already answered (no attempt waits on it): a full limit stays full."""
        self.limiter.reserve(self.slots)

    def release(self) -> None:
        """The attempt succeeded: its slots are given back, so limits count failures."""
        self.limiter.release(self.taken)
        self.taken = []

    @property
    def used_up(self) -> bool:
        """Whether a limit has no slot left, read without taking one: for a check in front
        of every request of a hot path (client authentication), where a write per success
        would cost more than the few parallel failures that may pass the limit together."""
        return self._full() is not None

    def used_up_on(self, connection: Connection) -> bool:
        """``used_up``, read on a connection of the engine (a layer answering in front of
        Flask, ``idp.oidc.endpoints.front``, has no request session)."""
        return self._full(connection) is not None

    def refuse_if_used_up(self) -> bool:
        """``used_up``, for a caller that then refuses the attempt unchecked: counted."""
        full = self._full()
        if full is not None:
            metrics.RATE_LIMIT_REFUSALS.labels(full).inc()
        return full is not None

    def _full(self, connection: Connection | None = None) -> str | None:
        for name, key, limit in self.checks:
            if self.limiter.count(key, limit.seconds, connection) >= limit.count:
                return name
        return None


def guard(action: str, **subjects: str | None) -> Guard:
    """``guard("login", ip=…, document=…)`` with the limits named ``login.ip``, ``login.document``."""
    limits = parse_limits(current_app.config["IDP_RATE_LIMITS"])
    checks = []
    for subject, value in subjects.items():
        name = f"{action}.{subject}"
        limit = limits.get(name)
        if limit is not None and value:
            checks.append((name, secrets.keyed_hash(f"{action}|{subject}|{value}", "rate"), limit))
    return Guard(checks, current_app.extensions["idp.ratelimiter"])


def client_address() -> str:
    """The address a limit counts. An IPv6 client usually holds a whole /64 and can pick
    a fresh address per request, so its /64 is counted as one address."""
    return network_of(request.remote_addr or "-")


def network_of(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def too_many_attempts():  # type: ignore[no-untyped-def]
    return render_template("error.html", message_key="rate_limited", status=429), 429
