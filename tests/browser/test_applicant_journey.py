"""A new applicant's whole journey in the browser, from sign-up to a submitted subsidy request.

Every action is done on the real pages, as a user would: sign up and open the verification link
from the mail, register a firm, add a patent, apply for patent enforcement cover and get a quote
at once, acknowledge each exclusion, pay in the sandbox, download the policy, report a claim with
two documents and apply for a premium subsidy. Each milestone is checked on the page and in the
database. The journey runs in Chinese and again in English; the Chinese run finds the controls by
their Chinese labels, which also shows the pages are translated.
"""

import io
import re
from decimal import ROUND_DOWN, Decimal

import pypdf
import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone, translation
from playwright.sync_api import Page, expect
from stdnum.cn import uscc

from portal import ipnumbers
from tests.claims.helpers import pdf_bytes

# What the pages say, (Chinese, English). Texts of the catalogue (questions, exclusions, the
# product's name) come from its YAML files; the others from the message catalogues.
TEXTS = {
    "sign_up": ("注册", "Sign up"),
    "sign_up_button": ("注册", "Sign Up"),
    "email": ("电子邮件", "Email"),
    "password": ("密码", "Password"),
    "password_again": ("密码（重复）", "Password (again)"),
    "confirm": ("确认", "Confirm"),
    "register_firm": ("登记企业", "Register a firm"),
    "name_zh": ("名称（中文）", "Name (Chinese)"),
    "name_en": ("名称（英文）", "Name (English)"),
    "uscc": ("统一社会信用代码", "Unified Social Credit Code"),
    "address": ("注册地址", "Registered address"),
    "region": ("行政区划代码", "Administrative region code"),
    "industry": ("所属行业", "Industry"),
    "size": ("企业规模", "Size"),
    "save": ("保存", "Save"),
    "firm_registered": (
        "企业登记成功，您是该企业的负责人。",
        "Firm registered. You are its owner.",
    ),
    "ip_assets": ("知识产权资产", "IP assets"),
    "add_asset": ("添加知识产权资产", "Add an IP asset"),
    "patent": ("专利", "Patent"),
    "application_number": ("申请号", "Application number"),
    "invention_title": ("发明创造名称", "Title of the invention"),
    "filing_date": ("申请日", "Filing date"),
    "grant_date": ("授权日", "Grant date"),
    "claim_count": ("权利要求项数", "Number of claims"),
    "family": ("同族专利国家/地区", "Countries of the family"),
    "saved": ("已保存：", "Saved:"),
    "products": ("保险产品", "Products"),
    "product_name": ("专利执行保险", "Patent enforcement insurance"),
    "apply_for_product": ("投保此产品", "Apply for this product"),
    "investigation": ("调查费用", "Investigation costs"),
    "legal": ("法律费用", "Legal costs"),
    "wished_start": ("希望何时起保？", "When should cover start?"),
    "save_and_continue": ("保存并继续", "Save and continue"),
    "valuation_question": (
        "该专利是否经历过无效宣告程序？结果如何？",
        "Has anyone ever asked for this patent to be declared invalid, and with what result?",
    ),
    "risk_question": (
        "贵企业的主营业务属于哪个行业？",
        "Which industry is your firm's main business in?",
    ),
    "declaration": ("如实告知声明", "Declaration of disclosure"),
    "submit": ("提交", "Submit"),
    "quoted": ("已提交。您的报价见下方。", "Submitted. Your quote is ready below."),
    "accept_quote": ("接受报价", "Accept quote"),
    "read_exclusion": (
        "我已阅读并理解本条责任免除条款",
        "I have read and understood this exclusion",
    ),
    "confirm_notice": (
        "本人确认：保险人已以显著方式向本人提示并说明了上述每一项责任免除条款",
        "I confirm that the insurer has shown me every exclusion above in a prominent way",
    ),
    "confirm_and_accept": ("确认并接受报价", "Confirm and accept the quote"),
    "can_confirm": ("现在可以确认了。", "You can now confirm."),
    "acknowledged": (
        "谢谢。您的确认已记录，报价已接受。",
        "Thank you. Your acknowledgement was recorded",
    ),
    "pay_now": ("立即缴费", "Pay now"),
    "sandbox_payment": ("沙箱支付", "Sandbox payment"),
    "pay_amount": ("支付人民币", "Pay CNY"),
    "paid": ("谢谢。已收到您的付款，保单", "Thank you. Your payment was received and policy"),
    "download_policy": ("下载保单（PDF）", "Download the policy (PDF)"),
    "my_claims": ("我的赔案", "My claims"),
    "report_claim": ("报案", "Report a claim"),
    "incident_date": ("出险日期", "Date of the incident"),
    "first_cause": ("1. 立案前调查取证", "1. Pre-filing investigation"),
    "what_happened": ("事故经过", "What happened"),
    "amount_claimed": ("索赔金额（元）", "Amount claimed (CNY)"),
    "report_the_claim": ("提交报案", "Report the claim"),
    "claim_heading": ("赔案", "Claim"),
    "which_document": ("本文件属于哪项材料？", "Which document is this?"),
    "file": ("文件", "File"),
    "upload": ("上传", "Upload"),
    "premium_subsidies": ("保费补贴", "Premium subsidies"),
    "subsidy_apply": ("申请", "Apply"),
    "subsidy_created": (
        "已创建。请上传下列材料，然后提交申请。",
        "was created. Upload the documents",
    ),
    "all_uploaded": ("所有必备材料均已上传。", "Every required document is uploaded."),
}

EMAIL = "founder@newfirm.example"
PASSWORD = "Wujin-valves-2026!"
# A firm in Wujin district, Changzhou (320412): the seeded Changzhou Wujin programme subsidises
# half of any IP insurance premium of local firms, whatever the product.
REGION = "320412"
PROGRAMME = "changzhou-wujin"


def valid_uscc() -> str:
    """An 18-character code with its check character: registration authority 9 (market
    regulation), type 1 (company), the region, the organisation code, then the check."""
    body = f"91{REGION}MA1WJ7K3Q"
    return body + uscc.calc_check_digit(body)


def valid_patent_number() -> str:
    """A 2019 invention application (type digit 1) with its check character."""
    digits = "201910234567"
    return f"ZL{digits}.{ipnumbers.patent_check_character(digits)}"


def pdf_file(name: str, salt: str) -> dict:
    """A real one-page PDF; the salt after %%EOF gives each file its own hash, since the same
    file twice in a claim or a subsidy request is refused."""
    return {
        "name": name,
        "mimeType": "application/pdf",
        "buffer": pdf_bytes(1) + salt.encode(),
    }


class Words:
    def __init__(self, language: str):
        self.index = 0 if language == "zh-hans" else 1

    def __call__(self, key: str) -> str:
        return TEXTS[key][self.index]


def field(scope, label: str):
    """The control with exactly this label; crispy forms add an asterisk to required ones."""
    return scope.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))


def save_and_continue(page: Page, w: Words):
    page.get_by_role("button", name=w("save_and_continue")).click()


def choose(page: Page, code: str, value: str):
    """Ticks the radio button or checkbox with this value of a questionnaire's question."""
    page.locator(f"#questionnaire-form input[name='{code}'][value='{value}']").check()


def answer(page: Page, code: str, value: str):
    page.locator(f"#questionnaire-form [name='{code}']").fill(value)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_new_applicant_signs_up_insures_a_patent_claims_and_asks_for_a_subsidy(
    open_page, catalogue, settings, language
):
    from allauth.account.models import EmailAddress

    from claims.models import Claim
    from portal.models import Firm, IPAsset, Membership
    from subsidies.choices import RequestStatus
    from subsidies.models import SubsidyRequest
    from underwriting.choices import (
        ApplicationStatus,
        PaymentMethod,
        PolicyStatus,
        QuoteStatus,
    )
    from underwriting.documents import pdf_fonts
    from underwriting.models import Acknowledgement, Application, Payment, Policy
    from underwriting.services import exclusion_notice

    # Long enough to see the confirmation held back, short enough not to slow the journey.
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 3
    call_command("seed_programmes", verbosity=0)
    # The quote and policy PDFs are rendered during the requests; build their fonts ahead, as a
    # deployment does, so a cold cache does not hold up the first submission.
    pdf_fonts()
    w = Words(language)
    today = timezone.localdate()
    page = open_page("applicant", language=language)

    # --- Sign up, and verify the address with the link from the mail --------------------------
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.get_by_role("link", name=w("sign_up"), exact=True).click()
    field(page, w("email")).fill(EMAIL)
    field(page, w("password")).fill(PASSWORD)
    field(page, w("password_again")).fill(PASSWORD)
    page.locator("main").get_by_role("button", name=w("sign_up_button"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    assert not EmailAddress.objects.get(email=EMAIL).verified

    message = next(m for m in mail.outbox if EMAIL in m.to)
    link = re.search(r"https?://\S+(/accounts/confirm-email/\S+/)", message.body)
    assert link, message.body
    page.goto(link.group(1))
    page.get_by_role("button", name=w("confirm"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/app/$"))
    assert EmailAddress.objects.get(email=EMAIL).verified

    # --- Register the firm --------------------------------------------------------------------
    page.locator("main").get_by_role("link", name=w("register_firm")).click()
    field(page, w("name_zh")).fill("常州武进精密阀门有限公司")
    field(page, w("name_en")).fill("Wujin Precision Valves Co., Ltd.")
    field(page, w("uscc")).fill(valid_uscc())
    field(page, w("address")).fill("江苏省常州市武进区湖塘镇阀门路8号")
    field(page, w("region")).fill(REGION)
    field(page, w("industry")).select_option("advanced_manufacturing")
    field(page, w("size")).select_option("small")
    page.get_by_role("button", name=w("save"), exact=True).click()
    expect(page.locator("main")).to_contain_text(w("firm_registered"))
    firm = Firm.objects.get(uscc=valid_uscc())
    assert firm.region_code == REGION
    assert Membership.objects.get(firm=firm, user__email=EMAIL).role == "owner"

    # --- Add the patent -----------------------------------------------------------------------
    page.get_by_role("link", name=w("ip_assets"), exact=True).click()
    page.get_by_role("button", name=w("add_asset")).click()
    page.get_by_role("link", name=w("patent"), exact=True).click()
    number = valid_patent_number()
    field(page, w("application_number")).fill(number)
    field(page, w("invention_title")).fill("一种自密封球阀")
    field(page, w("filing_date")).fill("2019-03-12")
    field(page, w("grant_date")).fill("2021-05-01")
    field(page, w("claim_count")).fill("8")
    field(page, w("family")).fill("CN")
    page.get_by_role("button", name=w("save"), exact=True).click()
    expect(page.locator("main")).to_contain_text(w("saved"))
    asset = IPAsset.objects.get(firm=firm)
    assert (asset.number, asset.patent_type, asset.legal_status) == (number, "invention", "granted")
    assert asset.expiry_date == ipnumbers.patent_expiry("invention", asset.filing_date)

    # --- Apply for patent enforcement cover ---------------------------------------------------
    page.get_by_role("link", name=w("products"), exact=True).click()
    page.get_by_role("link", name=w("product_name"), exact=True).first.click()
    expect(page.locator("main")).to_contain_text("PAT-ENF")
    page.get_by_role("button", name=w("apply_for_product")).click()

    # Cover: the patent, the smallest limits, cover from today.
    page.get_by_label(number).check()
    page.get_by_label(w("investigation")).select_option("50000")
    page.get_by_label(w("legal")).select_option("150000")
    page.get_by_label(w("wished_start")).fill(today.isoformat())
    save_and_continue(page, w)

    # Valuation of the patent: an ordinary, sound patent in volume production.
    expect(page.locator("main")).to_contain_text(w("valuation_question"))
    choose(page, "invalidation_history", "none")
    choose(page, "claim_type", "product")
    choose(page, "non_circumventability", "4")
    choose(page, "technical_maturity", "mass_production")
    choose(page, "substitutes", "few")
    answer(page, "market_share", "12")
    answer(page, "revenue_attributable", "5000000")
    choose(page, "licensing", "none")
    answer(page, "royalty_rate", "5")
    answer(page, "economic_life", "8")
    answer(page, "discount_rate", "12")
    answer(page, "rd_cost", "800000")
    answer(page, "obsolescence", "20")
    save_and_continue(page, w)

    # Risk: sales in mainland China only, no dispute, letter or suit (none of them refers).
    expect(page.locator("main")).to_contain_text(w("risk_question"))
    page.locator("#questionnaire-form [name='industry']").select_option("advanced_manufacturing")
    answer(page, "annual_sales", "8000000")
    choose(page, "sales_regions", "cn")
    choose(page, "group_scheme", "individual")
    choose(page, "management", "basic")
    choose(page, "fto_report", "provided")
    answer(page, "suits_last_5_years", "0")
    choose(page, "known_dispute", "false")
    expect(page.locator("#question-known_dispute_details")).to_be_hidden()
    choose(page, "warning_letters", "false")
    choose(page, "invalidation_requests", "false")
    choose(page, "npe_exposure", "false")
    save_and_continue(page, w)

    # Review, declaration and submission: quoted at once.
    expect(page.locator("#declaration")).to_contain_text(w("declaration"))
    page.locator("#declaration").get_by_role("checkbox").check()
    page.get_by_role("button", name=w("submit"), exact=True).click()
    expect(page.locator("main")).to_contain_text(w("quoted"))
    application = Application.objects.get(firm=firm)
    assert application.status == ApplicationStatus.QUOTED
    assert application.product.code == "PAT-ENF"
    assert list(application.insured_assets.values_list("asset_id", flat=True)) == [asset.pk]
    assert application.risk_answers["sales_regions"] == ["cn"]
    assert application.risk_answers["known_dispute"] in (False, "false")
    assert application.declared_by.email == EMAIL and application.answers_sha256
    quote = application.quotes.get()
    assert quote.status == QuoteStatus.OFFERED
    assert quote.sum_insured == Decimal("200000")
    expect(page.locator("#quote")).to_contain_text(quote.number)
    expect(page.locator("#quote-premium")).to_contain_text(f"{quote.premium:,.2f}")

    # --- The exclusion notice: every exclusion ticked, after the minimum reading time ---------
    page.get_by_role("link", name=w("accept_quote"), exact=True).click()
    confirm = page.get_by_role("button", name=w("confirm_and_accept"))
    expect(confirm).to_be_disabled()
    notice = exclusion_notice(quote)
    exclusions = len(notice.items)
    assert exclusions >= 8  # the clause's eight, each with its own box
    ticks = page.get_by_label(w("read_exclusion"))
    expect(ticks).to_have_count(exclusions)
    for index in range(exclusions):
        ticks.nth(index).check()
    page.get_by_label(w("confirm_notice")).check()
    expect(page.locator("#notice-countdown")).to_have_text(w("can_confirm"))
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(page.locator("main")).to_contain_text(w("acknowledged"))
    acknowledgement = Acknowledgement.objects.get(quote=quote)
    assert acknowledgement.user.email == EMAIL and acknowledgement.firm == firm
    assert acknowledgement.text_sha256 == notice.sha256
    assert len(acknowledgement.items) == exclusions
    assert all(item["ticked_at"] for item in acknowledgement.items)
    assert acknowledgement.dwell_seconds >= 3
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    policy = Policy.objects.get(quote=quote)
    assert policy.status == PolicyStatus.AWAITING_PAYMENT

    # --- Pay in the sandbox: the policy is issued and in force from today ---------------------
    page.get_by_role("button", name=w("pay_now")).click()
    expect(page.get_by_role("heading", name=w("sandbox_payment"))).to_be_visible()
    page.get_by_role("button", name=re.compile("^" + re.escape(w("pay_amount")))).click()
    expect(page.locator("main")).to_contain_text(w("paid"))
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE
    assert policy.number and policy.number.startswith(f"PAT-ENF-{today.year}-")
    payment = Payment.objects.get(policy=policy)
    assert payment.method == PaymentMethod.SANDBOX and payment.amount == policy.premium
    expect(page.locator("main h1")).to_contain_text(policy.number)

    # --- Download the policy ------------------------------------------------------------------
    with page.expect_download() as download_info:
        page.get_by_role("link", name=w("download_policy")).click()
    data = download_info.value.path().read_bytes()
    assert data.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert policy.number in text

    # --- Report a claim and upload two documents ----------------------------------------------
    page.get_by_role("link", name=w("my_claims"), exact=True).click()
    page.get_by_role("link", name=w("report_claim"), exact=True).click()
    page.get_by_role("link", name=re.compile(re.escape(policy.number))).click()
    page.get_by_label(w("incident_date")).fill(today.isoformat())
    page.get_by_label(w("first_cause")).check()
    expect(page.get_by_label(number)).to_be_checked()  # the policy's only right
    page.get_by_label(w("what_happened")).fill(
        "A competitor sells copies of our self-sealing ball valve at the Changzhou trade fair."
    )
    page.get_by_label(w("amount_claimed")).fill("30000")
    page.get_by_role("button", name=w("report_the_claim")).click()
    claim = Claim.objects.get(policy=policy)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{w('claim_heading')} {claim.number}"
    )
    assert claim.incident_date == today and claim.cause_number == 1
    assert claim.amount_claimed == Decimal("30000")

    upload = page.locator("#upload-form")
    for code, name in (("claim_notice", "claim-notice.pdf"), ("patent_certificate", "patent.pdf")):
        upload.get_by_label(w("which_document")).select_option(code)
        upload.get_by_label(w("file"), exact=True).set_input_files(pdf_file(name, code))
        upload.get_by_role("button", name=w("upload"), exact=True).click()
        expect(page.locator(f"#checklist tr[data-code='{code}']")).to_contain_text(name)
    documents = list(claim.documents.order_by("pk"))
    assert [d.code for d in documents] == ["claim_notice", "patent_certificate"]
    assert {d.status for d in documents} == {"ready"}

    # --- Apply for the premium subsidy from the policy page ------------------------------------
    page.locator("#claim-policy").click()
    offer = page.locator(f"#policy-subsidies li[data-programme='{PROGRAMME}']")
    expect(page.locator("#policy-subsidies")).to_contain_text(w("premium_subsidies"))
    offer.get_by_role("button", name=w("subsidy_apply"), exact=True).click()
    expect(page.locator("main")).to_contain_text(w("subsidy_created"))
    subsidy = SubsidyRequest.objects.get(policy=policy)
    assert subsidy.programme.code == PROGRAMME and subsidy.status == RequestStatus.DRAFT
    assert subsidy.expected_amount == (policy.premium / 2).quantize(Decimal("0.01"), ROUND_DOWN)

    upload = page.locator("#upload-form")
    for document in subsidy.programme.required_documents:
        code = document["code"]
        upload.get_by_label(w("which_document")).select_option(code)
        upload.get_by_label(w("file"), exact=True).set_input_files(pdf_file(f"{code}.pdf", code))
        upload.get_by_role("button", name=w("upload"), exact=True).click()
        expect(page.locator(f"#checklist tr[data-code='{code}']")).to_contain_text(f"{code}.pdf")
    expect(page.locator("#nothing-missing")).to_have_text(w("all_uploaded"))
    page.locator("#submit-form").get_by_role("button", name=w("submit"), exact=True).click()
    badge = page.locator("header .subsidy-status")
    expect(badge).to_have_attribute("data-status", re.compile("^(submitted|under_review)$"))
    subsidy.refresh_from_db()
    # Submitted; the eligibility check (run at once here) may already have queued it for review.
    assert subsidy.status in (RequestStatus.SUBMITTED, RequestStatus.UNDER_REVIEW)
    assert subsidy.submitted_at is not None
    with translation.override(language):
        expect(badge).to_have_text(str(subsidy.get_status_display()))
    assert subsidy.documents.count() == len(subsidy.programme.required_documents)
