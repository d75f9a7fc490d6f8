"""Security headers on the portal's responses, and no inline script anywhere.

The permission matrix (tests/security/test_permission_matrix.py) checks the headers on every
URL pattern; these tests pin the policy itself, the templates and the production transport
settings.
"""

import json
import re
from pathlib import Path

import pytest

from tests.portal.test_settings import PRODUCTION_ENV, _run_manage

ROOT = Path(__file__).resolve().parents[2]


def _policy(response):
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/products/",
        "/accounts/login/",
        "/verify/",
        "/public/subsidies/",
        "/api/v1/products/",
        "/api/docs/",
    ],
)
def test_public_pages_carry_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"]


@pytest.mark.django_db
def test_error_pages_and_signed_in_pages_carry_the_policy_too(client_a):
    for path in ("/app/", "/app/applications/", "/no-such-page/", "/api/v1/no-such-thing/"):
        response = client_a.get(path)
        assert "script-src 'self'" in response["Content-Security-Policy"], path
        assert response["X-Content-Type-Options"] == "nosniff", path


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I)


def _templates():
    for folder in ("templates", "portal", "underwriting", "claims", "subsidies"):
        yield from (ROOT / folder).rglob("*.html")


def test_no_template_has_inline_script_or_event_handler_attributes():
    offenders = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            if "src=" not in attributes and "application/json" not in attributes:
                offenders.append(f"{path.relative_to(ROOT)}: inline <script>")
        if EVENT_HANDLER.search(text):
            offenders.append(f"{path.relative_to(ROOT)}: on…= handler")
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert offenders == []


def test_the_template_check_catches_an_inline_script():
    assert SCRIPT_TAG.search("<script>alert(1)</script>").group(1) == ""
    assert EVENT_HANDLER.search('<select onchange="this.form.submit()">')


PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.test import Client
response = Client().get("/robots.txt", secure=True)
print(json.dumps({
    "hsts": response.get("Strict-Transport-Security"),
    "csp": response.get("Content-Security-Policy"),
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "plain_http": Client().get("/robots.txt").status_code,
}))
"""


def test_production_sends_hsts_and_marks_cookies_secure():
    extra = dict(PRODUCTION_ENV, DJANGO_ALLOWED_HOSTS="testserver")
    result = _run_manage("shell", "-c", PRODUCTION_PROBE, extra_env=extra)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in seen["csp"]
    assert seen["session_secure"] and seen["csrf_secure"] and seen["session_httponly"]
    assert seen["ssl_redirect"] is True
    # Plain HTTP is sent to HTTPS before any page is served.
    assert seen["plain_http"] == 301
