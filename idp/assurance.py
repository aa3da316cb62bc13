"""Levels of assurance (eIDAS): what a login proved. Pure.

A password alone is ``low``; a password and an SMS code, or Cl@ve mobile, ``substantial``.
Sessions, flows and the protocol (the ``acr`` claim) share these names.
"""

from __future__ import annotations

ACR_LOW = "http://eidas.europa.eu/LoA/low"
ACR_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
ACR_LEVELS = (ACR_LOW, ACR_SUBSTANTIAL)  # ascending


def acr_rank(acr: str | None) -> int:
    return ACR_LEVELS.index(acr) if acr in ACR_LEVELS else -1
