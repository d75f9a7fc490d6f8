"""The applicant's claim pages: reporting a claim on a policy, the claim page (what is missing, the
insurer's deadlines, documents with their progress, the timeline, amounts, letters), uploading,
downloading and withdrawing, the list, and restoring the policy's sum insured. Only members of the
claim's firm; another firm's claim, document or letter answers 404.

The background check of an uploaded document is replaced by a stub (``claims.tasks`` enqueues it
after commit; these tests do not depend on the processing module), so a new document stays
"waiting to be checked" unless a test moves it on.

Text assertions run in English (the language cookie) unless a test is about the default language;
figures and ids are the same in both languages."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.translation import gettext

from claims import services as claim_services
from claims.choices import ClaimDocumentStatus, ClaimStatus, LetterKind, LetterStatus
from claims.models import Claim, ClaimDocument, ClaimLetter, Reinstatement
from tests.claims.helpers import in_force_policy, notify_claim, pdf_bytes, pdf_upload

LANGUAGE_COOKIE = "portal_language"
# A Windows executable's first bytes (MZ header, PE signature).
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\0\0"
WRONG_TYPE = "Only PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx) files are accepted."
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"
    b"\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture(autouse=True)
def processing_stub():
    """The background check is another module's business: record what is enqueued instead."""
    with mock.patch("claims.tasks.process_claim_document.delay") as delay:
        yield delay


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


@pytest.fixture
def en_a(client_a):
    client_a.cookies[LANGUAGE_COOKIE] = "en"
    return client_a


@pytest.fixture
def other(applicant_b):
    """Firm B's member, in a client of its own (client_a and client_b share one client)."""
    client = Client()
    client.force_login(applicant_b)
    client.cookies[LANGUAGE_COOKIE] = "en"
    return client


def text(response) -> str:
    return response.content.decode()


def section(page: str, element_id: str) -> str:
    """The HTML from the element with ``element_id`` to the end of its tag's block (good enough
    for the sections these pages mark with ids)."""
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


def claim_url(claim, suffix: str = "") -> str:
    return f"/app/claims/{claim.pk}/{suffix}"


def upload(client, claim, file, code="policy"):
    return client.post(claim_url(claim, "documents/"), {"code": code, "file": file})


def notify_data(policy, **overrides) -> dict:
    data = {
        "incident_date": (timezone.localdate() - timedelta(days=5)).isoformat(),
        "learned_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "cause_number": "2",
        "right_ids": [str(item["id"]) for item in policy.terms["insured"]],
        "description": "A competitor copies our patented valve and sells it online.",
        "amount_claimed": "45000.50",
    }
    data.update(overrides)
    return data


def stored_document(claim, user, *, name="evidence.pdf", salt=b"") -> ClaimDocument:
    return claim_services.claim_document_upload(
        claim=claim, actor=user, code="policy", uploaded_file=pdf_upload(name, salt=salt)
    )


def ready_letter(claim, *, status=LetterStatus.READY) -> ClaimLetter:
    name = default_storage.save(
        f"claims/{claim.firm_id}/{claim.pk}/{claim.number}-R1.pdf", ContentFile(pdf_bytes())
    )
    return ClaimLetter.objects.create(
        claim=claim,
        kind=LetterKind.REJECTION,
        reference=f"{claim.number}-R1",
        status=status,
        file=name,
        ready_at=timezone.now() if status == LetterStatus.READY else None,
    )


# --- Reporting a claim ------------------------------------------------------------------------


def test_reporting_a_claim_through_the_page(policy, en_a):
    response = en_a.get(f"/app/claims/new/{policy.pk}/")
    assert response.status_code == 200
    page = text(response)
    # The clause's causes, numbered, in the reader's language; the policy's insured rights.
    causes = policy.clause_version.covered_causes
    assert f"1. {causes[0]['title']['en']}" in page and f"2. {causes[1]['title']['en']}" in page
    assert causes[0]["text"]["en"] in page
    insured = policy.terms["insured"][0]
    assert insured["number"] in page and 'name="right_ids"' in page

    response = en_a.post(f"/app/claims/new/{policy.pk}/", notify_data(policy))
    claim = Claim.objects.get(policy=policy)
    assert response.status_code == 302 and response.url == claim_url(claim)
    assert claim.cause_number == 2 and claim.amount_claimed == Decimal("45000.50")
    assert claim.rights == [insured]
    assert claim.learned_on == timezone.localdate() - timedelta(days=2)
    assert claim.status == ClaimStatus.NOTIFIED

    page = text(en_a.get(response.url))
    assert f"Claim {claim.number} was reported." in page
    assert causes[1]["title"]["en"] in section(page, "claim-cause")
    assert "Claim reported." in section(page, "timeline")


def test_an_incident_outside_the_period_is_a_field_error_in_chinese_by_default(policy, client_a):
    before = policy.start_date - timedelta(days=1)
    response = client_a.post(
        f"/app/claims/new/{policy.pk}/", notify_data(policy, incident_date=before.isoformat())
    )
    assert response.status_code == 200
    assert not Claim.objects.exists()
    page = text(response)
    assert '<html lang="zh-hans">' in page
    msgid = "The incident date must fall within the period of cover, %(start)s to %(end)s."
    values = {"start": policy.start_date.isoformat(), "end": policy.end_date.isoformat()}
    with translation.override("zh-hans"):
        chinese = gettext(msgid) % values
    # On the field it concerns, in the default language (Chinese once the catalogue has it).
    assert field_errors(page, "incident_date") == [chinese]
    if chinese != msgid % values:
        assert msgid % values not in page
    # What was typed is kept.
    assert "A competitor copies our patented valve" in page


def test_a_policy_that_is_not_claimable_sends_back_to_the_policy(policy, en_a):
    from underwriting.choices import PolicyStatus
    from underwriting.models import Policy

    Policy.objects.filter(pk=policy.pk).update(status=PolicyStatus.CANCELLED)
    response = en_a.get(f"/app/claims/new/{policy.pk}/")
    assert response.status_code == 302 and response.url == f"/app/policies/{policy.pk}/"
    assert en_a.post(f"/app/claims/new/{policy.pk}/", notify_data(policy)).status_code == 302
    assert not Claim.objects.exists()


# --- The claim page ---------------------------------------------------------------------------


def test_the_claim_page_shows_what_is_missing_and_the_deadlines(claim, en_a, claims_handler):
    page = text(en_a.get(claim_url(claim)))
    missing = section(page, "missing-items")
    for item in claim_services.outstanding_items(claim):
        assert f'data-code="{item["code"]}"' in missing and item["en"] in missing
    assert 'data-requested="true"' not in missing
    assert 'id="no-deadlines"' in page  # nothing is owed before the documents are complete

    # The insurer asks for something more: highlighted, with its note, and on the timeline.
    claim_services.claim_request_documents(
        claim=claim,
        actor=claims_handler,
        items=[{"code": "other", "note": "The distributor's sales contract"}],
    )
    # The documents were judged complete 40 days ago: the decision is 10 days overdue.
    complete = timezone.localdate() - timedelta(days=40)
    Claim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.UNDER_ASSESSMENT, documents_complete_on=complete
    )
    page = text(en_a.get(claim_url(claim)))
    requested = re.search(
        r'<li class="[^"]*missing-item list-group-item-warning" data-code="other" '
        r'data-requested="true">(.*?)</li>',
        page,
        re.S,
    )
    assert requested and "The distributor&#x27;s sales contract" in requested.group(1)
    assert "Requested by the insurer" in requested.group(1)
    timeline = section(page, "timeline")
    assert "The insurer asked for these documents:" in timeline
    assert "The distributor&#x27;s sales contract" in timeline

    deadlines = section(page, "deadlines")
    decision = re.search(
        r'<li class="deadline([^"]*)" data-kind="decision" data-status="(\w+)"', deadlines
    )
    assert decision and decision.group(2) == "overdue" and "text-danger" in decision.group(1)
    assert f"Due {(complete + timedelta(days=30)).isoformat()}" in deadlines
    assert "Overdue by 10 days" in deadlines
    # The 60-day advance is still open, not flagged.
    assert re.search(r'data-kind="advance_payment" data-status="open"', deadlines)
    assert "20 days left" in deadlines


def test_amounts_and_payments_on_the_claim_page(claim, policy, en_a, claims_handler):
    Claim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.UNDER_ASSESSMENT, documents_complete_on=timezone.localdate()
    )
    claim_services.claim_payment_record(
        claim=claim, actor=claims_handler, kind="advance", amount="12000", reference="ADV-1"
    )
    page = text(en_a.get(claim_url(claim)))
    assert section(page, "amount-claimed").endswith(">80,000.00</dd>")
    assert ">12,000.00<" in section(page, "amount-paid")
    remaining = policy.sum_insured - Decimal("12000")
    assert f">{remaining:,.2f}<" in section(page, "remaining-sum-insured")
    assert (
        f"Advance payment of CNY 12,000.00 made. The policy's remaining sum insured is now "
        f"CNY {remaining:,.2f}."
    ).replace("'", "&#x27;") in section(page, "timeline")
    assert 'id="restore-link"' in page
    # An undecided claim under assessment may still be withdrawn.
    assert 'id="withdraw-form"' in page


def test_the_claim_page_costs_the_same_queries_for_1_or_5_documents(claim, applicant_a, en_a):
    def queries() -> int:
        en_a.get(claim_url(claim))  # measured on a return visit: the unread count is kept
        with CaptureQueriesContext(connection) as captured:
            assert en_a.get(claim_url(claim)).status_code == 200
        return len(captured)

    stored_document(claim, applicant_a, salt=b"0")
    one = queries()
    for salt in (b"1", b"2", b"3", b"4"):
        stored_document(claim, applicant_a, salt=salt)
    assert queries() == one


# --- Uploading --------------------------------------------------------------------------------


def test_uploading_a_pdf_creates_a_document_that_is_checked_in_the_background(
    claim, en_a, processing_stub, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(en_a, claim, pdf_upload("保单正本.pdf", pages=2))
    assert response.status_code == 302 and response.url == claim_url(claim) + "#documents"
    document = ClaimDocument.objects.get(claim=claim)
    assert document.code == "policy" and document.original_name == "保单正本.pdf"
    assert document.content_type == "application/pdf" and document.uploaded_by_id
    assert default_storage.exists(document.file.name)
    processing_stub.assert_called_once_with(document.pk)

    page = text(en_a.get(claim_url(claim)))
    assert "“保单正本.pdf” was uploaded." in page
    documents = section(page, "documents")
    # While it is waiting to be checked, the section polls for its progress every 2 seconds.
    assert 'hx-trigger="every 2s"' in documents
    assert f'hx-get="{claim_url(claim, "documents/status/")}"' in documents
    row = re.search(rf'data-document="{document.pk}" data-status="pending">(.*?)</div>', page, re.S)
    assert row and "Waiting to be checked" in row.group(1)
    # A document on its way counts: the policy is no longer missing.
    assert 'data-code="policy"' not in section(page, "missing-items")

    # The check finished: the poll answers without the trigger, so polling stops.
    ClaimDocument.objects.filter(pk=document.pk).update(
        status=ClaimDocumentStatus.READY, page_count=2
    )
    partial = text(en_a.get(claim_url(claim, "documents/status/"), HTTP_HX_REQUEST="true"))
    assert partial.startswith('<section class="mb-4" id="documents"')
    assert "hx-trigger" not in partial and 'data-working="false"' in partial
    assert "2 pages" in partial and ">Ready<" in partial
    assert "<html" not in partial


def test_a_rejected_document_shows_its_reason_and_is_missing_again(claim, applicant_a, en_a):
    document = stored_document(claim, applicant_a)
    ClaimDocument.objects.filter(pk=document.pk).update(
        status=ClaimDocumentStatus.REJECTED, rejection_reason="The PDF is password-protected."
    )
    page = text(en_a.get(claim_url(claim)))
    row = re.search(
        rf'data-document="{document.pk}" data-status="rejected">(.*?)</div>\s*</div>', page, re.S
    )
    assert row and "The PDF is password-protected." in row.group(1)
    assert f'href="{claim_url(claim, f"documents/{document.pk}/download/")}"' not in page
    assert 'data-code="policy"' in section(page, "missing-items")
    assert "hx-trigger" not in section(page, "documents")


def test_an_executable_renamed_pdf_is_refused_with_a_clear_message(claim, en_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("invoice.pdf", EXECUTABLE, content_type="application/pdf")
    response = upload(en_a, claim, fake)
    assert response.status_code == 200
    assert field_errors(text(response), "file") == [WRONG_TYPE]
    assert not ClaimDocument.objects.exists()
    folder = f"claims/{claim.firm_id}/{claim.pk}"
    assert not default_storage.exists(folder) or default_storage.listdir(folder) == ([], [])


def test_the_same_file_twice_is_refused_and_a_code_is_required(claim, applicant_a, en_a):
    stored_document(claim, applicant_a, name="first.pdf", salt=b"same")
    response = upload(en_a, claim, pdf_upload("again.pdf", salt=b"same"))
    assert field_errors(text(response), "file") == [
        "This file was already uploaded to this claim as “first.pdf”."
    ]
    response = upload(en_a, claim, pdf_upload("x.pdf", salt=b"new"), code="")
    assert field_errors(text(response), "code") == ["Choose which document this is."]
    assert ClaimDocument.objects.count() == 1


def test_the_upload_form_offers_the_usual_types_and_the_checklist(claim, en_a):
    page = text(en_a.get(claim_url(claim) + "?code=patent_certificate"))
    form = section(page, "upload-form")
    assert 'accept=".pdf,.jpg,.jpeg,.png,.docx,.xlsx"' in form
    assert 'enctype="multipart/form-data"' in form
    assert '<option value="patent_certificate" selected>' in form
    assert '<option value="other">Other</option>' in form


# --- Another firm -----------------------------------------------------------------------------


def test_another_firm_gets_404_everywhere(claim, policy, applicant_a, other):
    document = stored_document(claim, applicant_a)
    preview = default_storage.save(f"{document.file.name[:-4]}-preview.png", ContentFile(PNG))
    ClaimDocument.objects.filter(pk=document.pk).update(
        status=ClaimDocumentStatus.READY, preview=preview
    )
    letter = ready_letter(claim)
    gets = [
        claim_url(claim),
        claim_url(claim, "documents/status/"),
        claim_url(claim, f"documents/{document.pk}/download/"),
        claim_url(claim, f"documents/{document.pk}/preview/"),
        claim_url(claim, f"letters/{letter.pk}/download/"),
        f"/app/claims/new/{policy.pk}/",
        f"/app/claims/reinstate/{policy.pk}/",
        f"/app/claims/reinstate/{policy.pk}/quote/?amount=100",
    ]
    for url in gets:
        assert other.get(url).status_code == 404, url
    posts = [
        (claim_url(claim, "documents/"), {"code": "policy", "file": pdf_upload(salt=b"b")}),
        (claim_url(claim, "withdraw/"), {"confirm": "on", "reason": "not ours"}),
        (f"/app/claims/new/{policy.pk}/", notify_data(policy)),
        (f"/app/claims/reinstate/{policy.pk}/", {"amount": "100", "action": "request"}),
    ]
    for url, data in posts:
        assert other.post(url, data).status_code == 404, url
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.NOTIFIED
    assert list(ClaimDocument.objects.values_list("pk", flat=True)) == [document.pk]
    assert default_storage.exists(document.file.name) and default_storage.exists(preview)
    assert Claim.objects.count() == 1 and not Reinstatement.objects.exists()
    # Nor does firm B's list show it.
    assert claim.number not in text(other.get("/app/claims/"))


def test_pages_need_a_login(claim):
    response = Client().get(claim_url(claim))
    assert response.status_code == 302 and "/accounts/login/" in response.url


# --- Downloads --------------------------------------------------------------------------------


def test_download_is_an_attachment_of_the_stored_type(claim, applicant_a, en_a):
    document = stored_document(claim, applicant_a, name="发票 “2026”.pdf")
    response = en_a.get(claim_url(claim, f"documents/{document.pk}/download/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''" in disposition and "%E5%8F%91%E7%A5%A8" in disposition
    with default_storage.open(document.file.name, "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def test_preview_is_the_png_inline(claim, applicant_a, en_a):
    document = stored_document(claim, applicant_a, name="evidence.pdf")
    url = claim_url(claim, f"documents/{document.pk}/preview/")
    assert en_a.get(url).status_code == 404  # no preview yet
    preview = default_storage.save(f"{document.file.name[:-4]}-preview.png", ContentFile(PNG))
    ClaimDocument.objects.filter(pk=document.pk).update(
        status=ClaimDocumentStatus.READY, preview=preview
    )
    response = en_a.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="evidence-preview.png"'
    assert b"".join(response.streaming_content) == PNG


def test_a_rejected_document_is_not_served(claim, applicant_a, en_a):
    document = stored_document(claim, applicant_a)
    ClaimDocument.objects.filter(pk=document.pk).update(status=ClaimDocumentStatus.REJECTED)
    assert en_a.get(claim_url(claim, f"documents/{document.pk}/download/")).status_code == 404


def test_only_ready_letters_download(claim, en_a):
    letter = ready_letter(claim)
    response = en_a.get(claim_url(claim, f"letters/{letter.pk}/download/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'attachment; filename="{letter.reference}.pdf"'
    page = text(en_a.get(claim_url(claim)))
    assert f'href="{claim_url(claim, f"letters/{letter.pk}/download/")}"' in section(
        page, "letters"
    )

    ClaimLetter.objects.filter(pk=letter.pk).update(status=LetterStatus.QUEUED)
    assert en_a.get(claim_url(claim, f"letters/{letter.pk}/download/")).status_code == 404
    assert 'id="letter-preparing"' in text(en_a.get(claim_url(claim)))


# --- The list ---------------------------------------------------------------------------------


def _list_queries(client) -> tuple[int, str]:
    client.get("/app/claims/")  # measured on a return visit: the unread count is kept
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/app/claims/")
    assert response.status_code == 200
    return len(queries), text(response)


def test_the_list_costs_the_same_queries_for_2_and_12_claims(policy, applicant_a, en_a):
    claims = [notify_claim(policy, applicant_a) for _ in range(2)]
    stored_document(claims[0], applicant_a)
    two, page = _list_queries(en_a)
    assert page.count('<tr data-claim="') == 2
    claims += [notify_claim(policy, applicant_a) for _ in range(10)]
    stored_document(claims[-1], applicant_a, salt=b"2")
    twelve, page = _list_queries(en_a)
    assert page.count('<tr data-claim="') == 12
    assert twelve == two
    # Each row: number, status, amount and what is owed next.
    row = section(page, "claim-table")
    assert claims[-1].number in row and "80,000.00" in row
    assert "You: 4 documents missing" in row  # the policy was uploaded for this one
    assert "You: 5 documents missing" in row


def test_the_list_shows_the_insurers_next_deadline(claim, en_a):
    due = timezone.localdate() - timedelta(days=1)
    Claim.objects.filter(pk=claim.pk).update(next_deadline_on=due, next_deadline_kind="decision")
    page = text(en_a.get("/app/claims/"))
    assert f"Insurer: decision on cover by {due.isoformat()}" in page
    assert 'data-overdue="true"' in page


# --- Withdrawing ------------------------------------------------------------------------------


def test_a_member_withdraws_the_claim_after_confirming(claim, en_a):
    response = en_a.post(claim_url(claim, "withdraw/"), {"reason": "Settled with the infringer"})
    assert response.status_code == 200
    assert field_errors(text(response), "confirm") == [
        "Tick the box to confirm that you want to withdraw the claim."
    ]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.NOTIFIED

    response = en_a.post(
        claim_url(claim, "withdraw/"), {"reason": "Settled with the infringer", "confirm": "on"}
    )
    assert response.status_code == 302 and response.url == claim_url(claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    page = text(en_a.get(claim_url(claim)))
    assert f"Claim {claim.number} was withdrawn." in page
    timeline = section(page, "timeline")
    assert "The claim was withdrawn." in timeline and "Settled with the infringer" in timeline
    assert 'id="withdraw-form"' not in page and 'id="upload-form"' not in page
    # Twice is not an error, only a note.
    again = en_a.post(claim_url(claim, "withdraw/"), {"confirm": "on"}, follow=True)
    assert "This claim can no longer be withdrawn." in text(again)


# --- The policy page and restoring the sum insured --------------------------------------------


def _erode(claim, handler, amount="50000"):
    Claim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.UNDER_ASSESSMENT, documents_complete_on=timezone.localdate()
    )
    claim_services.claim_payment_record(
        claim=claim, actor=handler, kind="advance", amount=amount, reference=f"ADV-{claim.pk}"
    )


def test_the_policy_page_shows_its_claims_and_the_links(claim, policy, en_a, claims_handler):
    page = text(en_a.get(f"/app/policies/{policy.pk}/"))
    block = section(page, "policy-claims")
    assert claim.number in block and f'href="/app/claims/new/{policy.pk}/"' in block
    assert 'id="restore-sum-insured"' not in block  # nothing paid yet

    _erode(claim, claims_handler)
    block = section(text(en_a.get(f"/app/policies/{policy.pk}/")), "policy-claims")
    remaining = policy.sum_insured - Decimal("50000")
    assert f"CNY {remaining:,.2f} of CNY {policy.sum_insured:,.2f}" in block
    assert f'href="/app/claims/reinstate/{policy.pk}/"' in block


def test_restoring_the_sum_insured_quotes_and_requests(claim, policy, en_a, claims_handler):
    _erode(claim, claims_handler)
    policy.refresh_from_db()
    gap = policy.sum_insured - policy.remaining_sum_insured
    url = f"/app/claims/reinstate/{policy.pk}/"

    page = text(en_a.get(url))
    assert f"CNY {gap:,.2f}" in section(page, "gap-amount")
    full = claim_services.reinstatement_quote(policy, gap)
    assert full > 0 and f"CNY {full:,.2f}" in section(page, "quoted-premium")

    # The live preview while typing (htmx): nothing is stored.
    part = claim_services.reinstatement_quote(policy, Decimal("20000"))
    response = en_a.get(f"{url}quote/?amount=20000", HTTP_HX_REQUEST="true")
    assert f"CNY {part:,.2f}" in text(response) and "<html" not in text(response)
    too_much = text(en_a.get(f"{url}quote/?amount={gap + 1}"))
    assert f"At most CNY {gap:,.2f} can be restored on this policy." in too_much
    assert not Reinstatement.objects.exists()

    response = en_a.post(url, {"amount": str(gap + 1), "action": "request"})
    assert field_errors(text(response), "amount") == [
        f"At most CNY {gap:,.2f} can be restored on this policy."
    ]
    assert not Reinstatement.objects.exists()

    response = en_a.post(url, {"amount": "20000", "action": "request"})
    assert response.status_code == 302 and response.url == url
    request = Reinstatement.objects.get(policy=policy)
    assert request.amount == Decimal("20000.00") and request.premium == part
    page = text(en_a.get(url))
    assert 'id="request-open"' in page and 'id="reinstate-form"' not in page
    assert 'data-status="requested"' in section(page, "requests")
    assert en_a.post(url, {"amount": "100", "action": "request"}).status_code == 302
    assert Reinstatement.objects.count() == 1


def test_nothing_to_restore_before_any_payment(policy, en_a):
    page = text(en_a.get(f"/app/claims/reinstate/{policy.pk}/"))
    assert 'id="nothing-to-restore"' in page and 'id="reinstate-form"' not in page


def test_the_navigation_links_to_the_claims(policy, en_a):
    page = text(en_a.get("/app/claims/"))
    assert 'id="nav-claims"' in page and 'href="/app/claims/"' in page
