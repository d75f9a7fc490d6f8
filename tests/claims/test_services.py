"""Claim services: notification, documents and the one consolidated request, the deadlines they
start, assessment, decision, payment and erosion of the sum insured, subrogation, recoveries and
reinstatement."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from claims import deadlines as statutory
from claims import services
from claims.choices import (
    ClaimDocumentStatus,
    ClaimPaymentKind,
    ClaimStatus,
    LetterKind,
    LetterStatus,
    ReinstatementStatus,
)
from claims.models import ClaimEvent, ClaimLetter, DocumentRequest
from portal import roles
from portal.errors import DomainError, PermissionDenied
from portal.models import Notification
from tests.claims.helpers import in_force_policy, notify_claim, pdf_upload
from tests.underwriting.admin_helpers import staff
from underwriting.choices import InstalmentStatus

D = Decimal


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def handler(db):
    return staff("handler@example.test", roles.CLAIMS_HANDLER)


@pytest.fixture
def supervisor(db):
    return staff("lead@example.test", roles.CLAIMS_HANDLER, roles.CLAIMS_SUPERVISOR)


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


def upload(claim, user, code, salt=b"", *, process=True):
    """Upload a PDF and, as the worker would after commit, check it."""
    document = services.claim_document_upload(
        claim=claim, actor=user, code=code, uploaded_file=pdf_upload(f"{code}.pdf", salt=salt)
    )
    if process:
        services.claim_document_process(document.pk)
        document.refresh_from_db()
    return document


def provide_required(claim, user):
    for position, item in enumerate(services.checklist(claim)):
        if item.get("required"):
            upload(claim, user, item["code"], salt=b"%d" % position)


def complete(claim, user, handler):
    provide_required(claim, user)
    return services.claim_documents_complete(claim=claim, actor=handler)


# --- Notification -------------------------------------------------------------------------------


def test_a_member_reports_a_claim_and_the_notification_time_is_recorded(policy, applicant_a):
    before = timezone.now()
    claim = notify_claim(policy, applicant_a)
    assert claim.number == f"CLM-{timezone.localdate().year}-000001"
    assert claim.status == ClaimStatus.NOTIFIED
    assert claim.firm_id == policy.firm_id
    assert before <= claim.notified_at <= timezone.now()
    assert claim.cause == policy.clause_version.covered_causes[0]["title"]
    assert [r["id"] for r in claim.rights] == [i["id"] for i in policy.terms["insured"]]
    assert ClaimEvent.objects.filter(claim=claim, to_status=ClaimStatus.NOTIFIED).exists()
    second = notify_claim(policy, applicant_a)
    assert second.number.endswith("000002")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incident_date", "before_start"),
        ("incident_date", "future"),
        ("cause_number", 99),
        ("right_ids", [999999]),
        ("right_ids", []),
        ("description", "short"),
        ("amount_claimed", "-5"),
        ("amount_claimed", "abc"),
    ],
)
def test_wrong_notifications_are_refused_field_by_field(policy, applicant_a, field, value):
    if value == "before_start":
        value = policy.start_date - timedelta(days=1)
    elif value == "future":
        value = timezone.localdate() + timedelta(days=1)
    with pytest.raises(services.ClaimInvalid) as refused:
        notify_claim(policy, applicant_a, **{field: value})
    assert set(refused.value.errors) == {field}


def test_the_incident_must_fall_inside_the_period_of_cover(policy, applicant_a):
    with pytest.raises(services.ClaimInvalid) as refused:
        notify_claim(policy, applicant_a, incident_date=policy.start_date - timedelta(days=1))
    assert policy.start_date.isoformat() in refused.value.errors["incident_date"]
    # The first day of cover is inside.
    assert notify_claim(policy, applicant_a, incident_date=policy.start_date).pk


def test_another_firm_cannot_report_on_the_policy(policy, applicant_b):
    with pytest.raises(PermissionDenied):
        notify_claim(policy, applicant_b)


def test_no_claim_on_a_policy_not_yet_in_force(policy, applicant_a):
    type(policy).objects.filter(pk=policy.pk).update(status="issued")
    with pytest.raises(DomainError) as refused:
        notify_claim(policy, applicant_a)
    assert refused.value.code == "policy"


# --- Documents ----------------------------------------------------------------------------------


def test_uploads_are_stored_with_their_hash_and_duplicates_refused(claim, applicant_a, applicant_b):
    document = upload(claim, applicant_a, "policy", process=False)
    assert document.status == ClaimDocumentStatus.PENDING
    assert len(document.sha256) == 64 and document.extension == "pdf"
    with pytest.raises(DomainError) as refused:
        upload(claim, applicant_a, "claim_notice")
    assert refused.value.code == "duplicate"
    with pytest.raises(PermissionDenied):
        upload(claim, applicant_b, "policy", salt=b"b")


def test_a_renamed_executable_is_refused(claim, applicant_a):
    exe = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 2000)
    with pytest.raises(DomainError) as refused:
        services.claim_document_upload(
            claim=claim, actor=applicant_a, code="policy", uploaded_file=exe
        )
    assert refused.value.code == "type"
    assert not claim.documents.exists()


def test_the_same_file_in_another_claim_of_the_firm_is_flagged(policy, claim, applicant_a):
    first = upload(claim, applicant_a, "expense_invoices")
    other = notify_claim(policy, applicant_a)
    second = upload(other, applicant_a, "expense_invoices")
    assert second.duplicate_of_id == first.pk


def test_processing_marks_a_pdf_ready_with_its_pages_and_a_preview(
    claim, applicant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        document = services.claim_document_upload(
            claim=claim, actor=applicant_a, code="policy", uploaded_file=pdf_upload(pages=3)
        )
    document.refresh_from_db()
    assert document.status == ClaimDocumentStatus.READY
    assert document.page_count == 3
    assert document.preview.name.endswith(".png")
    # Running it again changes nothing.
    assert services.claim_document_process(document.pk) is None


def test_a_stale_document_is_found_by_the_sweeper(claim, applicant_a):
    document = upload(claim, applicant_a, "policy", process=False)
    assert document.pk not in services.stale_documents()
    type(document).objects.filter(pk=document.pk).update(
        uploaded_at=timezone.now() - timedelta(minutes=5)
    )
    assert document.pk in services.stale_documents()


# --- The one consolidated request (Insurance Law art. 22) ---------------------------------------


def test_one_notice_lists_every_missing_document(claim, applicant_a, handler):
    Notification.objects.all().delete()
    request = services.claim_request_documents(
        claim=claim,
        actor=handler,
        items=[
            {"code": "patent_certificate"},
            {"code": "expense_invoices"},
            {"code": "other", "note": "Notarised purchase of the copy"},
        ],
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DOCUMENTS_REQUESTED
    assert request.sequence == 1 and request.new_facts == ""
    notices = Notification.objects.filter(user=applicant_a)
    assert notices.count() == 1
    body = notices.get().body
    assert "专利证书" in body and "发票" in body and "Notarised purchase" in body


def test_a_second_request_needs_new_facts(claim, handler):
    services.claim_request_documents(claim=claim, actor=handler, items=[{"code": "policy"}])
    claim.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.claim_request_documents(
            claim=claim, actor=handler, items=[{"code": "judgment_or_award"}]
        )
    assert refused.value.code == "once"
    later = services.claim_request_documents(
        claim=claim,
        actor=handler,
        items=[{"code": "judgment_or_award"}],
        new_facts="The defendant appealed; the appeal judgment decides the costs.",
    )
    assert later.sequence == 2
    assert DocumentRequest.objects.filter(claim=claim).count() == 2


def test_only_claims_handlers_request_documents(claim, applicant_a):
    underwriter = staff("uw@example.test", roles.UNDERWRITER)
    for actor in (applicant_a, underwriter):
        with pytest.raises(PermissionDenied):
            services.claim_request_documents(claim=claim, actor=actor, items=[{"code": "policy"}])


def test_documents_complete_needs_what_was_requested_and_starts_the_decision_clock(
    claim, applicant_a, handler
):
    services.claim_request_documents(
        claim=claim, actor=handler, items=[{"code": "infringement_evidence"}]
    )
    provide_required(claim, applicant_a)
    claim.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.claim_documents_complete(claim=claim, actor=handler)
    assert refused.value.code == "missing"
    upload(claim, applicant_a, "infringement_evidence", salt=b"evidence")
    claim = services.claim_documents_complete(claim=claim, actor=handler)
    today = timezone.localdate()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    assert claim.documents_complete_on == today
    assert claim.next_deadline_on == today + timedelta(days=30)
    assert claim.next_deadline_kind == statutory.Kind.DECISION


def test_a_required_item_the_insurer_holds_can_be_waived(claim, applicant_a, handler):
    for position, item in enumerate(services.checklist(claim)):
        if item.get("required") and item["code"] != "policy":
            upload(claim, applicant_a, item["code"], salt=b"%d" % position)
    with pytest.raises(DomainError):
        services.claim_documents_complete(claim=claim, actor=handler)
    claim = services.claim_documents_complete(claim=claim, actor=handler, waived=["policy"])
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    assert claim.events.filter(code="waived", public=False).exists()


# --- Assessment, decision, payment ---------------------------------------------------------------


GOLDEN_ITEMS = [{"loss": "100000", "insured_value": "200000", "sum_insured": "50000"}]


def test_golden_case_assessed_settled_and_paid_erodes_the_sum_insured(
    policy, claim, applicant_a, handler
):
    remaining_before = policy.remaining_sum_insured
    claim = complete(claim, applicant_a, handler)
    assessment = services.claim_assess(
        claim=claim, actor=handler, items=GOLDEN_ITEMS, deductible_amount="5000"
    )
    assert assessment.payable == D("20000.00")
    assert assessment.result["assessed"].startswith("25000")
    services.claim_decide(claim=claim, actor=handler, decision="accept")
    claim = services.claim_settle(claim=claim, actor=handler)
    assert claim.status == ClaimStatus.SETTLED
    assert claim.amount_agreed == D("20000.00")
    assert claim.next_deadline_kind == statutory.Kind.PAYMENT
    assert claim.next_deadline_on == timezone.localdate() + timedelta(days=10)
    assert claim.letters.filter(kind=LetterKind.SETTLEMENT).exists()

    with pytest.raises(DomainError) as refused:
        services.claim_payment_record(
            claim=claim, actor=handler, kind="final", amount="19000", reference="B-1"
        )
    assert refused.value.code == "amount"
    payment = services.claim_payment_record(
        claim=claim, actor=handler, kind="final", amount="20000", reference="B-1"
    )
    claim.refresh_from_db()
    policy.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert policy.remaining_sum_insured == remaining_before - D("20000.00")
    assert payment.remaining_sum_insured_after == policy.remaining_sum_insured
    assert claim.next_deadline_on is None
    assert all(d.done_on is not None for d in services.claim_deadlines(claim))


def test_double_insurance_golden_case(claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    assessment = services.claim_assess(
        claim=claim,
        actor=handler,
        items=[{"loss": "80000", "insured_value": "200000", "sum_insured": "50000"}],
        other_sums_insured=["150000"],
    )
    assert assessment.payable == D("20000.00")


def test_an_advance_is_paid_and_counted_against_the_final_balance(
    policy, claim, applicant_a, handler
):
    claim = complete(claim, applicant_a, handler)
    services.claim_assess(claim=claim, actor=handler, items=GOLDEN_ITEMS)
    services.claim_payment_record(
        claim=claim, actor=handler, kind="advance", amount="10000", reference="ADV-1"
    )
    claim.refresh_from_db()
    assert claim.advance_paid_on == timezone.localdate()
    services.claim_decide(claim=claim, actor=handler, decision="accept")
    # The advance already took 10,000 of the remaining cover; the assessment still sees it.
    assessment = services.claim_assess(claim=claim, actor=handler, items=GOLDEN_ITEMS)
    assert assessment.payable == D("25000.00")
    with pytest.raises(DomainError):
        services.claim_settle(claim=claim, actor=handler, amount="9000")
    claim = services.claim_settle(claim=claim, actor=handler)
    services.claim_payment_record(
        claim=claim, actor=handler, kind=ClaimPaymentKind.FINAL, amount="15000", reference="FIN-1"
    )
    policy.refresh_from_db()
    assert services.paid_on_claim(claim) == D("25000.00")
    assert policy.remaining_sum_insured == policy.sum_insured - D("25000.00")


def test_payments_never_exceed_the_remaining_sum_insured(policy, claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    with pytest.raises(DomainError) as refused:
        services.claim_payment_record(
            claim=claim,
            actor=handler,
            kind="advance",
            amount=str(policy.remaining_sum_insured + 1),
            reference="TOO-MUCH",
        )
    assert refused.value.code == "exhausted"
    huge = [{"loss": "99999999", "sum_insured": "99999999"}]
    assessment = services.claim_assess(claim=claim, actor=handler, items=huge)
    assert assessment.payable == policy.remaining_sum_insured


def test_a_rejection_needs_reasons_and_the_letter_is_the_notice(
    claim, applicant_a, handler, django_capture_on_commit_callbacks
):
    claim = complete(claim, applicant_a, handler)
    with pytest.raises(DomainError) as refused:
        services.claim_decide(claim=claim, actor=handler, decision="reject", reasons="No.")
    assert refused.value.code == "reasons"
    with django_capture_on_commit_callbacks(execute=True):
        claim = services.claim_decide(
            claim=claim,
            actor=handler,
            decision="reject",
            reasons="The infringement began before the retroactive date stated in the schedule.",
            clauses=[1],
        )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    letter = ClaimLetter.objects.get(claim=claim, kind=LetterKind.REJECTION)
    assert letter.status == LetterStatus.READY and letter.file.name.endswith(".pdf")
    assert claim.rejection_notice_sent_on == timezone.localdate()
    assert claim.next_deadline_on is None
    assert Notification.objects.filter(user=applicant_a, url__endswith=f"/{claim.pk}/").exists()


def test_reopening_a_rejected_claim_restarts_assessment(claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    services.claim_decide(
        claim=claim, actor=handler, decision="reject", reasons="Not an insured patent at all."
    )
    with pytest.raises(DomainError):
        services.claim_reopen(claim=claim, actor=handler, reason="")
    claim = services.claim_reopen(
        claim=claim, actor=handler, reason="The insured produced the assignment record."
    )
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    assert claim.decision == "" and claim.decided_on is None


def test_withdrawal_by_the_insured(claim, applicant_a, applicant_b):
    with pytest.raises(PermissionDenied):
        services.claim_withdraw(claim=claim, actor=applicant_b)
    claim = services.claim_withdraw(claim=claim, actor=applicant_a, reason="Settled privately")
    assert claim.status == ClaimStatus.WITHDRAWN
    with pytest.raises(DomainError):
        upload(claim, applicant_a, "policy")


# --- Deadline warnings ---------------------------------------------------------------------------


def test_handlers_and_supervisors_are_warned_once_a_day(claim, applicant_a, handler, supervisor):
    claim = complete(claim, applicant_a, handler)
    services.claim_assign(claim=claim, handler=handler, actor=supervisor)
    Notification.objects.all().delete()
    today = timezone.localdate()
    assert services.deadline_warnings(today) == 0
    late = today + timedelta(days=31)
    assert services.deadline_warnings(late) == 1
    warned = set(Notification.objects.values_list("user__email", flat=True))
    assert warned == {handler.email, supervisor.email}
    assert "OVERDUE" in Notification.objects.filter(user=handler).get().title or (
        "逾期" in Notification.objects.filter(user=handler).get().title
    )
    assert services.deadline_warnings(late) == 0
    assert services.deadline_warnings(late + timedelta(days=1)) == 1


def test_the_60_day_advance_is_flagged_when_due(claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    services.claim_decide(claim=claim, actor=handler, decision="accept")
    claim.refresh_from_db()
    deadlines = {d.kind: d for d in services.claim_deadlines(claim)}
    advance = deadlines[statutory.Kind.ADVANCE_PAYMENT]
    assert advance.due == claim.documents_complete_on + timedelta(days=60)
    assert advance.status(advance.due) == statutory.Status.DUE_TODAY
    assert advance.status(advance.due + timedelta(days=1)) == statutory.Status.OVERDUE
    claim.refresh_from_db()
    assert claim.next_deadline_kind == statutory.Kind.ADVANCE_PAYMENT


# --- Subrogation and recoveries ------------------------------------------------------------------


def test_recoveries_are_split_by_the_products_rule(claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    with pytest.raises(DomainError):
        services.subrogation_start(claim=claim, actor=handler, liable_party="Copycat Ltd")
    services.claim_assess(claim=claim, actor=handler, items=GOLDEN_ITEMS, deductible_amount="5000")
    services.claim_decide(claim=claim, actor=handler, decision="accept")
    claim = services.claim_settle(claim=claim, actor=handler)
    services.claim_payment_record(
        claim=claim, actor=handler, kind="final", amount="20000", reference="P-1"
    )
    subrogation = services.subrogation_start(
        claim=claim, actor=handler, liable_party="Copycat Ltd", basis="Judgment (2026) Su 05"
    )
    # PAT-ENF recovers for the insurer first, up to what it paid.
    assert subrogation.sharing["method"] == "insurer_first"
    first = services.recovery_record(claim=claim, actor=handler, amount="15000", reference="R-1")
    assert (first.insurer_part, first.insured_part) == (D("15000.00"), D("0.00"))
    second = services.recovery_record(claim=claim, actor=handler, amount="9000", reference="R-2")
    assert (second.insurer_part, second.insured_part) == (D("5000.00"), D("4000.00"))
    with pytest.raises(DomainError):
        services.recovery_record(claim=claim, actor=handler, amount="1", reference="R-2")


# --- Reinstatement (clause art. 32) -------------------------------------------------------------


def test_eroded_cover_is_restored_at_a_pro_rata_premium(policy, claim, applicant_a, handler):
    claim = complete(claim, applicant_a, handler)
    services.claim_assess(claim=claim, actor=handler, items=GOLDEN_ITEMS)
    services.claim_payment_record(
        claim=claim, actor=handler, kind="advance", amount="20000", reference="ADV-R"
    )
    policy.refresh_from_db()
    with pytest.raises(DomainError):
        services.reinstatement_request(policy=policy, actor=applicant_a, amount="20000.01")
    request = services.reinstatement_request(policy=policy, actor=applicant_a, amount="20000")
    assert D(0) < request.premium < policy.premium
    with pytest.raises(DomainError):
        services.reinstatement_request(policy=policy, actor=applicant_a, amount="100")
    services.reinstatement_decide(reinstatement=request, actor=handler, approve=True)
    policy.refresh_from_db()
    request.refresh_from_db()
    assert request.status == ReinstatementStatus.APPROVED
    assert policy.remaining_sum_insured == policy.sum_insured
    extra = policy.instalments.order_by("-sequence").first()
    assert extra.amount == request.premium and extra.status == InstalmentStatus.DUE


def test_each_other_document_requested_stays_missing_until_its_own_upload(
    claim, applicant_a, handler
):
    services.claim_request_documents(
        claim=claim,
        actor=handler,
        items=[
            {"code": "other", "note": "Customs seizure record"},
            {"code": "other", "note": "Distributor's sales ledger"},
        ],
    )
    claim.refresh_from_db()
    notes = lambda: [i["note"] for i in services.outstanding_items(claim) if i["requested"]]  # noqa: E731
    assert notes() == ["Customs seizure record", "Distributor's sales ledger"]
    upload(claim, applicant_a, "other", salt=b"seizure")
    assert notes() == ["Distributor's sales ledger"]
    upload(claim, applicant_a, "other", salt=b"ledger")
    assert notes() == []
