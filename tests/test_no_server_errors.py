"""Nothing a client or a browser can send makes the server answer 500, and a refused
request changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.extensions import db
from idp.models import Citizen
from tests.factories import make_citizen, make_client

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
maybe = st.one_of(st.none(), text, st.sampled_from(["", "openid", "none", "login", "S256",
                                                      "form_post", "-1", "9" * 30, "{}", "[]"]))
PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
          "max_age", "acr_values", "claims", "response_mode", "code_challenge",
          "code_challenge_method", "request", "request_uri", "ui_locales", "login_hint",
          "id_token_hint", "post_logout_redirect_uri", "grant_type", "code", "refresh_token",
          "token", "token_type_hint", "client_assertion", "client_assertion_type",
          "access_token", "code_verifier", "client_secret"]
fuzz = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _params(draw_dict: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in draw_dict.items() if v is not None}


@pytest.mark.parametrize("method,path", [
    ("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/token"), ("GET", "/userinfo"),
    ("POST", "/userinfo"), ("POST", "/revoke"), ("POST", "/introspect"), ("GET", "/logout"),
    ("POST", "/logout"),
])
def test_protocol_endpoints_never_answer_500(app, browser, method, path):
    rp = make_client()

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: maybe for name in PARAMS}),
           st.sampled_from([None, "Bearer x", "Basic Og==", "Basic %%%", f"Basic {rp.client_id}"]))
    def check(params, authorization):  # type: ignore[no-untyped-def]
        params = _params(params)
        headers = {"Authorization": authorization} if authorization else {}
        if method == "GET":
            response = browser.get(path, query_string=params, headers=headers)
        else:
            response = browser.post(path, data=params, headers=headers)
        assert response.status_code < 500, (params, response.get_data(as_text=True)[:500])

    check()


@pytest.mark.parametrize("path", ["/login", "/activate", "/consent", "/login/otp",
                                  "/activate/otp", "/activate/password", "/login/expired",
                                  "/language", "/logout", "/mobile/push", "/mobile/continue",
                                  "/session/end"])
def test_citizen_forms_never_answer_500_and_refusals_change_nothing(app, browser, path):
    person = make_citizen()
    page = browser.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    fields = ["document", "password", "otp", "email", "activation_code", "new_password",
              "new_password_confirm", "contrast_data", "ir", "decision", "action", "lang", "next",
              "challenge", "confirm"]

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: text for name in fields}), st.booleans())
    def check(form, with_csrf):  # type: ignore[no-untyped-def]
        before = db.session.scalar(db.select(db.func.count()).select_from(Citizen))
        data = {**form, **({"csrf_token": token} if with_csrf else {})}
        response = browser.post(path, data=data)
        assert response.status_code < 500, (form, response.get_data(as_text=True)[:500])
        db.session.expire_all()
        assert db.session.scalar(db.select(db.func.count()).select_from(Citizen)) == before
        assert db.session.get(Citizen, person.citizen.id).password_hash == person.citizen.password_hash

    check()


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12)


@pytest.mark.parametrize("path", ["/api/mobile/v1/enrollments", "/api/mobile/v1/devices",
                                  "/api/mobile/v1/challenges/x/decision"])
def test_mobile_api_never_answers_500_to_any_json(app, browser, path):
    make_citizen()

    @fuzz
    @given(json_values, st.one_of(st.none(), header_text))
    def check(body, proof):  # type: ignore[no-untyped-def]
        headers = {"Device-Proof": proof} if proof is not None else {}
        response = browser.post(path, json=body, headers=headers)
        assert response.status_code < 500, (body, response.get_data(as_text=True)[:300])
        assert response.is_json

    check()


@pytest.mark.parametrize("path", ["/", "/login", "/login/otp", "/login/expired", "/activate",
                                  "/activate/otp", "/activate/password", "/consent",
                                  "/mobile/status/x", "/mobile/qr/x.png", "/m/c/x", "/healthz"])
def test_citizen_pages_never_answer_500_to_any_query(app, browser, path):
    person = make_citizen()
    page = browser.get("/activate")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    browser.post("/activate", data={"csrf_token": token, "document": person.document,
                                    "email": person.citizen.email,
                                    "activation_code": person.activation_code})

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: text for name in
                                               ["problem", "ir", "next", "ui_locales", "lang"]}))
    def check(query):  # type: ignore[no-untyped-def]
        response = browser.get(path, query_string=query)
        assert response.status_code < 500, (query, response.get_data(as_text=True)[:300])

    check()
