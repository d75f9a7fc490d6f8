"""Subsidy services: what a policy may get, applying, the eligibility pre-check, officer
decisions, the budget ledger, publication with objections, disbursement and clawback."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.errors import DomainError, PermissionDenied
from portal.models import Notification
from subsidies import services
from subsidies.choices import EligibilityOutcome, RequestStatus
from subsidies.models import Budget, FirmAllowance
from tests.subsidies.helpers import in_force_policy, programme, submitted_request

D = Decimal


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture
def authority_x(officer_x):
    return officer_x.officer_membership.authority


@pytest.fixture
def wuxi(authority_x):
    return programme(authority_x)


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


def budget(prog) -> Budget:
    return Budget.objects.get(programme=prog, year=timezone.localdate().year)


def test_the_policy_page_offers_the_programmes_with_the_expected_amount(policy, wuxi):
    offers = services.programmes_for_policy(policy)
    assert [o["programme"] for o in offers] == [wuxi]
    expected = offers[0]["estimate"]
    assert expected.amount == (services.premium_paid(policy) * D("0.5")).quantize(D("0.01"))
    assert expected.decided_by == "rate"


def test_a_programme_of_another_region_is_not_offered(policy, officer_y):
    programme(officer_y.officer_membership.authority, code="shenzhen-test")
    assert services.programmes_for_policy(policy) == []


def test_apply_check_and_approve_reserves_the_budget(policy, wuxi, applicant_a, officer_x):
    request = submitted_request(policy, wuxi, applicant_a)
    assert request.status == RequestStatus.UNDER_REVIEW
    assert request.eligibility_outcome == EligibilityOutcome.PASS
    codes = {r["code"]: r["outcome"] for r in request.eligibility}
    assert codes["region"] == codes["paid_in_full"] == codes["budget"] == "pass"
    Notification.objects.all().delete()
    approved = services.subsidy_approve(request=request, actor=officer_x)
    assert approved.status == RequestStatus.APPROVED
    assert approved.approved_amount == request.expected_amount
    assert budget(wuxi).committed == approved.approved_amount
    assert Notification.objects.filter(user=applicant_a).count() == 1


def test_the_same_policy_is_not_subsidised_twice(policy, wuxi, applicant_a):
    submitted_request(policy, wuxi, applicant_a)
    with pytest.raises(DomainError) as refused:
        services.subsidy_request_create(policy=policy, programme=wuxi, actor=applicant_a)
    assert refused.value.code == "duplicate"


def test_the_officer_may_lower_never_raise(policy, wuxi, applicant_a, officer_x):
    request = submitted_request(policy, wuxi, applicant_a)
    with pytest.raises(DomainError) as refused:
        services.subsidy_approve(
            request=request, actor=officer_x, amount=request.expected_amount + 1
        )
    assert refused.value.code == "cap"
    approved = services.subsidy_approve(request=request, actor=officer_x, amount="100")
    assert approved.approved_amount == D("100.00")


def test_the_budget_left_caps_the_amount(catalogue, firm_a, applicant_a, authority_x, officer_x):
    small = programme(authority_x, code="small", budget="10")
    request = submitted_request(in_force_policy(firm_a, applicant_a), small, applicant_a)
    approved = services.subsidy_approve(request=request, actor=officer_x)
    assert approved.approved_amount == D("10.00")
    assert budget(small).left == 0


def test_officers_of_another_authority_cannot_decide(policy, wuxi, applicant_a, officer_y):
    request = submitted_request(policy, wuxi, applicant_a)
    with pytest.raises(PermissionDenied):
        services.subsidy_approve(request=request, actor=officer_y)
    assert services.subsidy_approve_many(request_ids=[request.pk], actor=officer_y) == {}


def test_return_answer_reject(policy, wuxi, applicant_a, officer_x):
    request = submitted_request(policy, wuxi, applicant_a)
    services.subsidy_return(request=request, actor=officer_x, question="Send the 2025 invoice.")
    request.refresh_from_db()
    assert request.status == RequestStatus.RETURNED
    services.subsidy_answer(request=request, actor=applicant_a, answer="Uploaded as other.")
    request.refresh_from_db()
    assert request.status == RequestStatus.UNDER_REVIEW
    with pytest.raises(DomainError):
        services.subsidy_reject(request=request, actor=officer_x, reasons="No.")
    services.subsidy_reject(
        request=request, actor=officer_x, reasons="The firm moved its seat out of Wuxi in 2025."
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert budget(wuxi).committed == 0


def test_publication_objection_and_disbursement(policy, wuxi, applicant_a, officer_x):
    request = submitted_request(policy, wuxi, applicant_a)
    request = services.subsidy_approve(request=request, actor=officer_x)
    amount = request.approved_amount
    today = timezone.localdate()
    request = services.subsidy_publish(request=request, actor=officer_x, today=today)
    assert request.publication_ends == today + timedelta(days=wuxi.publication_days - 1)
    # An objection releases the money until the request is approved again.
    services.objection_record(
        request=request, actor=officer_x, raised_by="A competitor", text="Premium was refunded."
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.UNDER_REVIEW and budget(wuxi).committed == 0
    request = services.subsidy_approve(request=request, actor=officer_x)
    start = today - timedelta(days=10)
    request = services.subsidy_publish(request=request, actor=officer_x, today=start)
    with pytest.raises(DomainError):
        services.batch_create(actor=officer_x, request_ids=[request.pk], today=start)
    batch = services.batch_create(actor=officer_x, request_ids=[request.pk], today=today)
    batch = services.batch_mark_paid(batch=batch, actor=officer_x, reference="TREASURY-1")
    request.refresh_from_db()
    assert request.status == RequestStatus.DISBURSED
    assert (budget(wuxi).committed, budget(wuxi).paid) == (D("0.00"), amount)
    services.subsidy_claw_back(
        request=request, actor=officer_x, amount=amount, reason="Forged payment proof."
    )
    assert budget(wuxi).paid == 0
    allowance = FirmAllowance.objects.get(programme=wuxi, firm=request.firm)
    assert allowance.granted == 0
