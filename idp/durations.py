"""Lengths of time the citizen reads ("2 years", "5 minutos", "2 urte"), taken from the
settings that define them, so that a deployment that changes a lifetime never tells its
citizens the default one.

Babel's ``format_timedelta`` rounds to the largest unit that fits (400 days reads "1 year",
60 days "2 months"); a lifetime must read exactly, so it is given in the largest unit that
divides it (years of 365 days, weeks, days, hours, minutes, seconds).
"""

from __future__ import annotations

from functools import lru_cache

from babel.units import format_unit
from flask import current_app
from flask_babel import get_locale

_UNITS = (("duration-year", 365 * 86400), ("duration-week", 7 * 86400), ("duration-day", 86400),
          ("duration-hour", 3600), ("duration-minute", 60))


def exact(seconds: int) -> str:
    """``seconds`` in the page's language, exactly: 300 → "5 minutes", 90 → "90 seconds"."""
    return _exact(seconds, str(get_locale() or current_app.config["IDP_DEFAULT_LOCALE"]))


@lru_cache(maxsize=256)
def _exact(seconds: int, locale: str) -> str:
    # Kept per length and language: Babel's formatting was a twentieth of POST /login's
    # Python (the SMS text tells the code's lifetime), and a few lengths exist.
    for unit, size in _UNITS:
        if seconds and seconds % size == 0:
            return format_unit(seconds // size, unit, length="long", locale=locale)
    return format_unit(seconds, "duration-second", length="long", locale=locale)


def password_lifetime() -> str:
    """How long a new password stays valid (``IDP_PASSWORD_LIFETIME_DAYS``)."""
    return exact(current_app.config["IDP_PASSWORD_LIFETIME_DAYS"] * 86400)


def otp_lifetime() -> str:
    """How long an SMS code can be used (``IDP_OTP_TTL``)."""
    return exact(current_app.config["IDP_OTP_TTL"])
