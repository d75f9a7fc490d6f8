"""The claims REST API under /api/v1/claims/: reporting a claim (field errors, idempotent retries),
the claim with what is missing and the insurer's deadlines, uploading and downloading documents
(checked by content, like the page), withdrawing. Scoped to the user's firms: another firm's claim,
document or letter answers 404 and nothing changes.

The background check of an upload is stubbed out (as in tests/claims/test_pages.py), so a new
document stays "pending"."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from claims import services as claim_services
from claims.choices import ClaimDocumentStatus, ClaimStatus, LetterKind, LetterStatus
from claims.models import Claim, ClaimDocument, ClaimLetter
from tests.claims.helpers import in_force_policy, notify_claim, pdf_bytes, pdf_upload

CLAIMS = "/api/v1/claims/"
# A Windows executable's first bytes (MZ header, PE signature), as in the page tests.
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\0\0"


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (tests/api/conftest.py)."""


@pytest.fixture(autouse=True)
def processing_stub():
    with mock.patch("claims.tasks.process_claim_document.delay") as delay:
        yield delay


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_a(applicant_a):
    return client_of(applicant_a)


@pytest.fixture
def api_b(applicant_b):
    return client_of(applicant_b)


def claim_url(claim, suffix: str = "") -> str:
    return f"{CLAIMS}{claim.pk}/{suffix}"


def notify_body(policy, **overrides) -> dict:
    body = {
        "policy": policy.pk,
        "incident_date": (timezone.localdate() - timedelta(days=5)).isoformat(),
        "learned_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "cause_number": 2,
        "right_ids": [item["id"] for item in policy.terms["insured"]],
        "description": "A competitor copies our patented valve and sells it online.",
        "amount_claimed": "45000.50",
    }
    body.update(overrides)
    return body


def upload(client, claim, file, code="policy", **headers):
    return client.post(
        claim_url(claim, "documents/"), {"code": code, "file": file}, format="multipart", **headers
    )


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


# --- Reporting a claim ------------------------------------------------------------------------


def test_reporting_a_claim_with_a_real_token(policy, applicant_a, api_client, token_for):
    api_client.credentials(HTTP_AUTHORIZATION=token_for(applicant_a))
    response = api_client.post(CLAIMS, notify_body(policy), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    claim = Claim.objects.get()
    assert body["id"] == claim.pk and body["number"] == claim.number
    assert body["status"] == ClaimStatus.NOTIFIED
    assert body["policy"] == policy.pk and body["policy_number"] == policy.number
    assert claim.reported_by == applicant_a and claim.amount_claimed == Decimal("45000.50")
    assert body["amounts"]["claimed"] == "45000.50"
    assert body["amounts"]["paid"] == "0.00"
    assert body["amounts"]["policy_remaining_sum_insured"] == f"{policy.remaining_sum_insured:.2f}"
    assert body["facts"]["learned_on"] == notify_body(policy)["learned_on"]
    assert body["facts"]["cause_number"] == 2 and body["facts"]["cause"]
    assert body["deadlines"] == []  # nothing is owed before the documents are complete
    assert body["outstanding_items"], "the required checklist items are missing"
    assert {item["code"] for item in body["outstanding_items"]} <= {
        item["code"] for item in body["checklist"]
    }
    assert [event["code"] for event in body["timeline"]] == ["notified"]
    # The list shows it, with the same token.
    listed = api_client.get(CLAIMS).json()
    assert listed["count"] == 1 and listed["results"][0]["number"] == claim.number
    assert listed["results"][0]["missing_count"] == len(body["outstanding_items"])


def test_without_credentials_nothing_is_reported(policy, api_client):
    response = api_client.post(CLAIMS, notify_body(policy), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not Claim.objects.exists()


def test_an_incident_outside_the_period_is_a_field_error(policy, api_a):
    before = (policy.start_date - timedelta(days=1)).isoformat()
    response = api_a.post(
        CLAIMS, notify_body(policy, incident_date=before, learned_on=None), format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "fields"
    assert list(error["fields"]) == ["incident_date"]
    assert policy.start_date.isoformat() in error["fields"]["incident_date"][0]
    assert not Claim.objects.exists()


def test_shape_errors_come_back_per_field(policy, api_a):
    response = api_a.post(
        CLAIMS,
        notify_body(policy, amount_claimed="lots", incident_date="yesterday"),
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"amount_claimed", "incident_date"}
    assert not Claim.objects.exists()


def test_a_policy_of_another_firm_does_not_exist_for_the_user(policy, api_b):
    response = api_b.post(CLAIMS, notify_body(policy), format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"policy"}
    assert not Claim.objects.exists()


def test_a_retry_with_the_same_idempotency_key_reports_one_claim(policy, api_a):
    body = notify_body(policy)
    first = api_a.post(CLAIMS, body, format="json", HTTP_IDEMPOTENCY_KEY="claim-1")
    again = api_a.post(CLAIMS, body, format="json", HTTP_IDEMPOTENCY_KEY="claim-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Claim.objects.count() == 1
    # The same key for another body is refused; a new key reports a second claim.
    other = api_a.post(
        CLAIMS, {**body, "amount_claimed": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="claim-1"
    )
    assert other.status_code == 422
    assert Claim.objects.count() == 1
    assert (
        api_a.post(CLAIMS, body, format="json", HTTP_IDEMPOTENCY_KEY="claim-2").status_code == 201
    )
    assert Claim.objects.count() == 2


# --- The list ---------------------------------------------------------------------------------


def test_the_list_filters_orders_and_costs_the_same_queries(policy, applicant_a, api_a):
    first = notify_claim(policy, applicant_a)

    def numbers(**query):
        response = api_a.get(CLAIMS, query)
        assert response.status_code == 200, response.content
        return [row["number"] for row in response.json()["results"]]

    with CaptureQueriesContext(connection) as one:
        assert numbers() == [first.number]
    for _ in range(4):
        notify_claim(policy, applicant_a)
    withdrawn = notify_claim(policy, applicant_a)
    claim_services.claim_withdraw(claim=withdrawn, actor=applicant_a)
    with CaptureQueriesContext(connection) as six:
        assert len(numbers()) == 6
    assert len(six) == len(one)

    assert numbers(status="withdrawn") == [withdrawn.number]
    assert numbers(ordering="notified_at")[0] == first.number
    assert numbers(ordering="-notified_at")[0] == withdrawn.number
    assert numbers(policy=policy.pk, page_size=2) == numbers()[:2]
    assert numbers(policy=policy.pk + 1000) == []
    bad = api_a.get(CLAIMS, {"status": "lost"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


# --- The claim --------------------------------------------------------------------------------


def test_the_claim_shows_the_insurers_deadlines_once_documents_are_complete(
    claim, api_a, claims_handler
):
    waived = [item["code"] for item in claim_services.outstanding_items(claim)]
    claim_services.claim_documents_complete(claim=claim, actor=claims_handler, waived=waived)
    today = timezone.localdate()

    body = api_a.get(claim_url(claim)).json()
    assert body["status"] == ClaimStatus.UNDER_ASSESSMENT
    assert body["documents_complete_on"] == today.isoformat()
    assert body["outstanding_items"] == []
    deadlines = {row["kind"]: row for row in body["deadlines"]}
    assert set(deadlines) == {"decision", "advance_payment"}
    assert deadlines["decision"]["due"] == (today + timedelta(days=30)).isoformat()
    assert deadlines["decision"]["status"] == "open"
    assert deadlines["decision"]["done_on"] is None
    assert deadlines["decision"]["days_left"] == 30
    assert deadlines["advance_payment"]["due"] == (today + timedelta(days=60)).isoformat()
    assert [e["code"] for e in body["timeline"]] == ["notified", "documents_complete"]
    # The waiver is an internal note: not on the applicant's timeline.
    assert "waived" not in {e["code"] for e in body["timeline"]}

    # Past due: the status says so.
    Claim.objects.filter(pk=claim.pk).update(documents_complete_on=today - timedelta(days=40))
    body = api_a.get(claim_url(claim)).json()
    decision = next(row for row in body["deadlines"] if row["kind"] == "decision")
    assert decision["status"] == "overdue" and decision["days_left"] == -10


def test_only_ready_letters_are_listed_and_they_download(claim, api_a, api_b):
    name = default_storage.save(
        f"claims/{claim.firm_id}/{claim.pk}/{claim.number}-R1.pdf", ContentFile(pdf_bytes())
    )
    ready = ClaimLetter.objects.create(
        claim=claim,
        kind=LetterKind.REJECTION,
        reference=f"{claim.number}-R1",
        status=LetterStatus.READY,
        file=name,
        ready_at=timezone.now(),
    )
    ClaimLetter.objects.create(claim=claim, kind=LetterKind.SETTLEMENT, reference="QUEUED-1")
    letters = api_a.get(claim_url(claim)).json()["letters"]
    assert [letter["reference"] for letter in letters] == [ready.reference]
    url = letters[0]["download_url"]
    assert url.endswith(claim_url(claim, f"letters/{ready.pk}/file/"))
    response = api_a.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert content_of(response) == pdf_bytes()
    assert api_b.get(url).status_code == 404


# --- Documents --------------------------------------------------------------------------------


def test_uploading_a_real_pdf_creates_a_pending_document(claim, api_a):
    response = upload(api_a, claim, pdf_upload("invoice.pdf"))
    assert response.status_code == 201, response.content
    body = response.json()
    document = ClaimDocument.objects.get()
    assert body["id"] == document.pk and body["code"] == "policy"
    assert body["status"] == ClaimDocumentStatus.PENDING == document.status
    assert body["original_name"] == "invoice.pdf"
    assert body["content_type"] == "application/pdf"
    # It downloads as an attachment of the stored type, whatever the client accepts.
    download = api_a.get(body["file_url"], HTTP_ACCEPT="application/pdf")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert content_of(download) == pdf_bytes(1)  # what pdf_upload sent (cached per argument)
    # The claim lists it.
    detail = api_a.get(claim_url(claim)).json()
    assert [d["id"] for d in detail["documents"]] == [document.pk]


def test_a_retried_upload_with_the_same_key_stores_one_document(claim, api_a):
    first = upload(api_a, claim, pdf_upload(), HTTP_IDEMPOTENCY_KEY="up-1")
    again = upload(api_a, claim, pdf_upload(), HTTP_IDEMPOTENCY_KEY="up-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert ClaimDocument.objects.count() == 1
    # Without a key the service itself refuses the same file twice.
    duplicate = upload(api_a, claim, pdf_upload())
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "duplicate"


def test_a_renamed_windows_executable_is_refused(claim, api_a):
    fake = SimpleUploadedFile("invoice.pdf", EXECUTABLE, content_type="application/pdf")
    response = upload(api_a, claim, fake)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "type"
    assert error["fields"] == {"file": [error["message"]]}
    assert not ClaimDocument.objects.exists()
    folder = f"claims/{claim.firm_id}/{claim.pk}"
    assert not default_storage.exists(folder) or default_storage.listdir(folder) == ([], [])


def test_an_unknown_checklist_code_is_a_code_error(claim, api_a):
    response = upload(api_a, claim, pdf_upload(), code="no-such-item")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code"
    assert set(response.json()["error"]["fields"]) == {"code"}
    missing = api_a.post(claim_url(claim, "documents/"), {"code": "policy"}, format="multipart")
    assert missing.status_code == 400 and set(missing.json()["error"]["fields"]) == {"file"}
    assert not ClaimDocument.objects.exists()


# --- Another firm -----------------------------------------------------------------------------


def test_another_firms_token_gets_404_everywhere(
    claim, applicant_a, applicant_b, api_client, token_for
):
    document = claim_services.claim_document_upload(
        claim=claim, actor=applicant_a, code="policy", uploaded_file=pdf_upload()
    )
    api_client.credentials(HTTP_AUTHORIZATION=token_for(applicant_b))
    assert api_client.get(CLAIMS).json()["count"] == 0
    for url in (claim_url(claim), claim_url(claim, f"documents/{document.pk}/file/")):
        response = api_client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    response = upload(api_client, claim, pdf_upload(salt=b"b"))
    assert response.status_code == 404
    response = api_client.post(claim_url(claim, "withdraw/"), {}, format="json")
    assert response.status_code == 404
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.NOTIFIED
    assert ClaimDocument.objects.count() == 1
    # The owner's token still works.
    api_client.credentials(HTTP_AUTHORIZATION=token_for(applicant_a))
    assert api_client.get(claim_url(claim)).status_code == 200


def test_ids_too_large_for_the_database_are_not_found(claim, api_a):
    huge = 2**70
    for url in (
        claim_url(claim, f"documents/{huge}/file/"),
        f"{CLAIMS}{huge}/documents/1/file/",
        f"{CLAIMS}{huge}/letters/1/file/",
        f"{CLAIMS}{huge}/",
    ):
        assert api_a.get(url).status_code == 404, url
    response = api_a.get(CLAIMS, {"policy": huge})
    assert response.status_code == 400 and "policy" in response.json()["error"]["fields"]


# --- Withdrawing ------------------------------------------------------------------------------


def test_withdrawing_a_claim_once(claim, api_a):
    response = api_a.post(claim_url(claim, "withdraw/"), {"reason": "Settled with the infringer."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == ClaimStatus.WITHDRAWN
    assert body["accepts_documents"] is False and body["outstanding_items"] == []
    assert body["timeline"][-1]["reason"] == "Settled with the infringer."
    again = api_a.post(claim_url(claim, "withdraw/"))
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "closed"
    refused = upload(api_a, claim, pdf_upload())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "closed"


def test_a_decided_claim_cannot_be_withdrawn(claim, api_a):
    Claim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.UNDER_ASSESSMENT,
        decision="accept",
        decided_on=timezone.localdate(),
        documents_complete_on=timezone.localdate(),
    )
    response = api_a.post(claim_url(claim, "withdraw/"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "closed"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT


# --- The schema -------------------------------------------------------------------------------


def test_the_schema_documents_the_claims_endpoints(api_client, db):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    operations = {
        operation["operationId"]: (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    ids = [op["operationId"] for methods in schema["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    wanted = {
        "claims_list": ("/api/v1/claims/", "get"),
        "claims_create": ("/api/v1/claims/", "post"),
        "claims_retrieve": ("/api/v1/claims/{id}/", "get"),
        "claims_documents_create": ("/api/v1/claims/{id}/documents/", "post"),
        "claims_documents_file": ("/api/v1/claims/{id}/documents/{document_pk}/file/", "get"),
        "claims_letters_file": ("/api/v1/claims/{id}/letters/{letter_pk}/file/", "get"),
        "claims_withdraw": ("/api/v1/claims/{id}/withdraw/", "post"),
    }
    for operation_id, (path, method) in wanted.items():
        assert operations[operation_id][:2] == (path, method)
    upload_body = operations["claims_documents_create"][2]["requestBody"]["content"]
    assert list(upload_body) == ["multipart/form-data"]
    ref = upload_body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    file_field = schema["components"]["schemas"][ref]["properties"]["file"]
    assert file_field == {"type": "string", "format": "binary"}
    listing = operations["claims_list"][2]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "policy", "ordering", "page"}
    assert "Idempotency-Key" in {
        p["name"] for p in operations["claims_create"][2].get("parameters", [])
    }
