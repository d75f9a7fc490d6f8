"""The policy page's cancel and renew: the cancellation explained before anything happens (the fee
before cover starts, the short-period table after), confirmed with a box ticked; renewing into a
prefilled draft application, once at a time. Only members of the policy's firm; writes by POST.

Text assertions run in English (the language cookie); figures and ids are the same in both
languages."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory
from tests.underwriting.test_policy_life import _policy, _start_now
from underwriting import services
from underwriting.choices import ApplicationStatus, CancellationParty, PolicyStatus
from underwriting.models import Application, Cancellation, Policy, Product

LANGUAGE_COOKIE = "portal_language"
FEE = Decimal("200.00")


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def en_a(client_a):
    client_a.cookies[LANGUAGE_COOKIE] = "en"
    return client_a


@pytest.fixture
def other(applicant_b):
    client = Client()
    client.force_login(applicant_b)
    return client


@pytest.fixture
def issued(catalogue, firm_a, applicant_a):
    """Paid and issued, cover starting in a week; a cancellation fee of CNY 200."""
    Product.objects.filter(code="PAT-ENF").update(cancellation_fee=FEE)
    policy = _policy(firm_a, applicant_a)
    assert policy.status == PolicyStatus.ISSUED and policy.start_date > timezone.localdate()
    return policy


@pytest.fixture
def in_force(issued):
    """Cover started today: month 1 of the short-period table."""
    return _start_now(issued)


def _ending_soon(policy, days=10):
    Policy.objects.filter(pk=policy.pk).update(end_date=timezone.localdate() + timedelta(days=days))
    policy.refresh_from_db()
    return policy


def text(response) -> str:
    return response.content.decode()


def cancel_url(policy) -> str:
    return f"/app/policies/{policy.pk}/cancel/"


def renew_url(policy) -> str:
    return f"/app/policies/{policy.pk}/renew/"


def field(page: str, element_id: str) -> str:
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', page, re.S)
    assert match, element_id
    return " ".join(match.group(1).split())


def figures_of(page: str) -> str:
    match = re.search(r'name="figures" value="([^"]*)"', page)
    assert match
    return match.group(1)


def confirm(client, policy, **overrides):
    page = text(client.get(cancel_url(policy)))
    data = {"figures": figures_of(page), "understand": "on", "reason": "不再需要"}
    data.update(overrides)
    return client.post(cancel_url(policy), data)


def untouched(policy, status) -> bool:
    policy.refresh_from_db()
    return policy.status == status and not Cancellation.objects.filter(policy=policy).exists()


# --- The explanation before anything happens -----------------------------------------------------


def test_before_cover_starts_the_page_explains_premium_minus_the_fee(issued, en_a):
    response = en_a.get(cancel_url(issued))
    assert response.status_code == 200
    page = text(response)
    assert 'data-basis="before_start"' in page
    assert "premium minus the cancellation fee" in page
    assert field(page, "premium-amount") == f"{issued.premium:,.2f}"
    assert field(page, "kept-amount") == f"− {FEE:,.2f}"
    assert field(page, "computed-refund") == f"{issued.premium - FEE:,.2f}"
    assert field(page, "paid-amount") == f"{issued.premium:,.2f}"
    assert field(page, "refund-amount") == f"CNY {issued.premium - FEE:,.2f}"
    assert 'id="amount-owed"' not in page and 'id="short-rate-table"' not in page
    assert "its cover will not start" in page
    assert not re.search(r'<input[^>]*name="understand"[^>]*checked', page)
    assert untouched(issued, PolicyStatus.ISSUED)


def test_after_cover_starts_the_short_period_table_keeps_10_percent_in_month_1(in_force, en_a):
    page = text(en_a.get(cancel_url(in_force)))
    kept = (in_force.premium * Decimal("0.10")).quantize(Decimal("0.01"))
    assert 'data-basis="short_rate"' in page
    assert field(page, "months-on-risk") == "1"
    assert field(page, "percent-kept") == "10 %"
    assert field(page, "kept-amount") == f"{kept:,.2f}"
    assert field(page, "paid-amount") == f"{in_force.premium:,.2f}"
    assert field(page, "refund-amount") == f"CNY {in_force.premium - kept:,.2f}"
    assert "Part of a month counts as a whole month" in page
    # The whole table, month 1 marked as this cancellation's.
    assert page.count('class="short-rate-month') == 12
    assert re.search(r'short-rate-month table-warning fw-bold" data-month="1" aria-current', page)
    assert page.count('aria-current="true"') == 1
    assert "I understand the cover ends today." in page
    assert untouched(in_force, PolicyStatus.IN_FORCE)


def test_an_unpaid_policy_costs_nothing_to_cancel(catalogue, firm_a, applicant_a, en_a):
    Product.objects.filter(code="PAT-ENF").update(cancellation_fee=FEE)
    policy = _policy(firm_a, applicant_a, pay=False)
    assert policy.status == PolicyStatus.AWAITING_PAYMENT
    page = text(en_a.get(cancel_url(policy)))
    assert 'data-basis="never_in_effect"' in page
    assert field(page, "paid-amount") == "0.00"
    assert field(page, "refund-amount") == "CNY 0.00"
    assert 'id="amount-owed"' not in page


def test_the_page_in_chinese(in_force, client_a):
    response = client_a.get(cancel_url(in_force))
    assert response.status_code == 200 and 'id="short-rate-table"' in text(response)


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancelling_needs_the_box_ticked(in_force, en_a):
    response = confirm(en_a, in_force, understand="")
    assert response.status_code == 200
    assert 'id="understand-error"' in text(response)
    assert untouched(in_force, PolicyStatus.IN_FORCE)


def test_figures_that_changed_since_the_page_was_opened_are_shown_again(in_force, en_a):
    response = confirm(en_a, in_force, figures="2000-01-01|0|0|0|0")
    assert response.status_code == 200
    assert 'id="cancel-figures-changed"' in text(response)
    assert untouched(in_force, PolicyStatus.IN_FORCE)


def test_cancelling_ends_the_policy_and_the_page_shows_it(in_force, en_a, applicant_a):
    detail = f"/app/policies/{in_force.pk}/"
    assert f'href="{cancel_url(in_force)}"' in text(en_a.get(detail))
    response = confirm(en_a, in_force)
    assert response.status_code == 302 and response.url == detail
    cancellation = Cancellation.objects.get(policy=in_force)
    assert cancellation.by == CancellationParty.POLICYHOLDER
    assert cancellation.requested_by == applicant_a and cancellation.reason == "不再需要"
    assert cancellation.effective_date == timezone.localdate()
    in_force.refresh_from_db()
    assert in_force.status == PolicyStatus.CANCELLED

    page = text(en_a.get(detail))
    assert "was cancelled with effect from" in page  # the message
    assert field(page, "cancellation-date") == timezone.localdate().isoformat()
    assert field(page, "cancellation-refund") == f"CNY {cancellation.refund:,.2f}"
    assert "Cancelled at your request" in page
    assert 'id="cancel-link"' not in page and 'id="renew-button"' not in page

    # No second cancellation: the page sends back to the policy.
    again = en_a.get(cancel_url(in_force), follow=True)
    assert "can no longer be cancelled" in text(again)
    assert confirm_again_writes_nothing(en_a, in_force)


def confirm_again_writes_nothing(client, policy) -> bool:
    client.post(cancel_url(policy), {"understand": "on", "figures": ""})
    return Cancellation.objects.filter(policy=policy).count() == 1


def test_a_pending_insurer_cancellation_is_shown_and_nothing_more_is_offered(in_force, en_a):
    senior = UserFactory(email="senior@example.test", is_staff=True)
    senior.groups.add(Group.objects.get(name="senior_underwriter"))
    _ending_soon(in_force)
    services.policy_cancel(
        policy=in_force, actor=senior, by=CancellationParty.INSURER, reason="风险显著增加"
    )
    page = text(en_a.get(f"/app/policies/{in_force.pk}/"))
    assert "The insurer is cancelling this policy" in page and "风险显著增加" in page
    assert 'id="cancel-link"' not in page and 'id="renew-button"' not in page
    assert en_a.get(cancel_url(in_force)).status_code == 302


# --- Renewing -----------------------------------------------------------------------------------


def test_renew_creates_a_prefilled_draft_and_opens_its_cover_step(in_force, en_a, applicant_a):
    policy = _ending_soon(in_force)
    detail = f"/app/policies/{policy.pk}/"
    assert 'id="renew-button"' in text(en_a.get(detail))
    response = en_a.post(renew_url(policy))
    renewal = Application.objects.get(renewal_of=policy)
    assert response.status_code == 302
    assert response.url == f"/app/applications/{renewal.pk}/step/cover/"
    assert renewal.status == ApplicationStatus.DRAFT and renewal.created_by == applicant_a
    assert renewal.limits == policy.terms["limits"]
    assert renewal.risk_answers == policy.application.risk_answers
    assert renewal.wished_start == policy.end_date + timedelta(days=1)
    assert renewal.completed_steps == []
    step = en_a.get(response.url)
    assert step.status_code == 200
    assert "were copied into a new application" in text(step)

    page = text(en_a.get(detail))
    assert 'id="renew-button"' not in page
    assert f'href="/app/applications/{renewal.pk}/continue/"' in page
    assert renewal.reference in page


def test_a_second_renewal_is_refused_with_a_message(in_force, en_a):
    policy = _ending_soon(in_force)
    en_a.post(renew_url(policy))
    response = en_a.post(renew_url(policy), follow=True)
    assert "already under way" in text(response)
    assert Application.objects.filter(renewal_of=policy).count() == 1


def test_a_withdrawn_renewal_may_be_started_again(in_force, en_a, applicant_a):
    policy = _ending_soon(in_force)
    en_a.post(renew_url(policy))
    first = Application.objects.get(renewal_of=policy)
    services.application_withdraw(application=first, actor=applicant_a)
    assert 'id="renew-button"' in text(en_a.get(f"/app/policies/{policy.pk}/"))
    assert en_a.post(renew_url(policy)).status_code == 302
    assert Application.objects.filter(renewal_of=policy).count() == 2


def test_renewal_opens_a_month_before_the_end_and_for_expired_policies(in_force, en_a):
    opens = in_force.end_date - timedelta(days=30)
    page = text(en_a.get(f"/app/policies/{in_force.pk}/"))
    assert 'id="renew-button"' not in page
    assert field(page, "renewal-opens").endswith(f"from {opens.isoformat()}.")
    response = en_a.post(renew_url(in_force), follow=True)
    assert f"can be renewed from {opens.isoformat()}" in text(response)
    assert not Application.objects.filter(renewal_of=in_force).exists()

    today = timezone.localdate()
    Policy.objects.filter(pk=in_force.pk).update(
        status=PolicyStatus.EXPIRED,
        start_date=today - timedelta(days=365),
        end_date=today - timedelta(days=1),
    )
    assert 'id="renew-button"' in text(en_a.get(f"/app/policies/{in_force.pk}/"))
    assert en_a.post(renew_url(in_force)).status_code == 302
    assert Application.objects.filter(renewal_of=in_force).exists()


# --- Who may, and how ---------------------------------------------------------------------------


def test_another_firm_gets_404_on_cancel_and_renew(in_force, other):
    policy = _ending_soon(in_force)
    assert other.get(cancel_url(policy)).status_code == 404
    assert other.post(cancel_url(policy), {"understand": "on"}).status_code == 404
    assert other.post(renew_url(policy)).status_code == 404
    assert untouched(policy, PolicyStatus.IN_FORCE)
    assert not Application.objects.filter(renewal_of=policy).exists()


def test_get_never_writes(in_force, en_a):
    policy = _ending_soon(in_force)
    applications = Application.objects.count()
    history = policy.history.count()
    for url in (f"/app/policies/{policy.pk}/", cancel_url(policy)):
        assert en_a.get(url).status_code == 200, url
    assert en_a.get(renew_url(policy)).status_code == 405
    assert en_a.get(cancel_url(policy) + "?understand=on").status_code == 200
    assert Application.objects.count() == applications
    assert policy.history.count() == history
    assert untouched(policy, PolicyStatus.IN_FORCE)


def test_cancel_and_renew_need_login(in_force, client):
    for response in (client.get(cancel_url(in_force)), client.post(renew_url(in_force))):
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")
