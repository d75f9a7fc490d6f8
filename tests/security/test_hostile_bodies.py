"""Oversized and overfull request bodies are refused with 400, never a 500.

Django refuses a non-file body above DATA_UPLOAD_MAX_MEMORY_SIZE and a body or query string
with more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields while parsing it; the portal's handler400
answers with its own page (templates/400.html) or, under /api/, with the API's error shape.
"""

import json

import pytest
from django.conf import settings

FORM = "application/x-www-form-urlencoded"


def _too_big_form():
    return "name_zh=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)


def _too_many_fields():
    return "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))


def _assert_page_400(response):
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<nav" in html  # the project's page on base.html, not Django's bare one


def _assert_api_400(response):
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "error" in json.loads(response.content)


def test_the_limits_are_djangos_defaults_or_tighter():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2.5 * 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= 1000


@pytest.mark.parametrize("body", [_too_big_form, _too_many_fields], ids=["too big", "too many"])
def test_a_page_refuses_the_body_with_its_400_page(client_a, body):
    _assert_page_400(client_a.post("/app/firms/new/", body(), content_type=FORM))


@pytest.mark.parametrize("body", [_too_big_form, _too_many_fields], ids=["too big", "too many"])
def test_the_login_page_refuses_the_body_for_a_visitor(client, body):
    _assert_page_400(client.post("/accounts/login/", body(), content_type=FORM))


def test_too_many_query_fields_on_a_page_is_a_400(client_a):
    _assert_page_400(client_a.get("/app/assets/?" + _too_many_fields()))


def test_the_400_page_is_in_english_when_chosen(client_a):
    client_a.cookies["portal_language"] = "en"
    response = client_a.post("/app/firms/new/", _too_many_fields(), content_type=FORM)
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()


@pytest.mark.parametrize("body", [_too_big_form, _too_many_fields], ids=["too big", "too many"])
def test_the_api_refuses_a_form_body_in_its_error_shape(client_a, body):
    _assert_api_400(client_a.post("/api/v1/tokens/", body(), content_type=FORM))


def test_the_api_refuses_a_too_big_json_body(client_a):
    payload = json.dumps({"expiry_days": 30, "pad": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    _assert_api_400(client_a.post("/api/v1/tokens/", payload, content_type="application/json"))


def test_the_api_refuses_a_json_body_nested_too_deep(client_a):
    # Python's json module recurses per level: a deep enough document must not become a 500.
    payload = "[" * 100_000 + "]" * 100_000
    response = client_a.post("/api/v1/tokens/", payload, content_type="application/json")
    assert response.status_code == 400


def test_the_api_refuses_too_many_query_fields(client_a):
    _assert_api_400(client_a.get("/api/v1/assets/?" + _too_many_fields()))


def test_the_public_premium_endpoint_refuses_a_too_big_body(client, db):
    payload = json.dumps({"pad": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = client.post(
        "/api/v1/products/PAT-ENF/premium/", payload, content_type="application/json"
    )
    assert response.status_code in (400, 404)  # 404 when the catalogue is not loaded
    assert response.status_code < 500
