"""Drill: forms sent twice — a double click — one after the other and at the same moment.

The simultaneous pairs run in two threads, each with its own database connection and the same
session (one browser), through a barrier. The guards are the services' own: the row is locked
and its state checked (the quote, the policy, the subsidy request, the claim) and a payment's
reference is unique. On SQLite the two transactions queue on the database lock; on PostgreSQL
they meet at the row locks. Either way the second click gets a redirect or the form with a
clear message, never a server error, and nothing is written twice.
"""

import threading
from decimal import Decimal
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.test import Client
from django.urls import reverse

from claims import services as claim_services
from claims.choices import ClaimStatus
from claims.models import ClaimPayment
from subsidies.choices import RequestStatus
from subsidies.models import Budget, FirmAllowance, SubsidyEvent
from tests.claims.helpers import in_force_policy, notify_claim
from tests.drills.helpers import notice_form
from tests.subsidies.helpers import programme, submitted_request
from tests.underwriting.application_helpers import filled_application
from underwriting import services
from underwriting.choices import PolicyStatus, QuoteStatus
from underwriting.models import Acknowledgement, Instalment, Payment, Policy, PolicyDocument

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pdf_jobs(monkeypatch):
    """The policy PDF jobs enqueued (recorded, not run: the drill counts them)."""
    jobs = []
    monkeypatch.setattr("underwriting.tasks.make_policy_document.delay", jobs.append)
    monkeypatch.setattr("underwriting.tasks.make_quote_pdf.delay", lambda *a: None)
    return jobs


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["portal_language"] = "en"
    return client


def second_tab(client: Client) -> Client:
    """Another client on the same session, as a second click of the same browser."""
    other = Client()
    other.cookies = SimpleCookie({name: morsel.value for name, morsel in client.cookies.items()})
    return other


def at_once(*calls):
    """Run the calls in threads released together; exceptions (a server error in the test
    client) are returned, not lost."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(position, call):
        try:
            barrier.wait(timeout=30)
            results[position] = call()
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertion
            results[position] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a submission never returned"
    return results


def messages_of(response) -> str:
    return " | ".join(str(message) for message in get_messages(response.wsgi_request))


def offered_quote(firm, user):
    application = filled_application(firm, user)
    services.application_submit(application=application, actor=user, declaration=True)
    return application.quotes.get(status=QuoteStatus.OFFERED)


def notice_url(quote) -> str:
    return f"/app/applications/{quote.application_id}/quotes/{quote.pk}/notice/"


def assert_accepted_once(quote):
    policy = Policy.objects.get(quote=quote)
    assert Acknowledgement.objects.filter(quote=quote).count() == 1
    assert Instalment.objects.filter(policy__quote=quote).count() == 1  # a single payment
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    return policy


def sandbox_url(client, policy) -> tuple[str, str]:
    response = client.post(f"/app/policies/{policy.pk}/pay/")
    assert response.status_code == 302
    return response.url, parse_qs(urlparse(response.url).query)["ref"][0]


def assert_paid_once(policy, pdf_jobs):
    policy.refresh_from_db()
    assert policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE) and policy.number
    assert Payment.objects.filter(policy=policy).count() == 1
    documents = PolicyDocument.objects.filter(policy=policy)
    assert documents.count() == 1
    assert pdf_jobs.count(documents.get().pk) == 1


SEQUENTIAL, CONCURRENT = "one after the other", "at the same moment"
# Each test tries both timings on objects of their own: one flush of the database, not two.
TIMINGS = (SEQUENTIAL, CONCURRENT)


def twice(first, second, timing, url, form):
    """The same form from both tabs, one after the other or at the same moment."""
    if timing == SEQUENTIAL:
        return [first.post(url, form), second.post(url, form)]
    return at_once(lambda: first.post(url, form), lambda: second.post(url, form))


def test_accepting_and_paying_twice_makes_one_policy_one_schedule_one_pdf(
    catalogue, firm_a, applicant_a, pdf_jobs
):
    for timing in TIMINGS:
        accept_and_pay_twice(firm_a, applicant_a, pdf_jobs, timing)


def accept_and_pay_twice(firm_a, applicant_a, pdf_jobs, timing):
    quote = offered_quote(firm_a, applicant_a)
    first = browser(applicant_a)
    second = second_tab(first)
    form = notice_form(quote, applicant_a)

    responses = twice(first, second, timing, notice_url(quote), form)
    policy = assert_accepted_once(quote)
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
        # Both land on the one policy; the later click is told it was already done.
        assert response.status_code == 302 and response.url == f"/app/policies/{policy.pk}/"
    assert any("already accepted" in messages_of(r) for r in responses), [
        messages_of(r) for r in responses
    ]
    # The schedule is made when the first premium is paid.
    assert not PolicyDocument.objects.filter(policy=policy).exists()

    url, reference = sandbox_url(first, policy)
    pay = {"ref": reference, "action": "pay"}
    responses = twice(first, second, timing, url, pay)
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
        assert response.status_code == 302 and response.url == f"/app/policies/{policy.pk}/"
    texts = [messages_of(r) for r in responses]
    assert sum("is issued" in text for text in texts) == 1, texts
    assert sum("already made" in text for text in texts) == 1, texts
    assert_paid_once(policy, pdf_jobs)


def test_an_officer_approving_twice_reserves_the_budget_once(
    catalogue, firm_a, applicant_a, officer_x, pdf_jobs
):
    for number, timing in enumerate(TIMINGS):
        prog = programme(officer_x.officer_membership.authority, code=f"double-{number}")
        approve_twice(prog, firm_a, applicant_a, officer_x, timing)


def approve_twice(prog, firm_a, applicant_a, officer_x, timing):
    request = submitted_request(in_force_policy(firm_a, applicant_a), prog, applicant_a)
    assert request.status == RequestStatus.UNDER_REVIEW
    first = browser(officer_x)
    second = second_tab(first)
    page = first.get(reverse("officer:request", args=[request.pk]))
    amount = page.context["forms"]["approve"].initial["amount"]
    url = reverse("officer:approve", args=[request.pk])
    form = {"amount": str(amount)}

    responses = twice(first, second, timing, url, form)
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    codes = sorted(response.status_code for response in responses)
    # The later click: a redirect with "cannot be done" when the request was already approved
    # as it arrived, or the page again (400) when it lost the race for the row lock.
    assert codes in ([302, 302], [302, 400]), codes
    texts = [messages_of(r) for r in responses]
    assert sum("approved: CNY" in text for text in texts) == 1, texts
    assert (
        sum("cannot be done" in text or "Only a request under review" in text for text in texts)
        == 1
    ), texts

    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED and request.approved_amount == amount
    assert SubsidyEvent.objects.filter(request=request, code="approved").count() == 1
    assert Budget.objects.get(programme=prog).committed == amount
    assert FirmAllowance.objects.get(programme=prog, firm=firm_a).granted == amount


def test_a_handler_recording_a_payment_twice_books_one_payment(
    catalogue, firm_a, applicant_a, claims_handler, pdf_jobs
):
    for timing in TIMINGS:
        record_payment_twice(firm_a, applicant_a, claims_handler, timing)


def record_payment_twice(firm_a, applicant_a, claims_handler, timing):
    claim = notify_claim(in_force_policy(firm_a, applicant_a), applicant_a)
    claim_services.claim_documents_complete(
        claim=claim,
        actor=claims_handler,
        waived=[item["code"] for item in claim_services.outstanding_items(claim)],
        note="Held on file.",
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_ASSESSMENT
    remaining = claim.policy.remaining_sum_insured
    first = browser(claims_handler)
    second = second_tab(first)
    url = reverse("admin:claims_claim_payment", args=[claim.pk])
    form = {"kind": "advance", "amount": "5000.00", "reference": f"BANK-ADV-{claim.pk}"}

    responses = twice(first, second, timing, url, form)
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    # The first returns to the claim; the second shows the form again with the refusal.
    assert sorted(r.status_code for r in responses) == [200, 302]
    texts = [messages_of(r) for r in responses]
    assert sum("recorded. The policy's remaining" in text for text in texts) == 1, texts
    assert sum("already recorded" in text for text in texts) == 1, texts

    assert ClaimPayment.objects.filter(claim=claim).count() == 1
    claim.policy.refresh_from_db()
    assert claim.policy.remaining_sum_insured == remaining - Decimal("5000.00")
