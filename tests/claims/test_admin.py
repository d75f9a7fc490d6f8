"""Claims in the Django admin: a claims handler works a claim from notification to payment, and
rejects another; underwriters only read; applicants never get in; the deadline list and the
dashboard cost the same queries however many claims there are. Claims are reported and documents
uploaded through the services, as an applicant would."""

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims import services
from claims.choices import ClaimDocumentStatus, ClaimStatus, LetterKind, LetterStatus
from claims.models import (
    Claim,
    ClaimAssessment,
    ClaimDocument,
    ClaimLetter,
    ClaimPayment,
    DocumentRequest,
    Recovery,
    Reinstatement,
)
from portal.choices import MembershipRole
from portal.models import Notification
from tests.claims.helpers import in_force_policy, notify_claim, pdf_upload
from tests.factories import MembershipFactory
from tests.underwriting.admin_helpers import flash, login, staff

REQUIRED = ["policy", "claim_notice", "patent_certificate", "filing_acceptance", "expense_invoices"]
ART_22 = "A further request is allowed only for documents that new facts made necessary"


def curl(name: str, *args) -> str:
    return reverse(f"admin:claims_{name}", args=args)


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def upload(claim, user, code: str, salt: bytes) -> ClaimDocument:
    """Upload a real PDF as the applicant and run the check the worker would run."""
    document = services.claim_document_upload(
        claim=claim, actor=user, code=code, uploaded_file=pdf_upload(f"{code}.pdf", salt=salt)
    )
    assert services.claim_document_process(document.pk) == ClaimDocumentStatus.READY
    return document


def assessment_post(**overrides) -> dict:
    """The golden case: loss 100,000 of an insured value of 200,000 under a sum insured of 50,000
    (a quarter insured: 25,000), less a fixed deductible of 5,000 → 20,000 payable."""
    data = {
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "20",
        "items-0-section": "Investigation costs",
        "items-0-loss": "100,000",
        "items-0-insured_value": "200000",
        "items-0-sum_insured": "50000",
        "items-0-salvage": "",
        "items-0-mitigation_costs": "",
        "deductible_amount": "5000",
        "deductible_rate": "",
        "recovered": "",
        "other_sums_insured": "",
        "note": "Golden case.",
    }
    data.update(overrides)
    return data


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def colleague_en(firm_a):
    """A second member of the firm who reads English: notices go to every member."""
    return MembershipFactory(
        firm=firm_a,
        role=MembershipRole.MEMBER,
        user__email="a-en@example.test",
        user__preferred_language="en",
    ).user


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


@pytest.fixture
def handler_client(client, claims_handler):
    return login(client, claims_handler)


# --- A claim from notification to payment -------------------------------------------------------


def test_handler_works_a_claim_from_notification_to_payment(
    claim, policy, applicant_a, colleague_en, claims_handler, handler_client
):
    client = handler_client
    assert policy.sum_insured == Decimal("200000.00") == policy.remaining_sum_insured
    change = curl("claim_change", claim.pk)
    page = text_of(client.get(change))
    assert claim.number in page and policy.number in page
    assert curl("claim_assign", claim.pk) in page
    assert curl("claim_assess", claim.pk) not in page  # nothing to assess before the documents

    # Assign to me.
    response = client.post(curl("claim_assign", claim.pk), {"_me": "1"})
    assert response.status_code == 302 and response.url == change
    claim.refresh_from_db()
    assert claim.handler == claims_handler
    assert any("assigned to" in m for m in flash(response))

    # One consolidated request: the form ticks everything still missing.
    request_url = curl("claim_request_documents", claim.pk)
    form = client.get(request_url)
    ticked = form.context["form"]["documents"].initial
    assert set(REQUIRED) <= set(ticked)
    assert "new_facts" not in form.context["form"].fields
    before = set(Notification.objects.values_list("pk", flat=True))
    requested = REQUIRED[1:]  # the insurer holds its own copy of the policy
    response = client.post(
        request_url,
        {"documents": requested, "other_1": "Sales records of the infringer", "other_2": ""},
    )
    assert response.status_code == 302, flash(response)
    assert any("in one notice" in m for m in flash(response))
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DOCUMENTS_REQUESTED
    assert DocumentRequest.objects.filter(claim=claim).count() == 1
    new = Notification.objects.exclude(pk__in=before)
    assert sorted(n.user_id for n in new) == sorted([applicant_a.pk, colleague_en.pk])
    labels = {item["code"]: item for item in services.checklist(claim)}
    for notice in new:
        language = "en" if notice.user_id == colleague_en.pk else "zh"
        for code in requested:
            assert labels[code][language] in notice.body, (language, code)
        assert "Sales records of the infringer" in notice.body
        assert labels["policy"][language] not in notice.body

    # A second request without new facts is refused (Insurance Law art. 22), and says why.
    form = client.get(request_url).context["form"]
    assert "new_facts" in form.fields
    response = client.post(request_url, {"documents": ["judgment_or_award"]})
    assert response.status_code == 200
    assert any(ART_22 in m for m in flash(response)), flash(response)
    assert DocumentRequest.objects.filter(claim=claim).count() == 1
    assert Notification.objects.exclude(pk__in=before).count() == 2

    # The applicant uploads what was asked for.
    for n, code in enumerate([*requested, "other"]):
        upload(claim, applicant_a, code, salt=b"%d" % n)

    # Documents complete, waiving the policy the insurer holds.
    complete_url = curl("claim_documents_complete", claim.pk)
    form = client.get(complete_url).context["form"]
    assert [code for code, _label in form.fields["waived"].choices] == ["policy"]
    response = client.post(complete_url, {"waived": ["policy"], "note": "Policy on file."})
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    assert claim.documents_complete_on == timezone.localdate()
    assert claim.next_deadline_on == timezone.localdate() + timedelta(days=30)

    # Once the documents were judged complete, a further request needs new facts too ...
    form = client.get(request_url).context["form"]
    assert "new_facts" in form.fields
    response = client.post(request_url, {"documents": ["judgment_or_award"], "new_facts": " "})
    assert response.status_code == 200
    assert any(ART_22 in m for m in flash(response)), flash(response)
    assert DocumentRequest.objects.filter(claim=claim).count() == 1
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT

    # ... and with them it goes out, reopening the documents.
    facts = "The infringer appealed; the first-instance judgment is now needed."
    response = client.post(request_url, {"documents": ["judgment_or_award"], "new_facts": facts})
    assert response.status_code == 302, flash(response)
    second = DocumentRequest.objects.get(claim=claim, sequence=2)
    assert second.new_facts == facts
    assert [item["code"] for item in second.items] == ["judgment_or_award"]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DOCUMENTS_REQUESTED
    assert claim.documents_complete_on is None
    upload(claim, applicant_a, "judgment_or_award", salt=b"judgment")
    response = client.post(complete_url, {"waived": ["policy"]})
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT

    # Assess: the form starts from the policy's limits and its deductible rate (d10 → 10 %).
    assess_url = curl("claim_assess", claim.pk)
    form_page = client.get(assess_url)
    prefilled = [f.initial.get("sum_insured") for f in form_page.context["formset"].initial_forms]
    assert prefilled == [Decimal("50000.00"), Decimal("150000.00")]
    assert form_page.context["form"].initial["deductible_rate"] == Decimal("10")
    assert 'name="deductible_rate" value="10"' in text_of(form_page)

    # Both a rate and an amount are refused by the form.
    response = client.post(assess_url, assessment_post(deductible_rate="10", _calculate="1"))
    assert "not both" in text_of(response)
    assert not response.context["preview"]

    # "Calculate" shows every step and saves nothing.
    response = client.post(assess_url, assessment_post(_calculate="1"))
    page = text_of(response)
    preview = response.context["preview"]
    assert preview["payable"] == "20000.00"
    assert "20,000.00" in page and "25,000.00" in page and "25 %" in page
    assert not ClaimAssessment.objects.exists()

    # "Save" records it through the service.
    response = client.post(assess_url, assessment_post(_save="1"))
    assert response.status_code == 302, flash(response)
    assessment = ClaimAssessment.objects.get(claim=claim)
    assert assessment.payable == Decimal("20000.00")
    assert assessment.inputs["items"][0]["insured_value"] == "200000.00"
    assert any("20,000.00 payable" in m for m in flash(response))
    page = text_of(client.get(change))
    assert "Golden case." in page and "5,000.00" in page

    # Decide: covered.
    response = client.post(curl("claim_decide", claim.pk), {"decision": "accept"})
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.ACCEPTED

    # Settle: the amount starts as the assessment's payable.
    settle_url = curl("claim_settle", claim.pk)
    assert client.get(settle_url).context["form"].initial["amount"] == Decimal("20000.00")
    response = client.post(settle_url, {"amount": "20000.00"})
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SETTLED and claim.amount_agreed == Decimal("20000.00")
    assert ClaimLetter.objects.filter(claim=claim, kind=LetterKind.SETTLEMENT).exists()

    # The final payment: prefilled with the balance; it erodes the sum insured.
    payment_url = curl("claim_payment", claim.pk)
    initial = client.get(payment_url).context["form"].initial
    assert initial["kind"] == "final" and initial["amount"] == Decimal("20000.00")
    response = client.post(
        payment_url, {"kind": "final", "amount": "20000", "reference": "BANK-CLM-1"}
    )
    assert response.status_code == 302, flash(response)
    assert any("180,000.00" in m for m in flash(response))
    claim.refresh_from_db()
    policy.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert policy.remaining_sum_insured == Decimal("180000.00")
    assert ClaimPayment.objects.get(claim=claim).remaining_sum_insured_after == Decimal("180000.00")
    page = text_of(client.get(change))
    remaining = page.split('id="claim-remaining-sum-insured"', 1)[1].split("</td>", 1)[0]
    assert "180,000.00" in remaining
    assert "BANK-CLM-1" in page
    # Closed and paid: no more payments or decisions, but reopening and subrogation.
    assert curl("claim_payment", claim.pk) not in page
    assert curl("claim_decide", claim.pk) not in page
    assert curl("claim_reopen", claim.pk) in page
    assert curl("claim_subrogation", claim.pk) in page
    # The timeline shows every event, the staff-only ones included; the waiver is on record.
    assert "Assigned to" in page and "staff only" in page
    assert "Required documents waived: Original policy" in page
    assert "waived by the handler" in page

    # Subrogation, then a recovery split under the product's rule (insurer first).
    subrogation_page = text_of(client.get(curl("claim_subrogation", claim.pk)))
    assert "Insurer first, up to what it paid" in subrogation_page
    response = client.post(
        curl("claim_subrogation", claim.pk),
        {"liable_party": "Copycat Valves Ltd.", "basis": "Judgment of the Wuxi court."},
    )
    assert response.status_code == 302, flash(response)
    response = client.post(
        curl("claim_recovery", claim.pk), {"amount": "30000", "reference": "REC-1"}
    )
    assert response.status_code == 302, flash(response)
    recovery = Recovery.objects.get()
    assert (recovery.insurer_part, recovery.insured_part) == (
        Decimal("20000.00"),
        Decimal("10000.00"),
    )
    assert any(
        "CNY 20,000.00 to the insurer, CNY 10,000.00 to the insured" in m for m in flash(response)
    )

    # The insured asks to restore the eroded cover; the handler approves it.
    reinstatement = services.reinstatement_request(
        policy=policy, actor=applicant_a, amount=Decimal("20000")
    )
    page = text_of(client.get(curl("reinstatement_change", reinstatement.pk)))
    decide_url = curl("reinstatement_decide", reinstatement.pk)
    assert decide_url in page
    response = client.post(decide_url, {"approve": "yes"})
    assert response.status_code == 302, flash(response)
    reinstatement.refresh_from_db()
    policy.refresh_from_db()
    assert reinstatement.status == "approved"
    assert policy.remaining_sum_insured == Decimal("200000.00")
    assert client.get(curl("reinstatement_changelist")).status_code == 200
    assert "BANK-CLM-1" in text_of(client.get(curl("claimpayment_changelist")))
    assert "REC-1" in text_of(client.get(curl("recovery_changelist")))
    assert client.get(curl("claim_history", claim.pk)).status_code == 200


def test_service_refusals_are_shown_on_the_form(claim, claims_handler, handler_client):
    """A refusal of the service keeps the handler on the form with its message."""
    services.claim_documents_complete(claim=claim, actor=claims_handler, waived=REQUIRED)
    response = handler_client.post(curl("claim_reserve", claim.pk), {"amount": "-5", "note": ""})
    assert response.status_code == 200  # the form refuses a negative amount
    claim.refresh_from_db()
    assert claim.reserve is None
    response = handler_client.post(curl("claim_reserve", claim.pk), {"amount": "60,000"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.reserve == Decimal("60000.00")
    # Settling before a decision: the page is not offered, the URL sends back with the reason.
    response = handler_client.get(curl("claim_settle", claim.pk))
    assert response.status_code == 302
    assert any("Under assessment" in m for m in flash(response))
    # Saving an assessment above what the claim may pay is capped, not refused.
    response = handler_client.post(
        curl("claim_assess", claim.pk),
        assessment_post(
            **{
                "items-0-loss": "900000",
                "items-0-insured_value": "",
                "items-0-sum_insured": "500000",
                "deductible_amount": "",
                "_save": "1",
            }
        ),
    )
    assert response.status_code == 302, flash(response)
    assert ClaimAssessment.objects.get().payable == Decimal("200000.00")


# --- A rejection --------------------------------------------------------------------------------


def test_rejection_needs_reasons_and_queues_the_letter(claim, claims_handler, handler_client):
    services.claim_documents_complete(claim=claim, actor=claims_handler, waived=REQUIRED)
    decide_url = curl("claim_decide", claim.pk)
    form = handler_client.get(decide_url).context["form"]
    exclusions = claim.policy.clause_version.exclusions
    assert len(form.fields["clauses"].choices) == len(exclusions)
    assert form.fields["clauses"].choices[0][0] == "1"

    response = handler_client.post(decide_url, {"decision": "reject", "reasons": ""})
    assert response.status_code == 200
    assert any("must state its reasons" in m for m in flash(response)), flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    assert not ClaimLetter.objects.exists()

    reasons = "The infringement was known to the insured before the policy began."
    response = handler_client.post(
        decide_url, {"decision": "reject", "reasons": reasons, "clauses": ["1"]}
    )
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    assert claim.decision_reasons == reasons
    assert [ref["number"] for ref in claim.rejection_clauses] == [1]
    letter = ClaimLetter.objects.get(claim=claim)
    assert (letter.kind, letter.status) == (LetterKind.REJECTION, LetterStatus.QUEUED)
    assert claim.next_deadline_kind == "rejection_notice"
    page = text_of(handler_client.get(curl("claim_change", claim.pk)))
    assert reasons in page
    assert exclusions[0]["title"]["en"] in page
    assert curl("claim_reopen", claim.pk) in page
    # The letter is not ready yet: no download link.
    assert curl("claim_letter", claim.pk, letter.pk) not in page
    assert handler_client.get(curl("claim_letter", claim.pk, letter.pk)).status_code == 404


# --- Who may do what ----------------------------------------------------------------------------


def test_underwriter_reads_claims_but_every_action_is_forbidden(
    claim, applicant_a, underwriter, client
):
    document = upload(claim, applicant_a, "claim_notice", salt=b"uw")
    login(client, underwriter)
    assert client.get(curl("claim_changelist")).status_code == 200
    assert client.get(curl("claim_dashboard")).status_code == 200
    page = text_of(client.get(curl("claim_change", claim.pk)))
    assert claim.number in page
    assert curl("claim_assign", claim.pk) not in page
    # No download links without the document permission, and the URL refuses too.
    assert curl("claim_document", claim.pk, document.pk) not in page
    assert client.get(curl("claim_document", claim.pk, document.pk)).status_code == 403
    for name in (
        "assign",
        "reserve",
        "request_documents",
        "documents_complete",
        "assess",
        "decide",
        "settle",
        "payment",
        "reopen",
        "subrogation",
        "recovery",
    ):
        target = curl(f"claim_{name}", claim.pk)
        assert client.get(target).status_code == 403, name
        assert client.post(target, {"_me": "1", "amount": "1"}).status_code == 403, name
    claim.refresh_from_db()
    assert claim.handler is None and claim.reserve is None


def test_applicant_is_sent_to_the_login_page(claim, client_a):
    for target in (
        curl("claim_changelist"),
        curl("claim_dashboard"),
        curl("claim_change", claim.pk),
        curl("claim_assign", claim.pk),
        curl("reinstatement_changelist"),
    ):
        response = client_a.get(target)
        assert response.status_code == 302, target
        assert "/admin/login/" in response.url or "/accounts/" in response.url
    response = client_a.post(curl("claim_assign", claim.pk), {"_me": "1"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.handler is None


def test_documents_download_as_attachments(claim, applicant_a, handler_client):
    document = upload(claim, applicant_a, "claim_notice", salt=b"dl")
    page = text_of(handler_client.get(curl("claim_change", claim.pk)))
    download = curl("claim_document", claim.pk, document.pk)
    assert download in page
    response = handler_client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    document.refresh_from_db()
    if document.preview:
        preview = handler_client.get(curl("claim_document_preview", claim.pk, document.pk))
        assert preview.status_code == 200
        assert preview["Content-Disposition"].startswith("attachment")
    # A document of another claim is not reachable under this one.
    other = notify_claim(claim.policy, applicant_a)
    assert handler_client.get(curl("claim_document", other.pk, document.pk)).status_code == 404


def test_same_file_in_another_claim_is_flagged(claim, applicant_a, handler_client):
    upload(claim, applicant_a, "expense_invoices", salt=b"same")
    second = notify_claim(claim.policy, applicant_a)
    upload(second, applicant_a, "expense_invoices", salt=b"same")
    page = text_of(handler_client.get(curl("claim_change", second.pk)))
    assert f"The same file is a document of claim {claim.number}." in page


# --- The deadline list and the dashboard --------------------------------------------------------


def _claims(policy, user, count: int, handler) -> list[Claim]:
    """``count`` claims with deadlines spread around today, every other one assigned."""
    today = timezone.localdate()
    made = [notify_claim(policy, user) for _ in range(count)]
    for n, claim in enumerate(made):
        Claim.objects.filter(pk=claim.pk).update(
            next_deadline_on=None if n % 4 == 3 else today + timedelta(days=n * 3 - 5),
            next_deadline_kind="decision",
            handler=handler if n % 2 else None,
            status=ClaimStatus.UNDER_ASSESSMENT,
        )
    return made


def _list_queries(client) -> list[int]:
    counts = []
    for params in (
        {},
        {"handler": "mine"},
        {"deadline": "overdue", "q": "CLM"},
        {"status__exact": "under_assessment", "o": "8"},
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(curl("claim_changelist"), params)
        assert response.status_code == 200
        counts.append(len(queries))
    for params in ({}, {"mine": "1"}):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(curl("claim_dashboard"), params)
        assert response.status_code == 200
        counts.append(len(queries))
    return counts


def test_deadline_list_and_dashboard_cost_the_same_for_2_and_12_claims(
    policy, applicant_a, claims_handler, handler_client
):
    _claims(policy, applicant_a, 2, claims_handler)
    handler_client.get(curl("claim_changelist"))  # the session and permission caches settle
    with_2 = _list_queries(handler_client)
    _claims(policy, applicant_a, 10, claims_handler)
    assert Claim.objects.count() == 12
    with_12 = _list_queries(handler_client)
    assert with_2 == with_12
    assert max(with_12) <= 12, with_12


def test_deadline_list_puts_the_nearest_deadline_first_with_flags(
    policy, applicant_a, claims_handler, handler_client
):
    today = timezone.localdate()
    late, soon, later, none = (notify_claim(policy, applicant_a) for _ in range(4))
    for claim, due in ((late, today - timedelta(days=2)), (soon, today + timedelta(days=2))):
        Claim.objects.filter(pk=claim.pk).update(
            next_deadline_on=due, next_deadline_kind="decision"
        )
    Claim.objects.filter(pk=later.pk).update(
        next_deadline_on=today + timedelta(days=20),
        next_deadline_kind="payment",
        handler=claims_handler,
    )
    response = handler_client.get(curl("claim_changelist"))
    assert [c.pk for c in response.context["cl"].result_list] == [
        late.pk,
        soon.pk,
        later.pk,
        none.pk,
    ]
    page = text_of(response)
    assert page.count('class="claim-badge claim-badge-overdue"') == 1
    assert page.count('class="claim-badge claim-badge-soon"') == 1
    assert "decision on cover" in page and "payment of the agreed amount" in page

    def listed(params):
        result = handler_client.get(curl("claim_changelist"), params).context["cl"].result_list
        return {c.pk for c in result}

    assert listed({"deadline": "overdue"}) == {late.pk}
    assert listed({"deadline": "soon"}) == {soon.pk}
    assert listed({"handler": "mine"}) == {later.pk}
    assert listed({"handler": "none"}) == {late.pk, soon.pk, none.pk}
    assert listed({"q": policy.number}) == {late.pk, soon.pk, later.pk, none.pk}
    assert listed({"q": late.number}) == {late.pk}

    dashboard = handler_client.get(curl("claim_dashboard"))
    groups = {g["key"]: [row["claim"].pk for row in g["rows"]] for g in dashboard.context["groups"]}
    assert groups == {"overdue": [late.pk], "today": [], "week": [soon.pk], "later": [later.pk]}
    mine = handler_client.get(curl("claim_dashboard"), {"mine": "1"})
    groups = {g["key"]: [row["claim"].pk for row in g["rows"]] for g in mine.context["groups"]}
    assert groups == {"overdue": [], "today": [], "week": [], "later": [later.pk]}
    assert curl("claim_dashboard") in text_of(handler_client.get(curl("claim_changelist")))


def test_claims_cannot_be_added_edited_or_deleted(claim, handler_client):
    assert handler_client.get(curl("claim_add")).status_code == 403
    response = handler_client.post(
        curl("claim_change", claim.pk), {"amount_claimed": "1", "status": "paid"}
    )
    assert response.status_code == 403
    assert handler_client.get(curl("claim_delete", claim.pk)).status_code == 403
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.NOTIFIED and claim.amount_claimed == Decimal("80000.00")


def test_reinstatement_can_be_declined(policy, applicant_a, claims_handler, handler_client):
    from underwriting.models import Policy

    Policy.objects.filter(pk=policy.pk).update(remaining_sum_insured=Decimal("150000.00"))
    reinstatement = services.reinstatement_request(
        policy=policy, actor=applicant_a, amount=Decimal("50000")
    )
    decide_url = curl("reinstatement_decide", reinstatement.pk)
    assert handler_client.get(decide_url).status_code == 200
    response = handler_client.post(decide_url, {"approve": "no"})
    assert response.status_code == 302, flash(response)
    reinstatement.refresh_from_db()
    policy.refresh_from_db()
    assert reinstatement.status == "declined"
    assert policy.remaining_sum_insured == Decimal("150000.00")
    # Decided once: the page sends back.
    assert handler_client.post(decide_url, {"approve": "yes"}).status_code == 302
    reinstatement.refresh_from_db()
    assert reinstatement.status == "declined"
    assert Reinstatement.objects.count() == 1


def test_a_supervisor_assigns_a_claim_to_a_handler(claim, claims_handler, client):
    supervisor = staff("sup@example.test", "claims_supervisor")
    login(client, supervisor)
    form = client.get(curl("claim_assign", claim.pk)).context["form"]
    assert set(form.fields["handler"].queryset) == {claims_handler, supervisor}
    before = Notification.objects.filter(user=claims_handler).count()
    response = client.post(curl("claim_assign", claim.pk), {"handler": claims_handler.pk})
    assert response.status_code == 302, flash(response)
    claim.refresh_from_db()
    assert claim.handler == claims_handler
    assert Notification.objects.filter(user=claims_handler).count() == before + 1
