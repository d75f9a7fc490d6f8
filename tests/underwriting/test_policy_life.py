"""A policy's life after issue: instalment reminders and lapse, cancellation by either side,
endorsements with pro-rata premium, renewal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from portal.errors import DomainError, PermissionDenied
from portal.models import Notification
from tests.factories import UserFactory
from tests.underwriting.application_helpers import acknowledge, filled_application, granted_patent
from underwriting import services
from underwriting.choices import (
    ApplicationStatus,
    CancellationParty,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
)
from underwriting.models import Policy, Product


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def senior(db):
    user = UserFactory(email="senior@example.test", is_staff=True)
    user.groups.add(Group.objects.get(name="senior_underwriter"))
    return user


def _policy(firm, user, *, instalments=1, pay=True, **application):
    app = filled_application(firm, user, **application)
    services.application_submit(application=app, actor=user, declaration=True)
    policy = acknowledge(app.quotes.get(), user, instalments=instalments)
    if pay:
        first = policy.instalments.order_by("sequence").first()
        services.payment_record(
            policy=policy,
            actor=None,
            amount=first.amount,
            reference=f"SANDBOX-{policy.pk}",
            method=PaymentMethod.SANDBOX,
        )
    policy.refresh_from_db()
    return policy


def _start_now(policy):
    """Move the period so that cover started today (the wished start is a week ahead)."""
    today = timezone.localdate()
    Policy.objects.filter(pk=policy.pk).update(
        start_date=today, end_date=today.replace(year=today.year + 1) - timedelta(days=1)
    )
    services.policies_roll(today=today)
    policy.refresh_from_db()
    return policy


# --- Instalments -------------------------------------------------------------------------------


def test_reminder_once_then_lapse_after_the_grace(catalogue, firm_a, applicant_a):
    Product.objects.filter(code="PAT-ENF").update(max_instalments=4, lapse_after_days=30)
    policy = _policy(firm_a, applicant_a, instalments=4)
    second = policy.instalments.get(sequence=2)
    before = Notification.objects.filter(user=applicant_a).count()
    result = services.instalments_remind_and_lapse(today=second.due_date - timedelta(days=3))
    assert result["reminded"] == 1
    assert services.instalments_remind_and_lapse(today=second.due_date)["reminded"] == 0
    assert Notification.objects.filter(user=applicant_a).count() == before + 1
    result = services.instalments_remind_and_lapse(today=second.due_date + timedelta(days=30))
    policy.refresh_from_db()
    assert result["lapsed"] == 0 and policy.status != PolicyStatus.LAPSED
    result = services.instalments_remind_and_lapse(today=second.due_date + timedelta(days=31))
    policy.refresh_from_db()
    assert result["lapsed"] == 1 and policy.status == PolicyStatus.LAPSED
    assert not policy.instalments.filter(status=InstalmentStatus.DUE).exists()


# --- Cancellation ------------------------------------------------------------------------------


def test_policyholder_cancels_before_cover_starts_and_pays_the_fee(catalogue, firm_a, applicant_a):
    Product.objects.filter(code="PAT-ENF").update(cancellation_fee=Decimal("200.00"))
    policy = _policy(firm_a, applicant_a)
    assert policy.status == PolicyStatus.ISSUED
    cancellation = services.policy_cancel(
        policy=policy, actor=applicant_a, by=CancellationParty.POLICYHOLDER
    )
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.CANCELLED
    assert cancellation.refund == policy.premium - Decimal("200.00")
    assert cancellation.explanation["basis"] == "before_start"


def test_policyholder_cancels_after_start_at_short_period_rates(catalogue, firm_a, applicant_a):
    policy = _start_now(_policy(firm_a, applicant_a))
    cancellation = services.policy_cancel(
        policy=policy, actor=applicant_a, by=CancellationParty.POLICYHOLDER
    )
    # Cancelled on the first day: one month on risk, 10 % kept.
    assert cancellation.kept == (policy.premium * Decimal("0.10")).quantize(Decimal("0.01"))
    assert cancellation.refund + cancellation.kept == policy.premium
    assert cancellation.explanation["months_on_risk"] == 1


def test_refund_never_exceeds_what_was_paid(catalogue, firm_a, applicant_a):
    Product.objects.filter(code="PAT-ENF").update(max_instalments=4)
    policy = _start_now(_policy(firm_a, applicant_a, instalments=4))
    paid = policy.instalments.get(sequence=1).amount
    cancellation = services.policy_cancel(
        policy=policy, actor=applicant_a, by=CancellationParty.POLICYHOLDER
    )
    assert cancellation.refund <= paid
    assert Decimal(cancellation.explanation["paid"]) == paid


def test_insurer_cancels_on_fifteen_days_notice_pro_rata(
    catalogue, firm_a, applicant_a, senior, applicant_b
):
    policy = _start_now(_policy(firm_a, applicant_a))
    with pytest.raises(PermissionDenied):
        services.policy_cancel(
            policy=policy, actor=applicant_a, by=CancellationParty.INSURER, reason="x"
        )
    with pytest.raises(DomainError):
        services.policy_cancel(policy=policy, actor=senior, by=CancellationParty.INSURER)
    cancellation = services.policy_cancel(
        policy=policy, actor=senior, by=CancellationParty.INSURER, reason="风险显著增加"
    )
    today = timezone.localdate()
    assert cancellation.effective_date == today + timedelta(days=15)
    assert cancellation.explanation["days_on_risk"] == 15
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE  # cover runs until the notice has run
    assert services.cancellations_take_effect(today=today + timedelta(days=14)) == 0
    assert services.cancellations_take_effect(today=today + timedelta(days=15)) == 1
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.CANCELLED
    with pytest.raises(PermissionDenied):
        services.policy_cancel(
            policy=_policy(firm_a, applicant_a), actor=applicant_b, by="policyholder"
        )


def test_golden_refunds_through_the_quote_function(catalogue, firm_a, applicant_a):
    from datetime import date

    policy = _policy(firm_a, applicant_a)
    Policy.objects.filter(pk=policy.pk).update(
        premium=Decimal("12000.00"), start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)
    )
    policy.refresh_from_db()
    policy.payments.update(amount=Decimal("12000.00"))
    holder = services.cancellation_quote(
        policy, by=CancellationParty.POLICYHOLDER, effective_date=date(2026, 2, 2)
    )
    insurer = services.cancellation_quote(
        policy, by=CancellationParty.INSURER, effective_date=date(2026, 1, 1) + timedelta(days=73)
    )
    assert holder["refund"] == "9600.00" and insurer["refund"] == "9600.00"


# --- Endorsements ------------------------------------------------------------------------------


def test_adding_a_right_charges_pro_rata_and_makes_a_new_version(
    catalogue, firm_a, applicant_a, senior
):
    policy = _start_now(_policy(firm_a, applicant_a))
    old_premium = policy.premium
    extra = granted_patent(firm_a)
    with pytest.raises(PermissionDenied):
        services.policy_endorse(
            policy=policy,
            actor=applicant_a,
            effective_date=policy.start_date,
            add_asset_ids=[extra.pk],
        )
    endorsement = services.policy_endorse(
        policy=policy, actor=senior, effective_date=policy.start_date, add_asset_ids=[extra.pk]
    )
    policy.refresh_from_db()
    assert policy.version == 2 and endorsement.version == 2
    assert len(policy.terms["insured"]) == 2
    assert policy.premium == old_premium * 2  # per-right sections, same answers
    assert endorsement.premium_change == policy.premium - old_premium  # whole period remains
    assert policy.instalments.filter(amount=endorsement.premium_change).exists()
    assert endorsement.previous_terms["insured"] != policy.terms["insured"]
    current = policy.documents.get(is_current=True)
    assert current.version == 2
    assert policy.documents.filter(version=1, is_current=False).exists()


def test_lowering_a_limit_returns_premium(catalogue, firm_a, applicant_a, senior):
    policy = _start_now(_policy(firm_a, applicant_a))
    endorsement = services.policy_endorse(
        policy=policy,
        actor=senior,
        effective_date=policy.start_date + timedelta(days=100),
        limits={"investigation": "50000"},
    )
    policy.refresh_from_db()
    assert endorsement.premium_change < 0
    assert policy.sum_insured == Decimal("50000.00")


def test_address_change_keeps_the_premium(catalogue, firm_a, applicant_a, senior):
    policy = _start_now(_policy(firm_a, applicant_a))
    endorsement = services.policy_endorse(
        policy=policy, actor=senior, effective_date=policy.start_date, address="无锡市新吴区1号"
    )
    policy.refresh_from_db()
    assert endorsement.premium_change == 0
    assert policy.terms["firm_address"] == "无锡市新吴区1号"
    with pytest.raises(DomainError):
        services.policy_endorse(
            policy=policy, actor=senior, effective_date=policy.end_date + timedelta(days=1)
        )


# --- Renewal -----------------------------------------------------------------------------------


def test_renewal_reminder_and_prefilled_application(catalogue, firm_a, applicant_a):
    policy = _start_now(_policy(firm_a, applicant_a))
    assert services.renewal_reminders(today=policy.end_date - timedelta(days=31)) == 0
    assert services.renewal_reminders(today=policy.end_date - timedelta(days=30)) == 1
    assert services.renewal_reminders(today=policy.end_date - timedelta(days=29)) == 0
    renewal = services.policy_renew(policy=policy, actor=applicant_a)
    assert renewal.status == ApplicationStatus.DRAFT
    assert renewal.renewal_of == policy
    assert renewal.wished_start == policy.end_date + timedelta(days=1)
    assert renewal.limits == policy.terms["limits"]
    assert renewal.risk_answers == policy.application.risk_answers
    assert renewal.completed_steps == []
    with pytest.raises(DomainError):
        services.policy_renew(policy=policy, actor=applicant_a)


def test_cancelling_an_unpaid_policy_owes_nothing(catalogue, firm_a, applicant_a):
    policy = _policy(firm_a, applicant_a, pay=False)
    assert policy.status == PolicyStatus.AWAITING_PAYMENT
    cancellation = services.policy_cancel(
        policy=policy, actor=applicant_a, by=CancellationParty.POLICYHOLDER
    )
    assert cancellation.refund == 0 and cancellation.kept == 0
    assert cancellation.explanation["amount_owed"] == "0.00"


def test_cancelling_after_a_return_premium_endorsement(catalogue, firm_a, applicant_a, senior):
    policy = _start_now(_policy(firm_a, applicant_a))
    services.policy_endorse(
        policy=policy,
        actor=senior,
        effective_date=policy.start_date,
        limits={"investigation": "50000"},
    )
    policy.refresh_from_db()
    cancellation = services.policy_cancel(
        policy=policy, actor=applicant_a, by=CancellationParty.POLICYHOLDER
    )
    assert 0 <= cancellation.refund <= policy.premium
