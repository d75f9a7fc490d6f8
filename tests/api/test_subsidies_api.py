"""The subsidies REST API: the applicant's requests (programmes for a policy, create, upload,
submit, answer, withdraw) and the officers' workspace (the queue, decisions with the caps checked
under the budget lock, publication, objections, disbursement batches). Officers see only their
authority's requests (another authority's answers 404); anyone else gets 403."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from subsidies import services
from subsidies.choices import BatchStatus, RequestStatus
from subsidies.models import Budget, DisbursementBatch, Objection, SubsidyDocument, SubsidyRequest
from tests.subsidies.helpers import DOCUMENTS, in_force_policy, programme, submitted_request, upload

REQUESTS = "/api/v1/subsidy-requests/"
QUEUE = "/api/v1/officer/requests/"
BATCHES = "/api/v1/officer/batches/"
D = Decimal


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (tests/api/conftest.py)."""


@pytest.fixture
def authority_x(officer_x):
    return officer_x.officer_membership.authority


@pytest.fixture
def wuxi(authority_x):
    return programme(authority_x)


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def queued(policy, wuxi, applicant_a):
    return submitted_request(policy, wuxi, applicant_a)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_a(applicant_a):
    return client_of(applicant_a)


@pytest.fixture
def api_x(officer_x):
    return client_of(officer_x)


def budget(prog) -> Budget:
    return Budget.objects.get(programme=prog, year=timezone.localdate().year)


def request_url(subsidy, suffix: str = "") -> str:
    return f"{REQUESTS}{subsidy.pk}/{suffix}"


def officer_url(subsidy, suffix: str = "") -> str:
    return f"{QUEUE}{subsidy.pk}/{suffix}"


def decide(client, subsidy, **body):
    return client.post(officer_url(subsidy, "decision/"), body, format="json")


def numbers(client, **query) -> list[str]:
    response = client.get(QUEUE, query)
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- The applicant ----------------------------------------------------------------------------


def test_the_applicant_applies_uploads_and_submits_with_a_token(
    policy, wuxi, applicant_a, officer_x, api_client, token_for, django_capture_on_commit_callbacks
):
    api_client.credentials(HTTP_AUTHORIZATION=token_for(applicant_a))

    offers = api_client.get(f"/api/v1/policies/{policy.pk}/subsidy-programmes/")
    assert offers.status_code == 200, offers.content
    [offer] = offers.json()["results"]
    assert offer["programme"]["code"] == wuxi.code
    assert [d["code"] for d in offer["programme"]["required_documents"]] == [
        d["code"] for d in DOCUMENTS
    ]
    expected = services.estimate(wuxi, policy)
    assert D(offer["expected_amount"]) == expected.amount
    assert offer["decided_by"] == expected.decided_by and offer["decided_text"]
    assert offer["request"] is None

    body = {"policy": policy.pk, "programme": wuxi.code, "high_value": False}
    created = api_client.post(REQUESTS, body, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    assert created.status_code == 201, created.content
    replay = api_client.post(REQUESTS, body, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    assert replay.status_code == 201 and replay.json()["id"] == created.json()["id"]
    assert SubsidyRequest.objects.count() == 1
    subsidy = SubsidyRequest.objects.get()
    draft = created.json()
    assert draft["status"] == RequestStatus.DRAFT and draft["number"] == subsidy.number
    assert D(draft["amounts"]["expected"]) == expected.amount
    assert [d["code"] for d in draft["missing_documents"]] == [d["code"] for d in DOCUMENTS]
    assert draft["eligibility"] == []
    # The programme now shows the request made under it.
    offers = api_client.get(f"/api/v1/policies/{policy.pk}/subsidy-programmes/").json()
    assert offers["results"][0]["request"]["id"] == subsidy.pk

    # Submitting before the documents are there is refused.
    early = api_client.post(request_url(subsidy, "submit/"))
    assert early.status_code == 400 and error_code(early) == "documents"

    for position, document in enumerate(DOCUMENTS):
        response = api_client.post(
            request_url(subsidy, "documents/"),
            {"code": document["code"], "file": upload(salt=b"%d" % position)},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        assert response.json()["code"] == document["code"]
    detail = api_client.get(request_url(subsidy)).json()
    assert detail["missing_documents"] == []
    assert len(detail["documents"]) == 2
    download = api_client.get(detail["documents"][0]["file_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"

    with django_capture_on_commit_callbacks(execute=True):
        submitted = api_client.post(request_url(subsidy, "submit/"))
    assert submitted.status_code == 200, submitted.content
    detail = api_client.get(request_url(subsidy)).json()
    # The eligibility check ran (eagerly, in tests) and put it in the officers' queue.
    assert detail["status"] == RequestStatus.UNDER_REVIEW
    assert detail["eligibility_outcome"] == "pass"
    assert {row["code"] for row in detail["eligibility"]} >= {"region", "paid_in_full", "budget"}
    assert all(row["text"] for row in detail["eligibility"])
    assert [e["code"] for e in detail["timeline"]] == [
        "created",
        "uploaded",
        "uploaded",
        "submitted",
        "checked",
    ]
    again = api_client.post(request_url(subsidy, "submit/"))
    assert again.status_code == 400 and error_code(again) == "status"

    assert numbers(client_of(officer_x)) == [subsidy.number]


def test_applying_twice_or_under_a_programme_elsewhere_is_refused(
    policy, wuxi, queued, api_a, officer_y
):
    twice = api_a.post(REQUESTS, {"policy": policy.pk, "programme": wuxi.code}, format="json")
    assert twice.status_code == 400 and error_code(twice) == "duplicate"
    shenzhen = programme(officer_y.officer_membership.authority, code="shenzhen-test")
    elsewhere = api_a.post(
        REQUESTS, {"policy": policy.pk, "programme": shenzhen.code}, format="json"
    )
    assert elsewhere.status_code == 400 and error_code(elsewhere) == "programme"
    unknown = api_a.post(REQUESTS, {"policy": policy.pk, "programme": "nope"}, format="json")
    assert unknown.status_code == 400 and set(unknown.json()["error"]["fields"]) == {"programme"}
    assert SubsidyRequest.objects.count() == 1


def test_another_firm_gets_404_on_the_applicants_endpoints(queued, policy, applicant_b):
    other = client_of(applicant_b)
    document = queued.documents.first()
    for url in (
        request_url(queued),
        request_url(queued, f"documents/{document.pk}/file/"),
        f"/api/v1/policies/{policy.pk}/subsidy-programmes/",
    ):
        assert other.get(url).status_code == 404, url
    for suffix in ("submit/", "withdraw/", "answer/"):
        assert other.post(request_url(queued, suffix), {"answer": "x"}).status_code == 404
    response = other.post(
        request_url(queued, "documents/"), {"code": "other", "file": upload(salt=b"b")}
    )
    assert response.status_code == 404
    assert other.get(REQUESTS).json()["count"] == 0
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW
    assert SubsidyDocument.objects.filter(request=queued).count() == 2


def test_a_question_is_answered_and_a_draft_withdrawn(queued, api_a, api_x, policy):
    missing = decide(api_x, queued, action="return")
    assert missing.status_code == 400 and set(missing.json()["error"]["fields"]) == {"question"}
    returned = decide(api_x, queued, action="return", question="Send the 2026 invoice.")
    assert returned.status_code == 200, returned.content
    assert returned.json()["status"] == RequestStatus.RETURNED
    detail = api_a.get(request_url(queued)).json()
    assert detail["question"] == "Send the 2026 invoice."
    assert detail["accepts_documents"] is True
    empty = api_a.post(request_url(queued, "answer/"), {"answer": ""}, format="json")
    assert empty.status_code == 400 and set(empty.json()["error"]["fields"]) == {"answer"}
    answered = api_a.post(
        request_url(queued, "answer/"), {"answer": "Uploaded as 'other'."}, format="json"
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == RequestStatus.UNDER_REVIEW
    assert answered.json()["question"] is None
    refused = api_a.post(request_url(queued, "withdraw/"))
    assert refused.status_code == 400 and error_code(refused) == "status"


# --- Who may use the officer endpoints --------------------------------------------------------


def test_applicants_get_403_on_officer_endpoints(queued, api_a, api_client):
    for url in (QUEUE, officer_url(queued), BATCHES):
        response = api_a.get(url)
        assert response.status_code == 403, url
        assert error_code(response) == "permission_denied"
    assert decide(api_a, queued, action="approve").status_code == 403
    assert api_a.post(f"{QUEUE}approve-many/", {"ids": [queued.pk]}).status_code == 403
    assert api_a.post(BATCHES, {"request_ids": [queued.pk]}).status_code == 403
    assert api_client.get(QUEUE).status_code == 401
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW


def test_another_authority_gets_404_and_changes_nothing(queued, officer_y):
    other = client_of(officer_y)
    assert other.get(officer_url(queued)).status_code == 404
    document = queued.documents.first()
    assert other.get(officer_url(queued, f"documents/{document.pk}/file/")).status_code == 404
    response = decide(other, queued, action="approve", amount="1.00")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert other.post(officer_url(queued, "publish/")).status_code == 404
    many = other.post(f"{QUEUE}approve-many/", {"ids": [queued.pk]}, format="json")
    assert many.status_code == 200
    assert many.json() == {"results": [], "not_found": [queued.pk]}
    assert numbers(other, status="all") == []
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW and queued.approved_amount is None
    assert budget(queued.programme).committed == 0


# --- The queue and decisions ------------------------------------------------------------------


def test_the_queue_filters_and_costs_the_same_queries(queued, api_x, catalogue, wuxi):
    assert numbers(api_x) == [queued.number]
    assert numbers(api_x, eligibility="pass") == [queued.number]
    assert numbers(api_x, eligibility="fail") == []
    assert numbers(api_x, programme=wuxi.code) == [queued.number]
    assert numbers(api_x, programme=str(wuxi.pk)) == [queued.number]
    assert numbers(api_x, programme="other") == []
    assert numbers(api_x, status="approved") == []
    assert numbers(api_x, q=queued.firm.uscc) == [queued.number]
    row = api_x.get(QUEUE).json()["results"][0]
    assert row["firm"]["name"] == queued.firm.name_zh and row["eligibility_outcome"] == "pass"
    bad = api_x.get(QUEUE, {"eligibility": "maybe"})
    assert bad.status_code == 400 and "eligibility" in bad.json()["error"]["fields"]

    from tests.factories import FirmFactory, MembershipFactory

    with CaptureQueriesContext(connection) as one:
        numbers(api_x)
    for index in range(3):
        firm = FirmFactory(name_zh=f"丙{index}公司")
        user = MembershipFactory(firm=firm).user
        submitted_request(in_force_policy(firm, user), wuxi, user)
    with CaptureQueriesContext(connection) as four:
        assert len(numbers(api_x)) == 4
    assert len(four) == len(one)
    ordered = numbers(api_x, ordering="-submitted_at")
    assert ordered == list(reversed(numbers(api_x)))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_queue_rows_are_what_drf_would_write(queued, api_x, officer_x, language):
    """The list's rows are written out by hand (OfficerRequestSummarySerializer.to_representation)
    from the few columns the list reads: the same JSON as DRF's field by field walk."""
    from django.utils import translation
    from rest_framework import serializers as drf
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from subsidies.serializers import OfficerRequestSummarySerializer

    batch = DisbursementBatch.objects.create(
        authority=queued.authority, number="PD-TEST-1", created_by=officer_x
    )
    SubsidyRequest.objects.filter(pk=queued.pk).update(
        status=RequestStatus.PUBLICISED, approved_amount=D("1234.50"), batch=batch
    )
    SubsidyRequest.objects.bulk_create(
        [
            SubsidyRequest(
                number="SUB-NULLS-1",
                programme=programme(queued.authority, code="nulls"),
                authority=queued.authority,
                policy=queued.policy,
                firm=queued.firm,
                year=queued.year,
                status=RequestStatus.DRAFT,
                premium_paid=D("1000.00"),
                rate=D("50"),
                expected_amount=D("0.05"),
                created_by=queued.created_by,
            )
        ]
    )
    response = api_x.get(QUEUE, {"status": "all"}, HTTP_ACCEPT_LANGUAGE=language)
    rows = response.json()["results"]
    assert [row["number"] for row in rows] == [queued.number, "SUB-NULLS-1"]
    assert rows[1]["submitted_at"] is None and rows[1]["approved_amount"] is None
    assert rows[0]["batch"] == batch.pk and rows[0]["approved_amount"] == "1234.50"
    serializer = OfficerRequestSummarySerializer(
        context={"request": Request(APIRequestFactory().get(QUEUE))}
    )
    with translation.override(language):
        expected = [
            drf.Serializer.to_representation(serializer, subsidy)
            for subsidy in SubsidyRequest.objects.filter(number__in=[r["number"] for r in rows])
            .select_related("programme", "firm", "policy__product")
            .order_by("number")
        ]
    assert sorted(rows, key=lambda row: row["number"]) == expected
    assert rows[0]["status_label"] == ("Published for objections" if language == "en" else "公示中")


def test_approving_a_lowered_amount_and_never_above_the_caps(queued, api_x):
    detail = api_x.get(officer_url(queued))
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["allowed_actions"] == ["approve", "reject", "return"]
    most = D(body["breakdown"]["most"])
    assert most > 0
    assert [row["decides"] for row in body["breakdown"]["limits"]].count(True) == 1
    assert len(body["documents"]) == 2 and len(body["eligibility"]) > 0

    above = decide(api_x, queued, action="approve", amount=str(most + D("0.01")))
    assert above.status_code == 400
    assert error_code(above) == "cap"
    assert budget(queued.programme).committed == 0

    lowered = (most / 2).quantize(D("0.01"))
    response = decide(api_x, queued, action="approve", amount=str(lowered))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == RequestStatus.APPROVED
    assert D(response.json()["approved_amount"]) == lowered
    assert response.json()["allowed_actions"] == ["objection", "publish"]
    queued.refresh_from_db()
    assert queued.approved_amount == lowered
    assert budget(queued.programme).committed == lowered
    # Deciding again is refused before the service is asked.
    again = decide(api_x, queued, action="reject", reasons="Changed my mind.")
    assert again.status_code == 400 and error_code(again) == "status"


def test_a_rejection_needs_reasons(queued, api_x, api_a):
    response = decide(api_x, queued, action="reject", reasons="  ")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"reasons"}
    response = decide(api_x, queued, action="reject", reasons="Outside the region.")
    assert response.status_code == 200
    assert response.json()["status"] == RequestStatus.REJECTED
    assert api_a.get(request_url(queued)).json()["reasons"] == "Outside the region."
    bogus = decide(api_x, queued, action="pay")
    assert bogus.status_code == 400 and set(bogus.json()["error"]["fields"]) == {"action"}


def test_approve_many_reports_each_request(queued, api_x, policy, wuxi):
    response = api_x.post(f"{QUEUE}approve-many/", {"ids": [queued.pk, 999999]}, format="json")
    assert response.status_code == 200, response.content
    [result] = response.json()["results"]
    assert result["id"] == queued.pk and result["number"] == queued.number
    assert result["approved"] is True and result["message"] == ""
    assert response.json()["not_found"] == [999999]
    queued.refresh_from_db()
    assert queued.status == RequestStatus.APPROVED
    assert D(result["amount"]) == queued.approved_amount
    # A second time, the service's refusal is reported for it.
    again = api_x.post(f"{QUEUE}approve-many/", {"ids": [queued.pk]}, format="json").json()
    assert again["results"][0]["approved"] is False and again["results"][0]["message"]


# --- Publication, objections, batches ---------------------------------------------------------


def test_an_objection_puts_the_request_back_under_review(queued, api_x):
    assert decide(api_x, queued, action="approve").status_code == 200
    assert api_x.post(officer_url(queued, "publish/")).status_code == 200
    response = api_x.post(
        officer_url(queued, "objections/"),
        {"raised_by": "A competitor", "text": "The firm moved to Suzhou in March."},
        format="json",
    )
    assert response.status_code == 201, response.content
    objection = Objection.objects.get()
    assert response.json()["id"] == objection.pk
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW and queued.approved_amount is None
    assert budget(queued.programme).committed == 0
    detail = api_x.get(officer_url(queued)).json()
    assert [o["raised_by"] for o in detail["objections"]] == ["A competitor"]
    assert "objection" in [event["code"] for event in detail["timeline"]]


def test_a_batch_after_publication_is_paid_with_an_officer_token(
    queued, officer_x, api_client, token_for
):
    api_client.credentials(HTTP_AUTHORIZATION=token_for(officer_x))
    approved = api_client.post(officer_url(queued, "decision/"), {"action": "approve"})
    assert approved.status_code == 200, approved.content
    amount = D(approved.json()["approved_amount"])
    published = api_client.post(officer_url(queued, "publish/"))
    assert published.status_code == 200
    assert published.json()["status"] == RequestStatus.PUBLICISED
    assert published.json()["publication_ends"] >= timezone.localdate().isoformat()

    # Not while the publication runs.
    early = api_client.post(BATCHES, {"request_ids": [queued.pk]}, format="json")
    assert early.status_code == 400 and error_code(early) == "publication"
    assert not DisbursementBatch.objects.exists()

    yesterday = timezone.localdate() - timedelta(days=1)
    SubsidyRequest.objects.filter(pk=queued.pk).update(publication_ends=yesterday)
    created = api_client.post(
        BATCHES, {"request_ids": [queued.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert created.status_code == 201, created.content
    replay = api_client.post(
        BATCHES, {"request_ids": [queued.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert replay.json()["id"] == created.json()["id"]
    batch = DisbursementBatch.objects.get()
    body = created.json()
    assert body["number"] == batch.number and body["status"] == BatchStatus.OPEN
    assert body["request_count"] == 1 and D(body["total"]) == amount
    assert [row["number"] for row in body["requests"]] == [queued.number]
    listed = api_client.get(BATCHES).json()
    assert [row["number"] for row in listed["results"]] == [batch.number]

    future = (timezone.localdate() + timedelta(days=1)).isoformat()
    refused = api_client.post(
        f"{BATCHES}{batch.pk}/paid/", {"reference": "T-1", "paid_on": future}, format="json"
    )
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"paid_on"}
    paid = api_client.post(f"{BATCHES}{batch.pk}/paid/", {"reference": "TREAS-2026-1"})
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] == BatchStatus.PAID
    assert paid.json()["payment_reference"] == "TREAS-2026-1"
    assert paid.json()["paid_on"] == timezone.localdate().isoformat()
    queued.refresh_from_db()
    assert queued.status == RequestStatus.DISBURSED
    money = budget(queued.programme)
    assert money.paid == amount and money.committed == 0
    twice = api_client.post(f"{BATCHES}{batch.pk}/paid/", {"reference": "TREAS-2026-2"})
    assert twice.status_code == 400 and error_code(twice) == "status"


def test_batches_of_another_authority_are_404(queued, officer_x, officer_y, api_x):
    decide(api_x, queued, action="approve")
    api_x.post(officer_url(queued, "publish/"))
    SubsidyRequest.objects.filter(pk=queued.pk).update(
        publication_ends=timezone.localdate() - timedelta(days=1)
    )
    batch = services.batch_create(actor=officer_x, request_ids=[queued.pk])
    other = client_of(officer_y)
    assert other.get(f"{BATCHES}{batch.pk}/").status_code == 404
    assert other.post(f"{BATCHES}{batch.pk}/paid/", {"reference": "X"}).status_code == 404
    assert other.get(BATCHES).json()["count"] == 0
    refused = other.post(BATCHES, {"request_ids": [queued.pk]}, format="json")
    assert refused.status_code == 400 and error_code(refused) == "empty"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.OPEN


def test_ids_too_large_for_the_database_are_refused(queued, api_a, api_x):
    huge = 2**70
    assert api_a.get(f"{REQUESTS}{huge}/documents/1/file/").status_code == 404
    assert api_a.get(f"/api/v1/policies/{huge}/subsidy-programmes/").status_code == 404
    assert api_a.get(REQUESTS, {"policy": huge}).status_code == 400
    assert numbers(api_x, programme=str(huge)) == []
    assert api_x.get(officer_url(queued, f"documents/{huge}/file/")).status_code == 404
    response = api_x.post(f"{QUEUE}approve-many/", {"ids": [huge]}, format="json")
    assert response.status_code == 400 and "ids.0" in response.json()["error"]["fields"]


# --- The schema -------------------------------------------------------------------------------


def test_the_schema_documents_the_subsidy_endpoints(api_client, db):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operations = {
        op["operationId"]: (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }
    ids = [op["operationId"] for methods in schema["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    for operation_id, path in {
        "subsidy_programmes_for_policy": "/api/v1/policies/{policy_pk}/subsidy-programmes/",
        "subsidy_requests_create": "/api/v1/subsidy-requests/",
        "subsidy_requests_documents_create": "/api/v1/subsidy-requests/{id}/documents/",
        "officer_requests_list": "/api/v1/officer/requests/",
        "officer_requests_decide": "/api/v1/officer/requests/{id}/decision/",
        "officer_requests_approve_many": "/api/v1/officer/requests/approve-many/",
        "officer_batches_create": "/api/v1/officer/batches/",
        "officer_batches_paid": "/api/v1/officer/batches/{id}/paid/",
    }.items():
        assert operations[operation_id][0] == path
    content = operations["subsidy_requests_documents_create"][2]["requestBody"]["content"]
    ref = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][ref]["properties"]["file"]["format"] == "binary"
    decide_op = operations["officer_requests_decide"][2]
    assert "Idempotency-Key" in {p["name"] for p in decide_op.get("parameters", [])}
