"""What most Cl@ve Firma tests start from: a relying party's test client on the app, a
citizen, and a client authorised for signatures."""

from __future__ import annotations

import pytest

from tests.factories import make_citizen
from tests.firma.rp import signature_client


@pytest.fixture
def rp(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def person():  # type: ignore[no-untyped-def]
    return make_citizen()


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return signature_client()
