"""Small factories: each returns the object and, beside it, the clear-text secret."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from idp import citizens
from idp.assurance import ACR_LOW
from idp.clients import register_client
from idp.documents import control_letter, parse_document
from idp.extensions import db
from idp.models import Citizen
from idp.oidc.models import Client

_numbers = itertools.count(10000000)
DEFAULT_PASSWORD = "Buen-Dia-2026!"  # noqa: S105


def new_dni() -> str:
    number = next(_numbers)
    return f"{number:08d}{control_letter(number)}"


@dataclass
class CitizenAndSecrets:
    citizen: Citizen
    password: str | None
    activation_code: str
    contrast_data: str

    @property
    def document(self) -> str:
        return self.citizen.document


def make_citizen(*, active: bool = True, password: str = DEFAULT_PASSWORD,
                 given_name: str = "Lucía", first_surname: str = "Martín",
                 second_surname: str | None = "Ortega", phone: str = "+34600111222",
                 email: str = "lucia@example.org", document: str | None = None,
                 contrast_data: str = "01012031") -> CitizenAndSecrets:
    registration = citizens.register(
        parse_document(document or new_dni()), given_name=given_name,
        first_surname=first_surname, second_surname=second_surname, email=email, phone=phone,
        contrast_data=contrast_data)
    if active:
        citizens.set_password(registration.citizen, password)
    db.session.commit()
    return CitizenAndSecrets(registration.citizen, password if active else None,
                             registration.activation_code, contrast_data)


@dataclass
class ClientAndSecret:
    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def redirect_uri(self) -> str:
        return self.client.redirect_uris[0]


def make_client(*, redirect_uris: list[str] | None = None, default_acr: str | None = ACR_LOW,
                auth_method: str = "client_secret_basic",
                scope: str = "openid profile email phone national_id",
                post_logout_redirect_uris: list[str] | None = None,
                **options: object) -> ClientAndSecret:
    registered = register_client(
        name="Agencia de Pruebas", redirect_uris=redirect_uris or ["https://rp.example/cb"],
        post_logout_redirect_uris=post_logout_redirect_uris or ["https://rp.example/bye"],
        scope=scope, auth_method=auth_method, default_acr=default_acr, **options)
    db.session.commit()
    return ClientAndSecret(registered.client, registered.secret)
