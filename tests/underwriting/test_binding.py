"""Binding: the exclusion acknowledgement is complete or nothing happens; payment issues the
policy with a gapless number; the record is evidence and never changes."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from portal.errors import DomainError, PermissionDenied
from tests.factories import UserFactory
from tests.underwriting.application_helpers import (
    acknowledge,
    filled_application,
    notice_token_shown_ago,
)
from underwriting import services
from underwriting.choices import (
    DocumentStatus,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
    QuoteStatus,
)
from underwriting.models import (
    Acknowledgement,
    AcknowledgementError,
    Policy,
    Quote,
)


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def quote(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a, riders=["R-ADVANCE"])
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    return application.quotes.get(status=QuoteStatus.OFFERED)


@pytest.fixture
def cashier(db):
    from django.contrib.auth.models import Group

    user = UserFactory(email="cashier@example.test", is_staff=True)
    user.groups.add(Group.objects.get(name="underwriter"))
    return user


def test_notice_lists_clause_rider_and_special_exclusions(quote):
    Quote.objects.filter(pk=quote.pk).update(
        special_exclusions=[
            {
                "title": {"zh": "特别约定", "en": "Special"},
                "text": {"zh": "文本", "en": "Text"},
                "explanation": {"zh": "解释", "en": "Explained"},
            }
        ]
    )
    quote.refresh_from_db()
    notice = services.exclusion_notice(quote)
    keys = notice.keys
    clause = quote.application.clause_version
    assert [k for k in keys if k.startswith("clause-")] == [
        f"clause-{n}" for n in range(1, len(clause.exclusions) + 1)
    ]
    assert any(k.startswith("rider-R-ADVANCE-") for k in keys)
    assert keys[-1] == "special-1"
    assert len(notice.sha256) == 64 and "特别约定" in notice.text


def test_every_tick_is_needed(quote, applicant_a):
    notice = services.exclusion_notice(quote)
    ticks = {key: True for key in notice.keys[:-1]}
    with pytest.raises(DomainError) as error:
        acknowledge(quote, applicant_a, ticks=ticks)
    assert error.value.code == "ticks"
    assert not Acknowledgement.objects.exists() and not Policy.objects.exists()


def test_a_forged_hash_is_refused(quote, applicant_a):
    with pytest.raises(DomainError) as error:
        acknowledge(quote, applicant_a, text_sha256="0" * 64)
    assert error.value.code == "hash"


def test_a_token_for_other_text_or_user_is_refused(quote, applicant_a, firm_a):
    from tests.factories import MembershipFactory

    colleague = MembershipFactory(firm=firm_a, user__email="c@example.test").user
    with pytest.raises(DomainError) as error:
        acknowledge(quote, applicant_a, token=notice_token_shown_ago(quote, colleague, 120))
    assert error.value.code == "token"
    with pytest.raises(DomainError):
        acknowledge(quote, applicant_a, token="forged:token")


def test_reading_too_fast_is_refused(quote, applicant_a, settings):
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 30
    with pytest.raises(DomainError) as error:
        acknowledge(quote, applicant_a, seconds_read=5)
    assert error.value.code == "too_fast"
    assert acknowledge(quote, applicant_a, seconds_read=31).pk


def test_the_notice_as_a_whole_must_be_confirmed(quote, applicant_a):
    with pytest.raises(DomainError) as error:
        acknowledge(quote, applicant_a, confirmed=False)
    assert error.value.code == "confirm"


def test_complete_acknowledgement_records_the_evidence(quote, applicant_a):
    policy = acknowledge(quote, applicant_a, seconds_read=95)
    record = policy.acknowledgement
    notice = services.exclusion_notice(quote)
    assert record.text_sha256 == notice.sha256 and record.notice_text == notice.text
    assert record.user == applicant_a and record.firm == quote.application.firm
    assert record.ip_address == "127.0.0.1" and record.user_agent == "pytest"
    assert 95 <= record.dwell_seconds < 120
    assert [i["key"] for i in record.items] == notice.keys
    assert all(i["ticked_at"] for i in record.items)
    assert record.clause_version == quote.application.clause_version
    assert record.notice_version == services.NOTICE_VERSION
    assert policy.status == PolicyStatus.AWAITING_PAYMENT and policy.number is None
    assert policy.terms["exclusions"][0]["key"] == "clause-1"


def test_the_record_can_never_change(quote, applicant_a):
    record = acknowledge(quote, applicant_a).acknowledgement
    record.dwell_seconds = 9999
    with pytest.raises(AcknowledgementError):
        record.save()
    with pytest.raises(AcknowledgementError):
        record.delete()


def test_instalments_split_the_premium(catalogue, firm_a, applicant_a):
    from underwriting.models import Product

    Product.objects.filter(code="PAT-ENF").update(max_instalments=4)
    application = filled_application(firm_a, applicant_a)
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    quote = application.quotes.get()
    policy = acknowledge(quote, applicant_a, instalments=4)
    amounts = list(policy.instalments.values_list("amount", flat=True))
    assert len(amounts) == 4 and sum(amounts) == quote.premium
    with pytest.raises(DomainError):
        other = filled_application(firm_a, applicant_a)
        services.application_submit(application=other, actor=applicant_a, declaration=True)
        acknowledge(other.quotes.get(), applicant_a, instalments=5)


# --- Payment and issue -------------------------------------------------------------------------


def test_no_cover_before_payment_then_issue_with_a_number(quote, applicant_a, cashier):
    policy = acknowledge(quote, applicant_a)
    with pytest.raises(DomainError) as error:
        services.policy_issue(policy=policy, actor=cashier)
    assert error.value.code == "unpaid"
    due = policy.instalments.get()
    with pytest.raises(PermissionDenied):
        services.payment_record(
            policy=policy, actor=applicant_a, amount=due.amount, reference="BANK-1"
        )
    with pytest.raises(DomainError) as error:
        services.payment_record(
            policy=policy, actor=cashier, amount=due.amount - 1, reference="BANK-1"
        )
    assert error.value.code == "amount"
    services.payment_record(policy=policy, actor=cashier, amount=due.amount, reference="BANK-1")
    policy.refresh_from_db()
    year = policy.start_date.year
    assert policy.number == f"PAT-ENF-{year}-000001"
    assert policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    assert policy.instalments.get().status == InstalmentStatus.PAID
    document = policy.documents.get()
    assert document.is_current and document.status == DocumentStatus.QUEUED
    assert services.policy_verify(policy.number, policy.verification_code) == policy
    assert services.policy_verify(policy.number, "WRONGCODE1") is None
    with pytest.raises(DomainError):
        services.payment_record(policy=policy, actor=cashier, amount=due.amount, reference="B-2")


def test_the_same_reference_is_never_booked_twice(catalogue, firm_a, applicant_a, cashier):
    policies = []
    for _ in range(2):
        application = filled_application(firm_a, applicant_a)
        services.application_submit(application=application, actor=applicant_a, declaration=True)
        policies.append(acknowledge(application.quotes.get(), applicant_a))
    first, second = policies
    amount = first.instalments.get().amount
    services.payment_record(policy=first, actor=cashier, amount=amount, reference="SAME")
    with pytest.raises(DomainError) as error:
        services.payment_record(policy=second, actor=cashier, amount=amount, reference="SAME")
    assert error.value.code == "dup"


def test_sandbox_provider_payment_needs_no_staff(quote, applicant_a):
    policy = acknowledge(quote, applicant_a)
    due = policy.instalments.get()
    services.payment_record(
        policy=policy,
        actor=None,
        amount=due.amount,
        reference="SANDBOX-abc",
        method=PaymentMethod.SANDBOX,
    )
    policy.refresh_from_db()
    assert policy.number


def test_an_incomplete_acknowledgement_never_issues(quote, applicant_a, cashier):
    """Even a record written around the service (admin, shell) cannot issue a policy."""
    policy = acknowledge(quote, applicant_a)
    record = policy.acknowledgement
    # Forge the stored record into an incomplete one, bypassing the model's guard.
    Acknowledgement.objects.filter(pk=record.pk).update(
        items=[dict(i, ticked_at=None) for i in record.items]
    )
    due = policy.instalments.get()
    with pytest.raises(DomainError) as error:
        services.payment_record(policy=policy, actor=cashier, amount=due.amount, reference="X-1")
    assert error.value.code == "acknowledgement"
    policy.refresh_from_db()
    assert policy.number is None and policy.status == PolicyStatus.AWAITING_PAYMENT
    assert not policy.payments.exists()


def test_a_changed_text_hash_never_issues(quote, applicant_a, cashier):
    policy = acknowledge(quote, applicant_a)
    Acknowledgement.objects.filter(pk=policy.acknowledgement_id).update(text_sha256="f" * 64)
    policy.refresh_from_db()
    with pytest.raises(DomainError):
        services.policy_issue(policy=policy, actor=cashier)


def test_start_and_expiry_roll_with_the_calendar(quote, applicant_a, cashier):
    policy = acknowledge(quote, applicant_a)
    services.payment_record(
        policy=policy,
        actor=cashier,
        amount=policy.instalments.get().amount,
        reference="ROLL-1",
    )
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.ISSUED  # the wished start is a week ahead
    services.policies_roll(today=policy.start_date)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE
    services.policies_roll(today=policy.end_date)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE  # the last day is still covered
    services.policies_roll(today=policy.end_date + timedelta(days=1))
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.EXPIRED


def test_policy_period_is_one_year_inclusive(quote, applicant_a):
    policy = acknowledge(quote, applicant_a)
    start = policy.start_date
    assert start == quote.application.wished_start
    assert (policy.end_date - start).days + 1 in (365, 366)
    assert policy.end_date.day == (start - timedelta(days=1)).day


# --- Concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_issues_get_fifty_consecutive_numbers(firm_a, applicant_a):
    if connection.vendor != "postgresql":
        pytest.skip("row locks under real concurrency need PostgreSQL (CI runs it)")
    from django.core.management import call_command

    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)
    policies = []
    for _ in range(50):
        application = filled_application(firm_a, applicant_a)
        services.application_submit(application=application, actor=applicant_a, declaration=True)
        policy = acknowledge(application.quotes.get(), applicant_a)
        policy.instalments.update(status=InstalmentStatus.PAID, paid_at=timezone.now())
        policies.append(policy)
    errors = []
    barrier = threading.Barrier(10)

    def issue(batch):
        try:
            barrier.wait()
            for policy in batch:
                services.policy_issue(policy=policy, actor=None)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(policies[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Policy.objects.values_list("number", flat=True))
    year = policies[0].start_date.year
    assert numbers == [f"PAT-ENF-{year}-{n:06d}" for n in range(1, 51)]


def test_money_stays_decimal(quote, applicant_a):
    policy = acknowledge(quote, applicant_a)
    assert isinstance(policy.premium, Decimal)
    assert policy.premium == quote.premium
