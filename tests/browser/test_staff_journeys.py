"""Staff journeys in the browser, in Chinese: an underwriter quotes a referred application with a
special exclusion that the applicant then reads in the exclusion notice; a claims handler works
a claim from the one request for documents to the payment while the applicant uploads them; an
officer approves, publishes and pays a subsidy request through a disbursement batch.

Preconditions (the referred application, the in-force policy and its claim, the submitted
subsidy request) are built with the services; every step the journey is about is clicked."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from claims import services as claim_services
from claims.choices import ClaimDocumentStatus, ClaimPaymentKind, ClaimStatus
from claims.models import ClaimAssessment, ClaimPayment, DocumentRequest
from subsidies.choices import BatchStatus, EligibilityOutcome, RequestStatus
from subsidies.models import Budget, DisbursementBatch, SubsidyRequest
from tests.browser.conftest import sign_in
from tests.claims.helpers import in_force_policy, notify_claim, pdf_bytes
from tests.conftest import TOTP_SECRET
from tests.subsidies.helpers import programme as subsidy_programme
from tests.subsidies.helpers import submitted_request
from tests.underwriting.application_helpers import filled_application
from underwriting import services as underwriting_services
from underwriting.choices import ApplicationStatus, QuoteStatus
from underwriting.models import Quote

# --- 1. The underwriter and a referred application --------------------------------------------

EXCLUSION_TITLE = "美国337调查程序除外"
EXCLUSION_TEXT = (
    "对于美国国际贸易委员会依关税法第337条启动的调查程序，保险人不负责赔偿由此产生的任何费用。"
)
EXCLUSION_EXPLANATION = "在美国被提起的337调查不在保障范围内，其他地区的侵权案件照常保障。"


def referred_application(firm, user):
    """Sales in the US or Canada: the seeded rules refer the application to an underwriter."""
    application = filled_application(firm, user, risk={"sales_regions": ["cn", "us_ca"]})
    underwriting_services.application_submit(application=application, actor=user, declaration=True)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED, application.rule_results
    return application


def test_underwriter_quotes_a_referral_with_a_special_exclusion_the_applicant_then_reads(
    open_page, catalogue, firm_a, applicant_a, underwriter
):
    application = referred_application(firm_a, applicant_a)

    staff = open_page("underwriter")
    sign_in(staff, underwriter.email, totp_secret=TOTP_SECRET)
    # The referral queue: from the admin's index, the applications filtered to those referred.
    staff.goto("/admin/")
    staff.locator("#content-main").get_by_role("link", name="投保申请", exact=True).click()
    staff.locator("#changelist-filter").get_by_role("link", name="人工核保中").click()
    expect(staff).to_have_url(re.compile(r"status__exact=referred"))
    queue = staff.locator("#result_list")
    expect(queue).to_contain_text("甲公司")
    queue.get_by_role("link", name=application.reference).click()

    staff.get_by_role("link", name="分配给我").click()
    staff.get_by_role("button", name="分配给我").click()
    expect(staff.locator("ul.messagelist")).to_contain_text(application.reference)
    application.refresh_from_db()
    assert application.assigned_to == underwriter

    staff.get_by_role("link", name="制定承保条件并报价").click()
    staff.get_by_label("标题（中文）").fill(EXCLUSION_TITLE)
    staff.get_by_label("条款原文（中文）").fill(EXCLUSION_TEXT)
    staff.get_by_label("通俗解释（中文）").fill(EXCLUSION_EXPLANATION)
    staff.get_by_role("button", name="报价", exact=True).click()

    quote = Quote.objects.get(application=application)
    expect(staff.locator("ul.messagelist")).to_contain_text(quote.number)
    expect(staff.locator("#content")).to_contain_text(EXCLUSION_TITLE)
    assert quote.status == QuoteStatus.OFFERED
    assert quote.created_by == underwriter
    assert quote.premium > 0
    assert [
        {key: value["zh"] for key, value in exclusion.items()}
        for exclusion in quote.special_exclusions
    ] == [{"title": EXCLUSION_TITLE, "text": EXCLUSION_TEXT, "explanation": EXCLUSION_EXPLANATION}]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED

    applicant = open_page("applicant")
    sign_in(applicant, applicant_a.email)
    applicant.goto(f"/app/applications/{application.pk}/")
    expect(applicant.locator("#special-exclusions")).to_contain_text(EXCLUSION_TEXT)
    applicant.get_by_role("link", name="接受报价").click()
    expect(applicant).to_have_url(re.compile(rf"/quotes/{quote.pk}/notice/$"))
    special = applicant.locator("article.exclusion-item").filter(has_text=EXCLUSION_TITLE)
    expect(special).to_have_count(1)
    expect(special.locator(".exclusion-text")).to_contain_text(EXCLUSION_TEXT)
    expect(special.locator(".exclusion-explanation")).to_contain_text(EXCLUSION_EXPLANATION)


# --- 2. The claims handler ----------------------------------------------------------------------

# The required documents of the seeded enforcement clause; the insurer holds its own copy of the
# policy, so the handler asks for the others and waives that one.
REQUESTED = ["claim_notice", "patent_certificate", "filing_acceptance", "expense_invoices"]


def test_claims_handler_requests_documents_once_and_pays_while_the_applicant_uploads(
    open_page, catalogue, firm_a, applicant_a, claims_handler
):
    policy = in_force_policy(firm_a, applicant_a)
    claim = notify_claim(policy, applicant_a)
    assert policy.remaining_sum_insured == policy.sum_insured == Decimal("200000.00")
    assert {item["code"] for item in claim_services.outstanding_items(claim)} >= {
        "policy",
        *REQUESTED,
    }

    handler = open_page("claims handler")
    sign_in(handler, claims_handler.email, totp_secret=TOTP_SECRET)
    handler.goto("/admin/claims/claim/")
    handler.locator("#result_list").get_by_role("link", name=claim.number).click()
    claim_page = handler.url

    # One consolidated request: everything missing is ticked; the policy is left out.
    handler.get_by_role("link", name="通知补充材料").click()
    documents = handler.locator("input[name=documents]")
    for code in ["policy", *REQUESTED]:
        expect(documents.and_(handler.locator(f"[value={code}]"))).to_be_checked()
    documents.and_(handler.locator("[value=policy]")).uncheck()
    handler.get_by_role("button", name="发送通知").click()
    expect(handler.locator("ul.messagelist")).to_contain_text("4")
    request = DocumentRequest.objects.get(claim=claim)
    assert request.sequence == 1
    assert sorted(item["code"] for item in request.items) == sorted(REQUESTED)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DOCUMENTS_REQUESTED

    # The applicant sees the request on the claim page and uploads each document.
    applicant = open_page("applicant")
    sign_in(applicant, applicant_a.email)
    applicant.goto(f"/app/claims/{claim.pk}/")
    missing = applicant.locator("#missing-items")
    for code in REQUESTED:
        expect(missing.locator(f"li[data-code={code}]")).to_contain_text("保险公司要求补充")
    expect(missing.locator("li[data-code=policy]")).not_to_contain_text("保险公司要求补充")
    for n, code in enumerate(REQUESTED):
        missing.locator(f"li[data-code={code}]").get_by_role("link", name="上传").click()
        form = applicant.locator("#upload-form")
        expect(form.get_by_label("本文件属于哪项材料？")).to_have_value(code)
        form.locator("input[type=file]").set_input_files(
            files=[
                {
                    "name": f"{code}.pdf",
                    "mimeType": "application/pdf",
                    "buffer": pdf_bytes() + b"%d" % n,
                }
            ]
        )
        form.get_by_role("button", name="上传").click()
        expect(missing.locator(f"li[data-code={code}]")).to_have_count(0)
        expect(
            applicant.locator(f"tr.checklist-item[data-code={code}] .claim-document")
        ).to_have_attribute("data-status", "ready")
    assert claim.documents.filter(status=ClaimDocumentStatus.READY).count() == len(REQUESTED)

    # The handler: documents complete (waiving the policy), assess, decide, settle, pay.
    handler.goto(claim_page)
    handler.get_by_role("link", name="确认材料齐全").click()
    waivable = handler.locator("input[name=waived]")
    expect(waivable).to_have_count(1)
    expect(waivable).to_have_value("policy")
    waivable.check()
    handler.get_by_role("button", name="材料已齐全").click()
    expect(handler.locator("ul.messagelist")).to_contain_text(claim.number)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT

    # Legal costs of 40,000 under the legal section, less the policy's 10 % deductible.
    handler.get_by_role("link", name="理算").click()
    expect(handler.locator("#id_deductible_rate")).to_have_value("10")
    handler.locator("#id_items-1-loss").fill("40,000")
    handler.get_by_role("button", name="计算").click()
    expect(handler.locator("#claim-assess-preview")).to_contain_text("36,000.00")
    assert not ClaimAssessment.objects.filter(claim=claim).exists()
    handler.get_by_role("button", name="保存理算结果").click()
    expect(handler.locator("ul.messagelist")).to_contain_text("36,000.00")
    assert ClaimAssessment.objects.get(claim=claim).payable == Decimal("36000.00")

    handler.get_by_role("link", name="核定责任").click()
    handler.get_by_label("属于保险责任", exact=True).check()
    handler.get_by_role("button", name="记录核定结论").click()
    expect(handler.locator("ul.messagelist")).to_contain_text(claim.number)

    handler.get_by_role("link", name="核定赔款").click()
    expect(handler.get_by_label("核定赔款（元）")).to_have_value("36000.00")
    handler.get_by_role("button", name="核定赔款").click()
    expect(handler.locator("ul.messagelist")).to_contain_text("36,000.00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SETTLED
    assert claim.amount_agreed == Decimal("36000.00")

    handler.get_by_role("link", name="登记赔款支付").click()
    expect(handler.get_by_label("最终赔款")).to_be_checked()
    expect(handler.get_by_label("支付金额（元）")).to_have_value("36000.00")
    handler.get_by_label("银行流水号").fill("BANK-CLM-0001")
    handler.get_by_role("button", name="登记支付").click()
    expect(handler.locator("ul.messagelist")).to_contain_text("164,000.00")
    expect(handler.locator("#claim-remaining-sum-insured")).to_contain_text("164,000.00")

    payment = ClaimPayment.objects.get(claim=claim)
    assert (payment.kind, payment.amount, payment.reference) == (
        ClaimPaymentKind.FINAL,
        Decimal("36000.00"),
        "BANK-CLM-0001",
    )
    assert payment.remaining_sum_insured_after == Decimal("164000.00")
    assert DocumentRequest.objects.filter(claim=claim).count() == 1
    claim.refresh_from_db()
    policy.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert policy.remaining_sum_insured == Decimal("164000.00")

    # The applicant sees the claim paid and the remaining sum insured reduced by the payment.
    applicant.goto(f"/app/claims/{claim.pk}/")
    expect(applicant.locator("#claim-closed")).to_be_visible()
    expect(applicant.locator("#amount-paid")).to_have_text("36,000.00")
    expect(applicant.locator("#remaining-sum-insured")).to_have_text("164,000.00")
    applicant.locator("#claim-policy").click()
    expect(applicant.locator("main")).to_contain_text("164,000.00")


# --- 3. The officer -----------------------------------------------------------------------------


def test_officer_approves_publishes_and_pays_a_subsidy_through_a_batch(
    open_page, catalogue, firm_a, applicant_a, officer_x
):
    authority = officer_x.officer_membership.authority
    wuxi = subsidy_programme(authority)
    policy = in_force_policy(firm_a, applicant_a)
    request = submitted_request(policy, wuxi, applicant_a)
    assert request.status == RequestStatus.UNDER_REVIEW
    assert request.eligibility_outcome == EligibilityOutcome.PASS
    budget = Budget.objects.get(programme=wuxi, year=request.year)
    assert budget.committed == 0

    officer = open_page("officer")
    sign_in(officer, officer_x.email, totp_secret=TOTP_SECRET)
    officer.goto("/officer/")
    officer.locator("#nav-officer-queue").click()
    officer.get_by_role("link", name=request.number).click()

    # Approve the most allowed now, as the form offers it.
    most = officer.locator("#most-allowed").inner_text()
    expected = request.expected_amount
    assert most == f"{expected:,.2f}"
    expect(officer.get_by_label("批准金额（元）")).to_have_value(f"{expected:.2f}")
    officer.get_by_role("button", name="批准并预留金额").click()
    expect(officer.locator("#approved-amount")).to_have_text(most)
    request.refresh_from_db()
    budget.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert request.approved_amount == expected > 0
    assert budget.committed == expected

    officer.get_by_role("button", name="发布公示").click()
    expect(officer.locator("#publication")).to_be_visible()
    request.refresh_from_db()
    today = timezone.localdate()
    assert request.status == RequestStatus.PUBLICISED
    assert request.publication_starts == today
    assert request.publication_ends == today + timedelta(days=wuxi.publication_days - 1)

    # The services publish for at least one day, starting today, and pay only after the last
    # day: the publication is moved into the past, as if its days had run without objection.
    SubsidyRequest.objects.filter(pk=request.pk).update(
        publication_starts=today - timedelta(days=wuxi.publication_days),
        publication_ends=today - timedelta(days=1),
    )

    officer.locator("#nav-officer-batches").click()
    officer.locator("#new-batch").click()
    row = officer.locator(f"#payable-table tr[data-request='{request.pk}']")
    expect(row.get_by_role("checkbox")).to_be_checked()
    officer.get_by_role("button", name="用所勾选的申请编制批次").click()

    batch = DisbursementBatch.objects.get(authority=authority)
    expect(officer.locator("h1")).to_contain_text(batch.number)
    expect(officer.locator("#batch-total")).to_have_text(most)
    request.refresh_from_db()
    assert request.batch == batch
    assert list(batch.requests.all()) == [request]
    assert batch.status == BatchStatus.OPEN

    with officer.expect_download() as download_info:
        officer.get_by_role("link", name="导出 CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{batch.number}.csv"
    content = Path(download.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert len(rows) >= 2
    [line] = [r for r in rows if request.number in r]
    assert f"{expected:.2f}" in line
    assert firm_a.uscc in line

    # Batched, not yet paid by the treasury: still published, the amount still committed.
    budget.refresh_from_db()
    assert request.status == RequestStatus.PUBLICISED
    assert budget.committed == expected
    assert budget.paid == 0
