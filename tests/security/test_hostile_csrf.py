"""A POST without its CSRF token is refused with 403 in every area of the portal.

The browser journeys always carry the token; these requests come from a client that checks
CSRF like a real browser session would (``enforce_csrf_checks=True``) and deliberately omits it.
The refusal is the portal's own page (templates/403_csrf.html, on base.html), in Chinese.
"""

import pytest
from django.test import Client

from portal.models import Firm


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def _assert_csrf_refusal(response, *, chinese=True):
    assert response.status_code == 403
    html = response.content.decode()
    # The project's page: its layout, not Django's bare "CSRF verification failed" page.
    assert "CSRF verification failed" not in html
    assert "<nav" in html and 'href="/"' in html
    if chinese:
        assert "无权访问" in html


def test_applicant_page_without_token(browser, applicant_a):
    browser.force_login(applicant_a)
    data = {"name_zh": "跨站请求伪造公司", "uscc": "91320214MA0000001R", "region_code": "320214"}
    _assert_csrf_refusal(browser.post("/app/firms/new/", data))
    assert not Firm.objects.filter(name_zh="跨站请求伪造公司").exists()


def test_applicant_page_with_token_goes_through_the_same_client(browser, applicant_a):
    # The control: the same client with the token reaches the form (a validation re-render).
    browser.force_login(applicant_a)
    browser.get("/app/firms/new/")
    token = browser.cookies["csrftoken"].value
    response = browser.post("/app/firms/new/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 200


def test_officer_page_without_token(browser, officer_x):
    browser.force_login(officer_x)
    _assert_csrf_refusal(browser.post("/officer/requests/1/reject/", {"reason": "x"}))


def test_admin_page_without_token(browser, claims_handler):
    browser.force_login(claims_handler)
    _assert_csrf_refusal(browser.post("/admin/claims/claim/1/assign/", {"handler": "1"}))


def test_allauth_login_without_token(browser, applicant_a):
    response = browser.post(
        "/accounts/login/", {"login": "a@example.test", "password": "pass-for-tests-1"}
    )
    _assert_csrf_refusal(response)
    assert "_auth_user_id" not in browser.session


def test_api_with_the_session_needs_the_token_too(browser, applicant_a):
    browser.force_login(applicant_a)
    response = browser.post("/api/v1/tokens/", {}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")


def test_the_refusal_is_in_english_when_english_is_chosen(browser, applicant_a):
    browser.force_login(applicant_a)
    browser.cookies["portal_language"] = "en"
    response = browser.post("/app/firms/new/", {})
    _assert_csrf_refusal(response, chinese=False)
    assert "Access denied" in response.content.decode()
