"""Who signs: the narrow view of a citizen that the signing service is given.

``signer_identity`` is the only function of ``idp.firma`` that reads the identity model;
keys, certificates and signatures are made from the ``SignerIdentity`` it returns, so the
signing service can be moved behind another boundary (a process, an HSM) unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.models import Citizen


@dataclass(frozen=True)
class SignerIdentity:
    """The facts a signing certificate states about its holder, and whose they are."""

    citizen_id: int
    document: str  # the normalised DNI/NIE, e.g. 12345678Z
    given_name: str
    first_surname: str
    second_surname: str | None = None

    @property
    def surnames(self) -> str:
        return " ".join(s for s in (self.first_surname, self.second_surname) if s)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surnames}"


def signer_identity(citizen: Citizen) -> SignerIdentity:
    return SignerIdentity(citizen_id=citizen.id, document=citizen.document,
                          given_name=citizen.given_name, first_surname=citizen.first_surname,
                          second_surname=citizen.second_surname or None)
