"""The binding pages: the exclusion notice that accepts a quote, paying through the sandbox
provider, my policies with their documents, and the public policy check.

Text assertions run in English (the language cookie); figures and ids are the same in both
languages."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from tests.underwriting.application_helpers import (
    acknowledge,
    filled_application,
    notice_token_shown_ago,
)
from underwriting import services
from underwriting.choices import DocumentStatus, PolicyStatus, QuoteStatus
from underwriting.models import (
    Acknowledgement,
    Payment,
    Policy,
    PolicyDocument,
    Product,
    Quote,
)

LANGUAGE_COOKIE = "portal_language"
SPECIAL = {
    "title": {"zh": "已知纠纷除外", "en": "Known dispute excluded"},
    "text": {"zh": "投保前已知的纠纷不在保障范围内。", "en": "Disputes known before cover."},
    "explanation": {"zh": "投保前就知道的纠纷不赔。", "en": "We do not pay for a known dispute."},
}


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def en_a(client_a):
    client_a.cookies[LANGUAGE_COOKIE] = "en"
    return client_a


def offered_quote(firm, user, **options) -> Quote:
    application = filled_application(firm, user, **options)
    services.application_submit(application=application, actor=user, declaration=True)
    return application.quotes.get(status=QuoteStatus.OFFERED)


@pytest.fixture
def quote(catalogue, firm_a, applicant_a):
    """An offered quote with clause, rider and special exclusions."""
    quote = offered_quote(firm_a, applicant_a, riders=["R-ADVANCE"])
    Quote.objects.filter(pk=quote.pk).update(special_exclusions=[SPECIAL])
    quote.refresh_from_db()
    return quote


def notice_url(quote) -> str:
    return f"/app/applications/{quote.application_id}/quotes/{quote.pk}/notice/"


def text(response) -> str:
    return response.content.decode()


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def complete_post(quote, user, *, seconds_read=120, **overrides) -> dict:
    """The form as the page sends it with every box ticked (times as the script writes them)."""
    notice = services.exclusion_notice(quote)
    ticked = (timezone.now() - timedelta(seconds=10)).isoformat()
    data = {
        "token": notice_token_shown_ago(quote, user, seconds_read),
        "text_sha256": notice.sha256,
        "confirm": "on",
    }
    for key in notice.keys:
        data[f"tick-{key}"] = "on"
        data[f"ticked_at-{key}"] = ticked
    data.update(overrides)
    return data


def nothing_written(quote) -> bool:
    quote.refresh_from_db()
    return (
        not Acknowledgement.objects.filter(quote=quote).exists()
        and not Policy.objects.filter(quote=quote).exists()
        and quote.status == QuoteStatus.OFFERED
    )


# --- The exclusion notice ---------------------------------------------------------------------


def test_the_notice_shows_every_exclusion_with_nothing_ticked(quote, en_a):
    notice = services.exclusion_notice(quote)
    assert len(notice.keys) >= 3
    response = en_a.get(notice_url(quote))
    assert response.status_code == 200
    page = text(response)
    for key in notice.keys:
        assert f'id="exclusion-{key}"' in page, key
        assert f'name="tick-{key}"' in page and f'name="ticked_at-{key}"' in page
    assert page.count("exclusion-item border border-3 border-warning") == len(notice.keys)
    assert page.count("I have read and understood this exclusion") == len(notice.keys)
    assert page.count("In plain words:") == len(notice.keys)
    assert "Main clause" in page and "Rider" in page and "Special term of this quote" in page
    assert "Known dispute excluded" in page and "We do not pay for a known dispute." in page
    assert not re.search(r"<input[^>]*checked", page)  # nothing ticked in advance
    assert 'name="confirm"' in page
    assert hidden(page, "text_sha256") == notice.sha256
    assert hidden(page, "token")
    assert quote.number in page and f"{quote.premium:,.2f}" in page
    # The reading time: the button starts disabled with the countdown.
    assert re.search(r'id="notice-submit"[^>]*disabled', page)
    assert 'data-remaining="30"' in page
    assert 'name="instalments"' not in page  # the product allows one payment only
    assert nothing_written(quote)


def test_the_notice_in_chinese(quote, client_a):
    page = text(client_a.get(notice_url(quote)))
    assert "已知纠纷除外" in page and "投保前就知道的纠纷不赔。" in page


def test_the_detail_page_leads_to_the_notice(quote, en_a):
    page = text(en_a.get(f"/app/applications/{quote.application_id}/"))
    assert re.search(rf'id="accept-quote" href="{re.escape(notice_url(quote))}"', page)


def test_the_old_accept_url_accepts_nothing(quote, en_a):
    url = f"/app/applications/{quote.application_id}/quotes/{quote.pk}/accept/"
    response = en_a.post(url)
    assert response.status_code == 302 and response.url == notice_url(quote)
    assert en_a.get(url).url == notice_url(quote)
    assert nothing_written(quote)


def test_missing_ticks_are_refused_and_nothing_is_written(quote, en_a, applicant_a):
    notice = services.exclusion_notice(quote)
    data = complete_post(quote, applicant_a)
    last = notice.keys[-1]
    del data[f"tick-{last}"]
    response = en_a.post(notice_url(quote), data)
    assert response.status_code == 200
    page = text(response)
    assert "Tick every exclusion" in page
    assert nothing_written(quote)
    # The ticks given are kept, the missing one stays empty, the token is the same.
    for key in notice.keys[:-1]:
        assert re.search(rf'<input[^>]*name="tick-{key}"[^>]*checked', page), key
    assert not re.search(rf'<input[^>]*name="tick-{last}"[^>]*checked', page)
    assert hidden(page, "token") == data["token"]


def test_the_whole_notice_must_be_confirmed(quote, en_a, applicant_a):
    data = complete_post(quote, applicant_a)
    del data["confirm"]
    response = en_a.post(notice_url(quote), data)
    assert "Confirm the notice as a whole." in text(response)
    assert nothing_written(quote)


def test_a_forged_hash_is_refused_and_the_notice_starts_again(quote, en_a, applicant_a):
    data = complete_post(quote, applicant_a, text_sha256="0" * 64)
    response = en_a.post(notice_url(quote), data)
    page = text(response)
    assert "is not the text of these exclusions" in page
    assert nothing_written(quote)
    assert not re.search(r"<input[^>]*checked", page)
    assert hidden(page, "text_sha256") == services.exclusion_notice(quote).sha256
    assert hidden(page, "token") != data["token"]


def test_reading_too_fast_is_refused_and_the_clock_keeps_running(
    quote, en_a, applicant_a, settings
):
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 30
    page = text(en_a.get(notice_url(quote)))
    token = hidden(page, "token")
    data = complete_post(quote, applicant_a, token=token)
    response = en_a.post(notice_url(quote), data)
    page = text(response)
    assert "at least 30 seconds" in page
    assert nothing_written(quote)
    assert hidden(page, "token") == token  # no new token: the reading time keeps counting
    assert all(
        re.search(rf'<input[^>]*name="tick-{key}"[^>]*checked', page)
        for key in services.exclusion_notice(quote).keys
    )


def test_a_complete_confirmation_creates_the_policy_with_the_evidence(
    quote, en_a, applicant_a, settings
):
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 30
    data = complete_post(quote, applicant_a, seconds_read=95)
    response = en_a.post(
        notice_url(quote),
        data,
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.99",
        HTTP_USER_AGENT="Mozilla/5.0 (binding test)",
    )
    policy = Policy.objects.get(quote=quote)
    assert response.status_code == 302 and response.url == f"/app/policies/{policy.pk}/"
    record = policy.acknowledgement
    assert record.ip_address == "203.0.113.7"  # the connection, never the forwarded header
    assert record.user_agent == "Mozilla/5.0 (binding test)"
    assert record.user == applicant_a and 95 <= record.dwell_seconds < 120
    assert [item["key"] for item in record.items] == services.exclusion_notice(quote).keys
    assert all(item["ticked_at"] for item in record.items)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    assert policy.status == PolicyStatus.AWAITING_PAYMENT
    page = text(en_a.get(response.url))
    assert "Pay the first instalment" in page and 'id="pay-now"' in page
    # Opening the notice again leads to the policy.
    assert en_a.get(notice_url(quote)).url == f"/app/policies/{policy.pk}/"


def test_instalments_are_offered_when_the_product_allows_them(catalogue, en_a, firm_a, applicant_a):
    Product.objects.filter(code="PAT-ENF").update(max_instalments=4)
    quote = offered_quote(firm_a, applicant_a)
    page = text(en_a.get(notice_url(quote)))
    assert 'name="instalments"' in page
    assert "4 instalments" in page
    response = en_a.post(notice_url(quote), complete_post(quote, applicant_a, instalments="4"))
    assert response.status_code == 302
    policy = Policy.objects.get(quote=quote)
    assert policy.instalments.count() == 4


def test_an_expired_quote_has_no_notice(quote, en_a):
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    response = en_a.get(notice_url(quote), follow=True)
    assert "This quote has expired" in text(response)
    assert response.redirect_chain[-1][0] == f"/app/applications/{quote.application_id}/"


def test_another_firm_gets_404_on_the_notice(quote, applicant_b, applicant_a):
    other = Client()
    other.force_login(applicant_b)
    assert other.get(notice_url(quote)).status_code == 404
    assert other.post(notice_url(quote), complete_post(quote, applicant_a)).status_code == 404
    assert nothing_written(quote)


# --- Paying with the sandbox --------------------------------------------------------------------


@pytest.fixture
def policy(quote, applicant_a):
    return acknowledge(quote, applicant_a)


def start_payment(client, policy) -> str:
    response = client.post(f"/app/policies/{policy.pk}/pay/")
    assert response.status_code == 302
    assert response.url.startswith(f"/app/policies/{policy.pk}/pay/sandbox/?ref=")
    return response.url


def test_sandbox_payment_issues_the_policy_and_a_replay_books_nothing(policy, en_a):
    url = start_payment(en_a, policy)
    reference = parse_qs(urlparse(url).query)["ref"][0]
    page = text(en_a.get(url))
    due = policy.instalments.get()
    assert "Demo sandbox" in page and "No money is charged" in page
    assert f"Pay CNY {due.amount:,.2f}" in page and 'id="sandbox-cancel"' in page
    assert not Payment.objects.exists()

    response = en_a.post(url, {"ref": reference, "action": "pay"}, follow=True)
    policy.refresh_from_db()
    assert policy.number and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    payment = Payment.objects.get()
    assert payment.reference == f"SANDBOX-{reference}" and payment.amount == due.amount
    assert payment.method == "sandbox" and payment.recorded_by is None
    assert f"policy {policy.number} is issued" in text(response)

    again = en_a.post(url, {"ref": reference, "action": "pay"}, follow=True)
    assert "already made" in text(again)
    assert Payment.objects.count() == 1
    assert en_a.get(url, follow=True).redirect_chain  # the page itself no longer offers to pay


def test_sandbox_cancel_and_forged_references_book_nothing(policy, en_a):
    url = start_payment(en_a, policy)
    reference = parse_qs(urlparse(url).query)["ref"][0]
    response = en_a.post(url, {"ref": reference, "action": "cancel"}, follow=True)
    assert "cancelled" in text(response)
    forged = en_a.post(url, {"ref": reference + "x", "action": "pay"}, follow=True)
    assert "not valid" in text(forged)
    assert not Payment.objects.exists()
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.AWAITING_PAYMENT


def test_the_provider_comes_from_the_settings(policy, en_a, settings, monkeypatch):
    from underwriting import payments

    class ElsewhereProvider:
        code = "elsewhere"

        def start(self, instalment, request):
            return f"https://pay.example/{instalment.pk}"

        def complete(self, reference, *, policy, **details):
            raise NotImplementedError

    url = start_payment(en_a, policy)  # the sandbox by default
    monkeypatch.setitem(payments.PROVIDERS, "elsewhere", ElsewhereProvider)
    settings.PAYMENT_PROVIDER = "elsewhere"
    due = policy.instalments.get()
    assert en_a.post(f"/app/policies/{policy.pk}/pay/").url == f"https://pay.example/{due.pk}"
    assert en_a.get(url).status_code == 404  # no sandbox page unless the sandbox is in use


# --- My policies ------------------------------------------------------------------------------


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/app/policies/")
    assert response.status_code == 200
    return len(queries)


def _make_policies(firm, user, count, *, paid=False):
    made = []
    for _ in range(count):
        policy = acknowledge(offered_quote(firm, user), user)
        if paid:
            services.payment_record(
                policy=policy,
                actor=None,
                amount=policy.instalments.get().amount,
                reference=f"SANDBOX-T{policy.pk}",
                method="sandbox",
            )
        made.append(policy)
    return made


def test_my_policies_costs_the_same_queries_for_3_and_30(catalogue, en_a, firm_a, applicant_a):
    _make_policies(firm_a, applicant_a, 2)
    _make_policies(firm_a, applicant_a, 1, paid=True)
    en_a.get("/app/policies/")  # warm up the session
    few = _list_queries(en_a)
    _make_policies(firm_a, applicant_a, 20)
    _make_policies(firm_a, applicant_a, 7, paid=True)
    many = _list_queries(en_a)
    assert few == many, (few, many)
    page = text(en_a.get("/app/policies/"))
    assert page.count('data-policy="') == 25  # paginated
    assert "Awaiting payment" in page and "Being prepared" in page
    issued = Policy.objects.exclude(number=None).first()
    assert issued.number in page


def test_my_policies_shows_only_the_active_firms(catalogue, en_a, firm_b, applicant_b):
    _make_policies(firm_b, applicant_b, 1)
    page = text(en_a.get("/app/policies/"))
    assert 'id="no-policies"' in page


def test_dashboard_card_and_navigation(policy, en_a):
    page = text(en_a.get("/app/"))
    assert 'id="nav-policies"' in page and 'href="/app/policies/"' in page
    assert 'hx-get="/app/policies/dashboard-card/"' in page
    card = text(en_a.get("/app/policies/dashboard-card/"))
    due = policy.instalments.get()
    assert f"/app/policies/{policy.pk}/" in card
    assert due.due_date.isoformat() in card and f"{due.amount:,.2f}" in card


def _ready_document(policy) -> PolicyDocument:
    document = policy.documents.get(is_current=True)
    document.file.save("policy.pdf", ContentFile(b"%PDF-1.4 test policy"), save=False)
    PolicyDocument.objects.filter(pk=document.pk).update(
        file=document.file.name, status=DocumentStatus.READY, ready_at=timezone.now()
    )
    document.refresh_from_db()
    return document


@pytest.fixture
def issued(policy):
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.get().amount,
        reference="SANDBOX-ISSUED",
        method="sandbox",
    )
    policy.refresh_from_db()
    return policy


def test_policy_page_shows_terms_instalments_and_the_acknowledgement(issued, en_a):
    url = f"/app/policies/{issued.pk}/"
    page = text(en_a.get(url))
    assert issued.number in page and issued.verification_code in page
    assert 'id="policy-document-preparing"' in page  # the document is queued
    assert 'id="pay-now"' not in page  # nothing due any more
    for entry in issued.terms["insured"]:
        assert entry["number"] in page
    for entry in issued.terms["insurers"]:
        assert escape(entry["en"]) in page or entry["zh"] in page
    assert page.count('class="instalment"') == 1 and "Paid" in page
    record = issued.acknowledgement
    assert page.count('acknowledged-exclusion" data-key=') == len(record.items)
    assert "Known dispute excluded" in page and record.text_sha256 in page
    assert f"open for {record.dwell_seconds} seconds" in page

    document = _ready_document(issued)
    download = f"/app/policies/{issued.pk}/documents/{document.pk}/"
    page = text(en_a.get(url))
    assert f'id="policy-download" href="{download}"' in page
    response = en_a.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    assert issued.number in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_document_not_ready_is_not_served(issued, en_a):
    document = issued.documents.get()
    assert document.status == DocumentStatus.QUEUED
    assert en_a.get(f"/app/policies/{issued.pk}/documents/{document.pk}/").status_code == 404


def test_another_firm_gets_404_on_every_policy_page(issued, applicant_b):
    document = _ready_document(issued)
    other = Client()
    other.force_login(applicant_b)
    base = f"/app/policies/{issued.pk}"
    for url in (f"{base}/", f"{base}/documents/{document.pk}/", f"{base}/pay/sandbox/?ref=x"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"{base}/pay/").status_code == 404
    assert other.get("/app/policies/dashboard-card/").content.count(b"data-policy=") == 0


def test_policy_pages_need_login(issued, client):
    for url in ("/app/policies/", f"/app/policies/{issued.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- Public verification ----------------------------------------------------------------------


def test_verify_shows_only_the_public_facts_on_a_match(issued, client):
    client.cookies[LANGUAGE_COOKIE] = "en"
    code = issued.verification_code
    response = client.get(f"/verify/?number={issued.number.lower()}&code={code}")
    page = text(response)
    assert response.status_code == 200
    assert 'id="verify-result"' in page
    assert issued.product.name_en in page and "Firm A" in page
    assert issued.start_date.isoformat() in page and issued.end_date.isoformat() in page
    status = re.search(r'id="verify-status" data-status="([a-z_]+)"', page).group(1)
    assert status in ("valid", "not_started")
    assert f"{issued.premium:,.2f}" not in page  # nothing beyond the public facts
    assert issued.terms["insured"][0]["number"] not in page
    posted = text(client.post("/verify/", {"number": issued.number, "code": code}))
    assert 'id="verify-result"' in posted


def test_verify_answers_the_same_for_a_wrong_code_or_number(issued, client):
    client.cookies[LANGUAGE_COOKIE] = "en"
    wrong_code = text(client.get(f"/verify/?number={issued.number}&code=WRONGCODE2"))
    missing = text(
        client.get(f"/verify/?number=PAT-ENF-1999-000001&code={issued.verification_code}")
    )
    for page in (wrong_code, missing):
        assert 'id="verify-no-match"' in page and 'id="verify-result"' not in page
        assert "No policy matches" in page
        assert "Firm A" not in page
    blank = text(client.get("/verify/"))
    assert 'id="verify-no-match"' not in blank and 'id="verify-form"' in blank


def test_verify_is_rate_limited_per_address(issued, client, settings):
    settings.POLICY_VERIFY_MAX_ATTEMPTS = 2
    for _ in range(2):
        assert client.get("/verify/?number=X-1&code=Y").status_code == 200
    response = client.get(f"/verify/?number={issued.number}&code={issued.verification_code}")
    assert response.status_code == 429
    assert 'id="verify-result"' not in text(response)
    spoofed = client.get(
        f"/verify/?number={issued.number}&code={issued.verification_code}",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert spoofed.status_code == 429  # a forwarded-for header does not reset the counter
    other_address = client.get(
        f"/verify/?number={issued.number}&code={issued.verification_code}",
        REMOTE_ADDR="192.0.2.50",
    )
    assert 'id="verify-result"' in text(other_address)
