"""HTML, script and template syntax typed into free-text fields stay inert text.

Every free-text field people fill is given markup, an event-handler attribute, template syntax
and a ``javascript:`` URL; each page that shows the value must escape it, the PDFs that print it
must show the literal text (read back with pypdf) and carry no active content, and the treasury
spreadsheets must not turn it into a formula.
"""

import csv
import io
import re
import zipfile
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pypdf
import pytest
from django.test import Client

from claims import letters
from claims import services as claim_services
from portal.models import IPAsset
from subsidies import exports
from subsidies import services as subsidy_services
from tests.claims.helpers import in_force_policy, notify_claim
from tests.subsidies.helpers import authority, officer_of, programme, submitted_request
from tests.underwriting.admin_helpers import staff
from tests.underwriting.application_helpers import filled_application
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture
from underwriting import documents, services
from underwriting.choices import QuoteStatus

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{ 7*7 }}"
JS_URL = "javascript:alert(1)"
PAYLOAD = f"甲{SCRIPT}{IMG}{TEMPLATE} {JS_URL}"
ACTIVE_PDF = (b"/JavaScript", b"/JS ", b"/JS(", b"/OpenAction", b"/Launch", b"/AA ", b"/AA<<")


@pytest.fixture
def catalogue(seeded_catalogue, db):  # noqa: F811
    """The module's shared catalogue."""


@pytest.fixture(autouse=True)
def background_stubs():
    with (
        mock.patch("claims.tasks.process_claim_document.delay"),
        mock.patch("subsidies.tasks.check_eligibility.delay"),
        mock.patch("underwriting.services.applications._enqueue_quietly"),
        mock.patch("underwriting.services.policies._enqueue_quietly"),
    ):
        yield


def assert_inert(html: str, *, shown=True):
    """No markup of the payload survives; its escaped text is there when it should be shown."""
    assert SCRIPT not in html
    assert "<img src=x" not in html
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", html, re.I)
    if shown:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert TEMPLATE in html  # shown as typed: never evaluated as a template


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def assert_pdf_literal(pdf: bytes, *texts):
    flat = re.sub(r"\s+", "", pdf_text(pdf))
    for text in texts:
        assert re.sub(r"\s+", "", text) in flat, text
    for marker in ACTIVE_PDF:
        assert marker not in pdf, marker


@pytest.fixture
def hostile_firm(catalogue, client_a, firm_a):
    """Firm A renamed through its edit page, with a patent whose title is the payload."""
    data = {
        "name_zh": PAYLOAD,
        "name_en": f"Hostile {SCRIPT} {JS_URL}",
        "uscc": firm_a.uscc,
        "address": f"无锡 {IMG}",
        "region_code": "320214",
        "industry": "electronic_information",
        "size": "small",
    }
    assert client_a.post("/app/firm/edit/", data).status_code == 302
    firm_a.refresh_from_db()
    assert firm_a.name_zh == PAYLOAD
    return firm_a


def test_firm_and_asset_pages_escape_the_payload(hostile_firm, client_a):
    response = client_a.post(
        "/app/assets/new/trade_secret/",
        {"title": f"秘{SCRIPT}"[:100], "description": f"{PAYLOAD}\n{IMG}"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    asset = IPAsset.objects.get(firm=hostile_firm, kind="trade_secret")
    for url in ("/app/", "/app/firm/", "/app/assets/", f"/app/assets/{asset.pk}/"):
        assert_inert(client_a.get(url).content.decode(), shown=url != "/app/assets/")


def test_an_invalid_form_echoes_the_payload_escaped(client_a):
    response = client_a.post("/app/assets/new/patent/", {"number": PAYLOAD, "title": PAYLOAD})
    assert response.status_code == 200
    assert_inert(response.content.decode())


@pytest.fixture
def policy(hostile_firm, applicant_a):
    return in_force_policy(hostile_firm, applicant_a)


def test_claim_description_on_the_claim_and_admin_pages(policy, applicant_a, client_a):
    client = Client()  # client_a is pytest-django's ``client``: staff need a browser of their own
    claim = notify_claim(policy, applicant_a, description=PAYLOAD)
    assert_inert(client_a.get(f"/app/claims/{claim.pk}/").content.decode())
    handler = staff("xss-admin@example.test", is_superuser=True)
    client.force_login(handler)
    assert_inert(client.get(f"/admin/claims/claim/{claim.pk}/change/").content.decode())
    assert_inert(client.get("/admin/claims/claim/").content.decode(), shown=False)


def test_officer_question_applicant_answer_and_rejection(policy, applicant_a, client_a):
    client = Client()
    programme_authority = authority()
    officer = officer_of(programme_authority, "xss-officer@example.test")
    request = submitted_request(policy, programme(programme_authority), applicant_a)
    client.force_login(officer)
    page = f"/officer/requests/{request.pk}/"
    assert client.post(page + "return/", {"question": PAYLOAD}).status_code == 302
    assert_inert(client_a.get(f"/app/subsidies/{request.pk}/").content.decode())
    answered = client_a.post(f"/app/subsidies/{request.pk}/answer/", {"answer": f"答{SCRIPT}{IMG}"})
    assert answered.status_code == 302
    subsidy_services.eligibility_check(request.pk)
    assert_inert(client.get(page).content.decode())
    assert_inert(client.get("/officer/requests/").content.decode(), shown=False)
    assert client.post(page + "reject/", {"reasons": PAYLOAD}).status_code == 302
    assert_inert(client_a.get(f"/app/subsidies/{request.pk}/").content.decode())
    assert_inert(client.get(page).content.decode())


def test_underwriter_decline_reasons_reach_the_applicant_escaped(
    hostile_firm, applicant_a, client_a
):
    client = Client()
    application = filled_application(hostile_firm, applicant_a, risk={"sales_regions": ["us_ca"]})
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    admin = staff("xss-uw@example.test", is_superuser=True)
    client.force_login(admin)
    admin_page = f"/admin/underwriting/application/{application.pk}/"
    assert_inert(client.get(admin_page + "change/").content.decode())
    client.post(admin_page + "ask/", {"question": PAYLOAD})
    assert_inert(client_a.get(f"/app/applications/{application.pk}/").content.decode())
    client.post(admin_page + "decline/", {"reasons": PAYLOAD})
    assert_inert(client_a.get(f"/app/applications/{application.pk}/").content.decode())
    assert_inert(client.get(admin_page + "change/").content.decode())


# --- PDFs ----------------------------------------------------------------------------------------


def test_the_quote_and_the_policy_schedule_print_the_literal_text(hostile_firm, applicant_a):
    application = filled_application(hostile_firm, applicant_a)
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    quote = application.quotes.get(status=QuoteStatus.OFFERED)
    assert_pdf_literal(documents.render_quote_pdf(quote), SCRIPT, IMG, TEMPLATE)
    policy = in_force_policy(hostile_firm, applicant_a)
    assert_pdf_literal(documents.render_policy_pdf(policy), SCRIPT, TEMPLATE)


def test_the_claim_letters_print_the_literal_text():
    from tests.claims.test_letters import rejection, settlement

    context = rejection()
    context["firm_name"] = {"zh": PAYLOAD, "en": f"Firm {SCRIPT}"}
    context["firm_address"] = IMG
    context["reasons"] = f"{PAYLOAD}\n{IMG}"
    assert_pdf_literal(letters.rejection_letter_pdf(context), SCRIPT, IMG, TEMPLATE, JS_URL)
    context = settlement()
    context["firm_name"] = {"zh": PAYLOAD, "en": "Firm"}
    assert_pdf_literal(letters.settlement_letter_pdf(context), SCRIPT, TEMPLATE)


# --- Spreadsheets --------------------------------------------------------------------------------

FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x")',
]


def _batch(names):
    from decimal import Decimal

    rows = [
        SimpleNamespace(
            number=f"SUB-{i}",
            firm=SimpleNamespace(name_zh=name, uscc="=1+1"),
            programme=SimpleNamespace(name_zh=f"{SCRIPT}"),
            policy=SimpleNamespace(number="-2+3"),
            approved_amount=Decimal("100.00"),
        )
        for i, name in enumerate(names)
    ]
    requests = mock.Mock()
    requests.select_related.return_value.order_by.return_value = rows
    return SimpleNamespace(number="=BATCH-1", requests=requests)


def test_the_csv_export_never_starts_a_cell_with_a_formula():
    content = exports.batch_csv(_batch(FORMULAS)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))[1:]
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for cell in row[:-1]:
            assert not cell.startswith(exports.FORMULA_STARTS), row
    assert [row[2] for row in rows] == [f"'{value}" for value in FORMULAS]


def test_the_xlsx_export_keeps_every_value_a_string():
    with zipfile.ZipFile(io.BytesIO(exports.batch_xlsx(_batch(FORMULAS)))) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    # The only formula is the portal's own total; every hostile value is a string cell.
    assert re.findall(r"<f>(.*?)</f>", sheet) == ["SUM(G2:G9)"]
    assert "&lt;script&gt;" in sheet and SCRIPT not in sheet
    firm_cells = re.findall(r'<c r="C(\d+)"[^>]*?(?: t="(\w+)")?[^>]*>', sheet)
    assert [kind for row, kind in firm_cells if row != "1"][: len(FORMULAS)] == ["inlineStr"] * len(
        FORMULAS
    ) or all(kind in ("str", "inlineStr", "s") for row, kind in firm_cells)


# --- Wording typed by staff: special exclusions, objections, claim notes ------------------------


def _superuser(email):
    from underwriting.models import UnderwriterAuthority

    user = staff(email, is_superuser=True)
    UnderwriterAuthority.objects.create(
        user=user, max_sum_insured=Decimal("100000000"), max_adjustment_percent=Decimal("50")
    )
    client = Client()
    client.force_login(user)
    return user, client


def test_a_special_exclusion_stays_text_in_the_notice_the_application_and_the_quote_pdf(
    hostile_firm, applicant_a, client_a
):
    from tests.underwriting.test_referral_admin import terms_data

    application = filled_application(hostile_firm, applicant_a, risk={"sales_regions": ["us_ca"]})
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    application.refresh_from_db()
    _admin, client = _superuser("xss-terms@example.test")
    exclusion = {
        "title_zh": f"标题{SCRIPT}",
        "title_en": f"Title {IMG}",
        "text_zh": PAYLOAD,
        "text_en": f"Text {SCRIPT} {JS_URL}",
        "explanation_zh": f"解释{IMG}{TEMPLATE}",
        "explanation_en": "",
    }
    terms = f"/admin/underwriting/application/{application.pk}/terms/"
    response = client.post(terms, terms_data(application, exclusions=[exclusion]))
    assert response.status_code == 302, response.content.decode()[:3000]
    quote = application.quotes.get(status=QuoteStatus.OFFERED)
    assert quote.special_exclusions[-1]["text"]["zh"] == PAYLOAD

    notice = client_a.get(f"/app/applications/{application.pk}/quotes/{quote.pk}/notice/")
    assert notice.status_code == 200
    page = notice.content.decode()
    assert_inert(page)
    assert "标题&lt;script&gt;" in page and "解释&quot;&gt;&lt;img src=x" in page
    detail = client_a.get(f"/app/applications/{application.pk}/").content.decode()
    assert_inert(detail)
    assert "标题&lt;script&gt;" in detail
    assert_inert(client.get(f"/admin/underwriting/quote/{quote.pk}/change/").content.decode())
    # The PDF prints the wording as typed and carries nothing that could run.
    assert_pdf_literal(documents.render_quote_pdf(quote), f"标题{SCRIPT}", PAYLOAD)


def test_an_objection_stays_text_for_the_officer_the_applicant_and_the_public(
    policy, applicant_a, client_a
):
    office = authority()
    officer = officer_of(office, "xss-objection@example.test")
    request = submitted_request(policy, programme(office), applicant_a)
    subsidy_services.subsidy_approve(request=request, actor=officer)
    subsidy_services.subsidy_publish(request=request, actor=officer)
    client = Client()
    client.force_login(officer)
    # The public list names the (hostile) firm while the approval is published.
    public = Client().get("/public/subsidies/")
    assert public.status_code == 200
    assert_inert(public.content.decode())
    page = f"/officer/requests/{request.pk}/"
    response = client.post(page + "objection/", {"raised_by": f"路人{IMG}", "text": PAYLOAD})
    assert response.status_code == 302
    officer_page = client.get(page).content.decode()
    assert_inert(officer_page)
    assert "路人&quot;&gt;&lt;img" in officer_page
    assert_inert(client_a.get(f"/app/subsidies/{request.pk}/").content.decode(), shown=False)
    assert_inert(client.get("/officer/requests/").content.decode(), shown=False)
    # Back under review, the request has left the public list.
    assert_inert(Client().get("/public/subsidies/").content.decode(), shown=False)


STAFF_NOTE = f"内部备注{SCRIPT}{TEMPLATE}"


def test_claim_notes_and_reasons_stay_text_and_staff_notes_stay_with_staff(
    policy, applicant_a, client_a
):
    claim = notify_claim(policy, applicant_a)
    _admin, client = _superuser("xss-claims@example.test")
    admin_page = f"/admin/claims/claim/{claim.pk}/"
    required = [item["code"] for item in claim_services.outstanding_items(claim)]
    posted = [
        ("reserve/", {"amount": "1000", "note": STAFF_NOTE}),
        ("documents-complete/", {"waived": required, "note": f"齐全{IMG}{TEMPLATE}"}),
        ("decide/", {"decision": "reject", "reasons": PAYLOAD, "clauses": ["1"]}),
        ("reopen/", {"reason": f"新事实{SCRIPT}{IMG}{TEMPLATE}"}),
    ]
    for action, data in posted:
        response = client.post(admin_page + action, data)
        assert response.status_code == 302, (action, response.content.decode()[:3000])
    claim.refresh_from_db()
    assert claim.status == "under_assessment"
    staff_page = client.get(admin_page + "change/").content.decode()
    assert_inert(staff_page)
    assert "内部备注&lt;script&gt;" in staff_page and "新事实&lt;script&gt;" in staff_page
    assert "齐全&quot;&gt;&lt;img src=x" in staff_page
    assert_inert(client.get("/admin/claims/claim/dashboard/").content.decode(), shown=False)
    applicant_page = client_a.get(f"/app/claims/{claim.pk}/").content.decode()
    assert_inert(applicant_page)  # the rejection reasons are the insured's to read
    # The note on complete documents is on the insured's timeline; the reserve's note is not.
    assert "齐全&quot;&gt;&lt;img src=x" in applicant_page
    assert "内部备注" not in applicant_page
