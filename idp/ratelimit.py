"""Named rate limits, checked before an attempt and hit when it fails (as Warehouse does).

Counters live in the database by default, so every app process sees the same counts.
Keys are hashed: a counter row never shows which document or address it counts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol

from flask import current_app, render_template, request
from sqlalchemy import Integer, String, delete, exc, update
from sqlalchemy.orm import Mapped, mapped_column

from idp import secrets
from idp.clock import clock
from idp.extensions import db


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, seconds = text.split("/")
        return cls(int(count), int(seconds))


def parse_limits(text: str) -> dict[str, Limit]:
    """``"login.ip=30/300 login.document=10/300"`` → {"login.ip": Limit(30, 300), …}."""
    limits = {}
    for item in text.split():
        name, value = item.split("=")
        limits[name] = Limit.parse(value)
    return limits


class RateLimiter(Protocol):
    def count(self, key: str, seconds: int) -> int: ...

    def hit(self, key: str, seconds: int) -> int: ...


class RateCounter(db.Model):
    __tablename__ = "rate_counters"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DatabaseRateLimiter:
    """Fixed windows; increments are single UPDATE statements, safe across processes."""

    def _window(self, seconds: int) -> int:
        return clock.timestamp() // seconds * seconds

    def count(self, key: str, seconds: int) -> int:
        row = db.session.get(RateCounter, key)
        return row.count if row is not None and row.window_start == self._window(seconds) else 0

    def hit(self, key: str, seconds: int) -> int:
        window = self._window(seconds)
        for _ in range(3):
            counted = db.session.execute(
                update(RateCounter).where(RateCounter.key_hash == key, RateCounter.window_start == window)
                .values(count=RateCounter.count + 1)).rowcount
            if counted:
                db.session.commit()
                return self.count(key, seconds)
            db.session.execute(delete(RateCounter).where(RateCounter.key_hash == key,
                                                         RateCounter.window_start != window))
            db.session.add(RateCounter(key_hash=key, window_start=window, count=1))
            try:
                db.session.commit()
                return 1
            except exc.IntegrityError:
                db.session.rollback()
        return self.count(key, seconds)


@dataclass
class Guard:
    """The limits that apply to one attempt, e.g. per address and per document."""

    checks: list[tuple[str, Limit]]
    limiter: RateLimiter

    @property
    def exceeded(self) -> bool:
        return any(self.limiter.count(key, limit.seconds) >= limit.count for key, limit in self.checks)

    def hit(self) -> None:
        for key, limit in self.checks:
            self.limiter.hit(key, limit.seconds)


def guard(action: str, **subjects: str | None) -> Guard:
    """``guard("login", ip=…, document=…)`` with the limits named ``login.ip``, ``login.document``."""
    limits = parse_limits(current_app.config["IDP_RATE_LIMITS"])
    checks = []
    for subject, value in subjects.items():
        limit = limits.get(f"{action}.{subject}")
        if limit is not None and value:
            checks.append((secrets.keyed_hash(f"{action}|{subject}|{value}", "rate"), limit))
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
