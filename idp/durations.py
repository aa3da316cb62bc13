"""Lengths of time the citizen reads ("2 years", "5 minutos", "2 urte"), taken from the
settings that define them, so that a deployment that changes a lifetime never tells its
citizens the default one.

Babel's ``format_timedelta`` rounds to the largest unit that fits (400 days reads "1 year",
60 days "2 months"); a lifetime must read exactly, so it is given in the largest unit that
divides it (years of 365 days, weeks, days, hours, minutes, seconds).

The words of the app's languages come from ``_WORDS``, CLDR's own as Babel formats them
(``format_unit(n, unit, length="long")``: each unit's "one" and "other" pattern, and the
digit group separator). Babel loads a language's whole CLDR data to say them, its parents'
and CLDR's global table too, and keeps them for the life of the process: 4 MB in every
worker that had sent an SMS code (it states the code's lifetime), a twentieth of what
issue 14 allows a worker. ``tests/test_durations.py`` checks the table against Babel for
every language, unit and count; a language outside it is still formatted by Babel.
"""

from __future__ import annotations

from functools import lru_cache

from babel.units import format_unit
from flask import current_app
from flask_babel import get_locale

_UNITS = (("duration-year", 365 * 86400), ("duration-week", 7 * 86400), ("duration-day", 86400),
          ("duration-hour", 3600), ("duration-minute", 60))
_SECOND = "duration-second"

# Per language: the digit group separator, then per unit its "one" and "other" words. In
# each of these languages CLDR's "one" is the count 1 (its "many", the Romance languages'
# millions, has no pattern of its own for these units: "other" stands in).
_WORDS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "en": (",", {"duration-year": ("year", "years"), "duration-week": ("week", "weeks"),
                 "duration-day": ("day", "days"), "duration-hour": ("hour", "hours"),
                 "duration-minute": ("minute", "minutes"), _SECOND: ("second", "seconds")}),
    "es": (".", {"duration-year": ("año", "años"), "duration-week": ("semana", "semanas"),
                 "duration-day": ("día", "días"), "duration-hour": ("hora", "horas"),
                 "duration-minute": ("minuto", "minutos"), _SECOND: ("segundo", "segundos")}),
    "ca": (".", {"duration-year": ("any", "anys"), "duration-week": ("setmana", "setmanes"),
                 "duration-day": ("dia", "dies"), "duration-hour": ("hora", "hores"),
                 "duration-minute": ("minut", "minuts"), _SECOND: ("segon", "segons")}),
    "gl": ("\xa0", {"duration-year": ("ano", "anos"), "duration-week": ("semana", "semanas"),
                    "duration-day": ("día", "días"), "duration-hour": ("hora", "horas"),
                    "duration-minute": ("minuto", "minutos"), _SECOND: ("segundo", "segundos")}),
    "eu": (".", {"duration-year": ("urte", "urte"), "duration-week": ("aste", "aste"),
                 "duration-day": ("egun", "egun"), "duration-hour": ("ordu", "ordu"),
                 "duration-minute": ("minutu", "minutu"), _SECOND: ("segundo", "segundo")}),
}
_WORDS["ca_ES_VALENCIA"] = _WORDS["ca"]


def exact(seconds: int) -> str:
    """``seconds`` in the page's language, exactly: 300 → "5 minutes", 90 → "90 seconds"."""
    return _exact(seconds, str(get_locale() or current_app.config["IDP_DEFAULT_LOCALE"]))


@lru_cache(maxsize=256)
def _exact(seconds: int, locale: str) -> str:
    # Kept per length and language: a few lengths exist, and Babel's formatting (a language
    # outside _WORDS) was a twentieth of POST /login's Python.
    for unit, size in _UNITS:
        if seconds and seconds % size == 0:
            return said(seconds // size, unit, locale)
    return said(seconds, _SECOND, locale)


def said(count: int, unit: str, locale: str) -> str:
    """``count`` of a CLDR duration ``unit`` ("duration-minute"), long, in ``locale``: what
    Babel's ``format_unit`` says, without its locale data for the app's languages."""
    known = _WORDS.get(locale)
    if known is None:
        return format_unit(count, unit, length="long", locale=locale)
    group, units = known
    one, other = units[unit]
    return f"{count:,}".replace(",", group) + " " + (one if count == 1 else other)


def password_lifetime() -> str:
    """How long a new password stays valid (``IDP_PASSWORD_LIFETIME_DAYS``)."""
    return exact(current_app.config["IDP_PASSWORD_LIFETIME_DAYS"] * 86400)


def otp_lifetime() -> str:
    """How long an SMS code can be used (``IDP_OTP_TTL``)."""
    return exact(current_app.config["IDP_OTP_TTL"])
