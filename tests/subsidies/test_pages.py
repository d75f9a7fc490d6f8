"""The applicant's subsidy pages and the public publication list: the policy page's subsidy block
(the programmes that may apply with the amount to expect), applying, uploading the required
documents, submitting, answering the officer's question, downloading, withdrawing, the list of
requests, and the public list of subsidies published for objections (公示).

Only members of the request's firm see it: another firm's request or document answers 404.
Text assertions run in English (the language cookie); figures are the same in both languages."""

import html
import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subsidies import services
from subsidies.choices import RequestStatus
from subsidies.models import SubsidyDocument, SubsidyEvent, SubsidyRequest
from tests.subsidies.helpers import in_force_policy, programme, submitted_request, upload

LANGUAGE_COOKIE = "portal_language"
# A Windows executable's first bytes (MZ header, PE signature).
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\0\0"
WRONG_TYPE = "Only PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx) files are accepted."


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture(autouse=True)
def eligibility_stub():
    """The eligibility check is enqueued after commit; record it instead of running it."""
    with mock.patch("subsidies.tasks.check_eligibility.delay") as delay:
        yield delay


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
def en_a(client_a):
    client_a.cookies[LANGUAGE_COOKIE] = "en"
    return client_a


@pytest.fixture
def other(applicant_b):
    """Firm B's member, in a client of its own."""
    client = Client()
    client.force_login(applicant_b)
    client.cookies[LANGUAGE_COOKIE] = "en"
    return client


@pytest.fixture
def visitor():
    client = Client()
    client.cookies[LANGUAGE_COOKIE] = "en"
    return client


def text(response) -> str:
    return response.content.decode()


def section(page: str, element_id: str) -> str:
    """The HTML from the element with ``element_id`` to the end of its tag's block."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"', page)
    assert match, element_id
    tag = match.group(1)
    depth, at = 0, match.start()
    for piece in re.finditer(rf"<(/?){tag}\b[^>]*>", page[at:]):
        depth += -1 if piece.group(1) else 1
        if depth == 0:
            return page[at : at + piece.end()]
    return page[at:]


def field_errors(page: str, name: str) -> list[str]:
    return [
        " ".join(error.split())
        for error in re.findall(rf'data-field="{name}">(.*?)</div>', page, re.S)
    ]


def money(value) -> str:
    return f"{Decimal(value):,.2f}"


def url(subsidy, suffix: str = "") -> str:
    return f"/app/subsidies/{subsidy.pk}/{suffix}"


def apply(client, policy, prog, **data):
    return client.post(f"/app/subsidies/new/{policy.pk}/{prog.code}/", data)


# --- The policy page --------------------------------------------------------------------------


def test_the_policy_page_shows_the_programme_and_the_amount_to_expect(en_a, policy, wuxi):
    expected = services.estimate(wuxi, policy).amount
    assert expected > 0
    page = text(en_a.get(f"/app/policies/{policy.pk}/"))
    block = section(page, "policy-subsidies")
    offer = section(block, "subsidy-offers")
    assert wuxi.name_en in offer
    assert f"CNY {money(expected)}" in offer
    paid = services.premium_paid(policy)
    assert f"50 % of the premium paid (CNY {money(paid)})." in offer
    assert 'data-decided-by="rate"' in offer
    assert f"/app/subsidies/new/{policy.pk}/{wuxi.code}/" in offer
    assert wuxi.window_end.isoformat() in offer


def test_a_cap_that_decides_the_amount_is_named(en_a, policy, authority_x):
    programme(authority_x, code="capped", cap_per_policy=Decimal("100.00"))
    offer = section(text(en_a.get(f"/app/policies/{policy.pk}/")), "subsidy-offers")
    assert 'data-decided-by="cap_per_policy"' in offer
    assert "CNY 100.00" in offer
    assert "Limited by the cap of CNY 100.00 per policy." in offer


def test_once_applied_the_policy_page_links_to_the_request(en_a, policy, wuxi, applicant_a):
    subsidy = services.subsidy_request_create(policy=policy, programme=wuxi, actor=applicant_a)
    offer = section(text(en_a.get(f"/app/policies/{policy.pk}/")), "subsidy-offers")
    assert url(subsidy) in offer
    assert "subsidy-apply" not in offer


# --- Applying, uploading, submitting ----------------------------------------------------------


def test_apply_upload_and_submit_through_the_pages(
    en_a, policy, wuxi, eligibility_stub, django_capture_on_commit_callbacks
):
    response = apply(en_a, policy, wuxi)
    subsidy = SubsidyRequest.objects.get()
    assert response.status_code == 302
    assert response.url == url(subsidy)
    assert subsidy.status == RequestStatus.DRAFT
    assert subsidy.firm == policy.firm

    page = text(en_a.get(url(subsidy)))
    submit = section(page, "submit")
    assert "Subsidy application form" in submit and "Proof of premium payment" in submit
    assert "disabled" in section(submit, "submit-form")

    # An executable renamed to .pdf is refused with the upload checker's message.
    fake = SimpleUploadedFile("form.pdf", EXECUTABLE, content_type="application/pdf")
    refused = en_a.post(url(subsidy, "documents/"), {"code": "application_form", "file": fake})
    assert refused.status_code == 200
    assert field_errors(text(refused), "file") == [WRONG_TYPE]
    assert not SubsidyDocument.objects.exists()

    for position, code in enumerate(["application_form", "payment_proof"]):
        done = en_a.post(
            url(subsidy, "documents/"),
            {"code": code, "file": upload(f"{code}.pdf", salt=b"%d" % position)},
        )
        assert done.status_code == 302, field_errors(text(done), "file")
    assert sorted(subsidy.documents.values_list("code", flat=True)) == [
        "application_form",
        "payment_proof",
    ]
    page = text(en_a.get(url(subsidy)))
    assert "nothing-missing" in page
    assert "disabled" not in section(section(page, "submit"), "submit-form")

    with django_capture_on_commit_callbacks(execute=True):
        response = en_a.post(url(subsidy, "submit/"))
    assert response.status_code == 302
    subsidy.refresh_from_db()
    assert subsidy.status == RequestStatus.SUBMITTED
    eligibility_stub.assert_called_once_with(subsidy.pk)
    page = text(en_a.get(url(subsidy)))
    assert 'data-status="submitted"' in page
    codes = re.findall(r'timeline-event[^"]*" data-code="(\w+)"', page)
    assert codes == ["created", "uploaded", "uploaded", "submitted"]


def test_submitting_with_documents_missing_says_which(en_a, policy, wuxi, applicant_a):
    subsidy = services.subsidy_request_create(policy=policy, programme=wuxi, actor=applicant_a)
    response = en_a.post(url(subsidy, "submit/"), follow=True)
    subsidy.refresh_from_db()
    assert subsidy.status == RequestStatus.DRAFT
    assert "Upload these documents first" in text(response)


def test_withdrawing_a_draft_through_the_page(en_a, policy, wuxi, applicant_a):
    subsidy = services.subsidy_request_create(policy=policy, programme=wuxi, actor=applicant_a)
    unconfirmed = en_a.post(url(subsidy, "withdraw/"))
    assert unconfirmed.status_code == 200
    assert field_errors(text(unconfirmed), "confirm")
    en_a.post(url(subsidy, "withdraw/"), {"confirm": "on"})
    subsidy.refresh_from_db()
    assert subsidy.status == RequestStatus.WITHDRAWN


# --- The officer's question -------------------------------------------------------------------


def test_the_question_is_shown_and_the_answer_puts_the_request_back_under_review(
    en_a, policy, wuxi, applicant_a, officer_x
):
    subsidy = submitted_request(policy, wuxi, applicant_a)
    question = "Please send the invoice for the second instalment."
    services.subsidy_return(request=subsidy, actor=officer_x, question=question)

    page = text(en_a.get(url(subsidy)))
    asked = section(page, "question")
    assert question in section(asked, "question-text")
    assert 'id="answer-form"' in asked

    empty = en_a.post(url(subsidy, "answer/"), {"answer": "  "})
    assert empty.status_code == 200
    assert field_errors(text(empty), "answer") == ["Write your answer."]

    answer = "There is only one instalment; its invoice is uploaded."
    response = en_a.post(url(subsidy, "answer/"), {"answer": answer})
    assert response.status_code == 302
    subsidy.refresh_from_db()
    assert subsidy.status == RequestStatus.UNDER_REVIEW
    assert SubsidyEvent.objects.get(request=subsidy, code="answer").reason == answer
    page = text(en_a.get(url(subsidy)))
    assert 'id="question"' not in page
    assert answer in section(page, "timeline")
    assert question in section(page, "timeline")


def test_the_eligibility_results_and_the_approved_amount_are_shown(
    en_a, policy, wuxi, applicant_a, officer_x
):
    subsidy = submitted_request(policy, wuxi, applicant_a)
    services.subsidy_approve(request=subsidy, actor=officer_x, amount="123.45")
    page = text(en_a.get(url(subsidy)))
    results = section(page, "eligibility")
    assert 'data-code="region" data-outcome="pass"' in results
    assert "Registered in the programme's region (320214)." in html.unescape(results)
    assert "123.45" in section(page, "amount-approved")
    assert "Approved: CNY 123.45." in section(page, "timeline")


def test_the_timeline_words_each_step_up_to_payment(en_a, policy, wuxi, applicant_a, officer_x):
    subsidy = submitted_request(policy, wuxi, applicant_a)
    services.subsidy_approve(request=subsidy, actor=officer_x, amount="200.00")
    services.subsidy_publish(request=subsidy, actor=officer_x)
    services.objection_record(
        request=subsidy, actor=officer_x, raised_by="A competitor", text="They never paid it."
    )
    services.subsidy_approve(request=subsidy, actor=officer_x, amount="150.00")
    started = timezone.localdate() - timedelta(days=30)
    services.subsidy_publish(request=subsidy, actor=officer_x, today=started)
    batch = services.batch_create(actor=officer_x, request_ids=[subsidy.pk])
    services.batch_mark_paid(batch=batch, actor=officer_x, reference="TREASURY-1")

    page = html.unescape(text(en_a.get(url(subsidy))))
    timeline = section(page, "timeline")
    codes = re.findall(r'timeline-event[^"]*" data-code="(\w+)"', timeline)
    assert codes == [
        "created",
        "uploaded",
        "uploaded",
        "submitted",
        "checked",
        "approved",
        "publicised",
        "objection",
        "approved",
        "publicised",
        "disbursed",
    ]
    assert "Approved: CNY 200.00." in timeline and "Approved: CNY 150.00." in timeline
    ends = started + timedelta(days=wuxi.publication_days - 1)
    assert f"until {ends.isoformat()}" in timeline
    assert "They never paid it." in timeline
    assert "Paid: CNY 150.00." in timeline
    assert "Paid: CNY 150.00." in section(page, "subsidy-state")
    assert 'id="upload-form"' not in page and 'id="withdraw-form"' not in page


# --- Another firm -----------------------------------------------------------------------------


def test_another_firm_gets_404_everywhere(en_a, other, policy, wuxi, applicant_a):
    subsidy = services.subsidy_request_create(policy=policy, programme=wuxi, actor=applicant_a)
    document = services.subsidy_document_upload(
        request=subsidy, actor=applicant_a, code="application_form", uploaded_file=upload()
    )
    download = url(subsidy, f"documents/{document.pk}/download/")

    mine = en_a.get(download)
    assert mine.status_code == 200
    assert mine["Content-Disposition"].startswith("attachment")
    assert mine["X-Content-Type-Options"] == "nosniff"
    assert mine["Content-Type"] == "application/pdf"
    assert b"".join(mine.streaming_content).startswith(b"%PDF")

    assert other.get(url(subsidy)).status_code == 404
    assert other.get(download).status_code == 404
    assert (
        other.post(url(subsidy, "documents/"), {"code": "payment_proof", "file": upload()})
    ).status_code == 404
    assert other.post(url(subsidy, "withdraw/"), {"confirm": "on"}).status_code == 404
    assert other.post(url(subsidy, "submit/")).status_code == 404
    assert other.post(url(subsidy, "answer/"), {"answer": "x"}).status_code == 404
    assert apply(other, policy, wuxi).status_code == 404
    subsidy.refresh_from_db()
    assert subsidy.status == RequestStatus.DRAFT
    assert subsidy.documents.count() == 1
    assert url(subsidy) not in text(other.get("/app/subsidies/"))


# --- The list ---------------------------------------------------------------------------------


def _list_queries(client) -> tuple[int, str]:
    client.get("/app/subsidies/")  # measured on a return visit: the unread count is kept
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/app/subsidies/")
    assert response.status_code == 200
    return len(queries), text(response)


def test_the_list_costs_the_same_queries_for_2_or_8_requests(
    en_a, policy, authority_x, applicant_a, officer_x
):
    def make(count, start):
        for number in range(start, start + count):
            prog = programme(authority_x, code=f"prog-{number}")
            services.subsidy_request_create(policy=policy, programme=prog, actor=applicant_a)

    make(2, 0)
    few, page = _list_queries(en_a)
    assert page.count('<tr data-subsidy="') == 2
    make(6, 2)
    many, page = _list_queries(en_a)
    assert page.count('<tr data-subsidy="') == 8
    assert few == many
    assert "Wuxi IP insurance premium subsidy" in page


# --- The public publication list --------------------------------------------------------------


def test_the_public_list_shows_published_subsidies_only(
    visitor, policy, wuxi, applicant_a, officer_x, firm_a, firm_b, applicant_b
):
    published = submitted_request(policy, wuxi, applicant_a)
    services.subsidy_approve(request=published, actor=officer_x, amount="1234.50")
    services.subsidy_publish(request=published, actor=officer_x)

    unpublished = submitted_request(in_force_policy(firm_b, applicant_b), wuxi, applicant_b)
    services.subsidy_approve(request=unpublished, actor=officer_x, amount="999.00")

    response = visitor.get("/public/subsidies/")
    assert response.status_code == 200
    page = text(response)
    table = section(page, "publication-table")
    assert "Firm A" in table
    assert "1,234.50" in table
    assert wuxi.name_en in table
    assert "Firm B" not in page and "999.00" not in page
    assert firm_a.uscc not in page
    assert published.policy.number not in page
    assert "how-to-object" in page

    # Once the publication is over, the row leaves the list.
    SubsidyRequest.objects.filter(pk=published.pk).update(
        publication_ends=timezone.localdate() - timedelta(days=1)
    )
    assert "Firm A" not in text(visitor.get("/public/subsidies/"))


def test_the_public_list_filters_by_authority_with_bounded_queries(
    visitor, policy, wuxi, applicant_a, officer_x, officer_y, django_assert_max_num_queries
):
    published = submitted_request(policy, wuxi, applicant_a)
    services.subsidy_approve(request=published, actor=officer_x)
    services.subsidy_publish(request=published, actor=officer_x)
    programme(officer_y.officer_membership.authority, code="shenzhen-test")
    authority_y = officer_y.officer_membership.authority

    with django_assert_max_num_queries(4):
        mine = text(visitor.get(f"/public/subsidies/?authority={wuxi.authority_id}"))
    assert "Firm A" in section(mine, "publication-table")
    elsewhere = text(visitor.get(f"/public/subsidies/?authority={authority_y.pk}"))
    assert "Firm A" not in elsewhere
    assert 'id="no-publications"' in elsewhere
