"""Hostile uploads through the pages and the API: files above the 20 MB cap on every upload
form, and file names built to escape the storage folder or to mislead whoever reads them.

Whatever the name, the file is stored inside MEDIA_ROOT under a generated name; the name shown
on the page is cleaned and escaped; the download's Content-Disposition is a safe attachment.
"""

import html
import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from claims.models import ClaimDocument
from subsidies import services as subsidy_services
from subsidies.models import SubsidyDocument
from tests.claims.helpers import in_force_policy, notify_claim, pdf_bytes
from tests.subsidies.helpers import authority, programme
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture

MiB = 1024 * 1024
TOO_LARGE_ZH = "文件超过 20 MB"


@pytest.fixture
def catalogue(seeded_catalogue, db):  # noqa: F811
    """The module's shared catalogue."""


@pytest.fixture(autouse=True)
def background_stubs():
    # The documents' background checks belong to other modules' tests.
    with (
        mock.patch("claims.tasks.process_claim_document.delay"),
        mock.patch("subsidies.tasks.check_eligibility.delay"),
    ):
        yield


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


@pytest.fixture
def subsidy(policy, applicant_a):
    return subsidy_services.subsidy_request_create(
        policy=policy, programme=programme(authority()), actor=applicant_a
    )


def _big_pdf(name="big.pdf"):
    body = pdf_bytes(1)
    return SimpleUploadedFile(name, body + bytes(20 * MiB + 1 - len(body)), "application/pdf")


def _stored_files():
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


# --- Above the 20 MB cap ----------------------------------------------------------------------


def test_the_cap_is_20_mb():
    assert 20 * MiB == settings.CLAIM_UPLOAD_MAX_BYTES


def test_the_subsidy_page_refuses_a_file_above_20_mb(subsidy, client_a):
    response = client_a.post(
        f"/app/subsidies/{subsidy.pk}/documents/",
        {"code": "application_form", "file": _big_pdf()},
    )
    assert response.status_code == 200
    assert TOO_LARGE_ZH in html.unescape(response.content.decode())
    assert not SubsidyDocument.objects.exists()
    assert _stored_files() == []


def test_the_subsidy_api_refuses_a_file_above_20_mb(subsidy, client_a):
    response = client_a.post(
        f"/api/v1/subsidy-requests/{subsidy.pk}/documents/",
        {"code": "application_form", "file": _big_pdf()},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_large"
    assert not SubsidyDocument.objects.exists()
    assert _stored_files() == []


def test_the_claim_api_refuses_a_file_above_20_mb(claim, client_a):
    response = client_a.post(
        f"/api/v1/claims/{claim.pk}/documents/", {"code": "policy", "file": _big_pdf()}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_large"
    assert not ClaimDocument.objects.exists()
    assert _stored_files() == []


# --- Hostile names ------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\x.pdf",
    "/abs/path.pdf",
    "C:\\Windows\\system32\\evil.pdf",
    "nul\x00byte.pdf",
    "x" * 300 + ".pdf",
    "invoice\u202efdp.exe.pdf",
    "\u202e\u2066hidden\u2069.pdf",
    '"><img src=x onerror=alert(1)>.pdf',
    "<script>alert(1)</script>.pdf",
    "semi;colon\r\nX-Injected: 1.pdf",
    " . . ",
    "合同 扫描件（第一页）.pdf",
]
NAME_IDS = [
    "dotdot",
    "backslashes",
    "absolute",
    "windows",
    "nul",
    "very long",
    "rtl override",
    "isolates",
    "html attribute",
    "script",
    "header injection",
    "spaces and dots",
    "cjk",
]
RANDOM_NAME = re.compile(r"[A-Za-z0-9_-]{16,}\.pdf")


def _assert_stored_safely(document, subdir):
    media = Path(settings.MEDIA_ROOT).resolve()
    stored = Path(document.file.path).resolve()
    assert stored.is_relative_to(media), stored
    assert document.file.name.startswith(f"{subdir}/")
    assert RANDOM_NAME.fullmatch(stored.name), stored.name
    shown = document.original_name
    assert not set(shown) & {"/", "\\", "\x00", "\r", "\n", "\u202e", "\u2066", "\u2069"}
    assert len(shown) <= 200
    assert ".." not in shown.split("/")


def _assert_page_escapes(page_html, document):
    assert "<script>alert(1)</script>" not in page_html
    assert "<img src=x" not in page_html
    if document.original_name:
        assert html.escape(document.original_name) in page_html


def _assert_download_safe(response):
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "\r" not in disposition and "\n" not in disposition and "\x00" not in disposition
    assert "/" not in disposition.split("filename", 1)[-1].replace("utf-8''", "")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=NAME_IDS)
def test_a_hostile_claim_document_name(claim, client_a, name):
    file = SimpleUploadedFile(
        name, pdf_bytes(1) + name.encode("utf-8", "replace"), "application/pdf"
    )
    response = client_a.post(f"/app/claims/{claim.pk}/documents/", {"code": "policy", "file": file})
    assert response.status_code in (200, 302)
    document = ClaimDocument.objects.get()
    _assert_stored_safely(document, "claims")
    _assert_page_escapes(client_a.get(f"/app/claims/{claim.pk}/").content.decode(), document)
    _assert_download_safe(client_a.get(f"/app/claims/{claim.pk}/documents/{document.pk}/download/"))


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=NAME_IDS)
def test_a_hostile_subsidy_document_name(subsidy, client_a, name):
    file = SimpleUploadedFile(
        name, pdf_bytes(1) + name.encode("utf-8", "replace"), "application/pdf"
    )
    response = client_a.post(
        f"/app/subsidies/{subsidy.pk}/documents/", {"code": "application_form", "file": file}
    )
    assert response.status_code in (200, 302)
    document = SubsidyDocument.objects.get()
    _assert_stored_safely(document, "subsidies")
    _assert_page_escapes(client_a.get(f"/app/subsidies/{subsidy.pk}/").content.decode(), document)
    _assert_download_safe(
        client_a.get(f"/app/subsidies/{subsidy.pk}/documents/{document.pk}/download/")
    )


def test_a_hostile_name_through_the_api(claim, client_a):
    file = SimpleUploadedFile("../../../../etc/cron.d/x.pdf", pdf_bytes(1), "application/pdf")
    response = client_a.post(
        f"/api/v1/claims/{claim.pk}/documents/", {"code": "policy", "file": file}
    )
    assert response.status_code == 201
    document = ClaimDocument.objects.get()
    _assert_stored_safely(document, "claims")
    assert document.original_name == "x.pdf"


def _raw_multipart(filename: str, code: str) -> tuple[bytes, str]:
    """A body the test client will not build: a file part named exactly as given."""
    boundary = "HostileBoundary7MA4YWxkTrZu0gW"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="code"\r\n\r\n{code}\r\n'
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf_bytes(1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("filename", ["..", ".", "../..", "%2e%2e%2f", "a/../../b.pdf"])
def test_a_file_part_named_only_with_dots_is_not_a_server_error(claim, client_a, filename):
    body, content_type = _raw_multipart(filename, "policy")
    response = client_a.post(f"/app/claims/{claim.pk}/documents/", body, content_type=content_type)
    assert response.status_code in (200, 302, 400)
    for document in ClaimDocument.objects.all():
        _assert_stored_safely(document, "claims")
