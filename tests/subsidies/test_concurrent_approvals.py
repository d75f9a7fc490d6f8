"""Officers approving at the same moment never overspend a budget or a firm's annual cap: the
budget and allowance rows are locked (PostgreSQL row locks). 20+ threads, each with its own
database connection, approve at once against money that fits exactly 10."""

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections

from portal.errors import DomainError
from subsidies import services
from subsidies.choices import RequestStatus
from subsidies.models import Budget, FirmAllowance, SubsidyRequest
from tests.factories import FirmFactory, MembershipFactory
from tests.subsidies.helpers import in_force_policy, programme, submitted_request

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 24
FITS = 10


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every write anyway")


@pytest.fixture(autouse=True)
def no_documents(monkeypatch):
    """The policies' PDFs play no part here and would cost seconds each."""
    monkeypatch.setattr("underwriting.tasks.make_policy_document.delay", lambda *a: None)
    monkeypatch.setattr("underwriting.tasks.make_quote_pdf.delay", lambda *a: None)


def approve_all_at_once(request_ids, officer) -> tuple[list, list]:
    barrier = threading.Barrier(len(request_ids))
    approved, refused = [], []
    lock = threading.Lock()

    def approve(request_id):
        try:
            barrier.wait()
            request = SubsidyRequest.objects.get(pk=request_id)
            try:
                result = services.subsidy_approve(request=request, actor=officer)
            except DomainError as error:
                with lock:
                    refused.append(error.code)
            else:
                with lock:
                    approved.append(result.approved_amount)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(pk,)) for pk in request_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return approved, refused


def requests_of_equal_amount(prog, officer_authority, count, *, firms):
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)
    ids = []
    for position in range(count):
        firm, user = firms[position % len(firms)]
        ids.append(submitted_request(in_force_policy(firm, user), prog, user).pk)
    amounts = set(
        SubsidyRequest.objects.filter(pk__in=ids).values_list("expected_amount", flat=True)
    )
    assert len(amounts) == 1, amounts
    return ids, amounts.pop()


def wuxi_firms(count):
    firms = []
    for position in range(count):
        firm = FirmFactory(name_zh=f"无锡{position}号公司", name_en=f"Wuxi firm {position}")
        firms.append((firm, MembershipFactory(firm=firm, role="owner").user))
    return firms


def test_a_budget_that_fits_ten_approves_exactly_ten(officer_x):
    authority = officer_x.officer_membership.authority
    prog = programme(authority, code="race-budget", budget="100000000")
    ids, each = requests_of_equal_amount(prog, authority, THREADS, firms=wuxi_firms(THREADS))
    Budget.objects.filter(programme=prog).update(amount=each * FITS)

    approved, refused = approve_all_at_once(ids, officer_x)

    assert len(approved) == FITS
    assert len(refused) == THREADS - FITS and set(refused) <= {"exhausted", "cap"}
    budget = Budget.objects.get(programme=prog)
    assert budget.committed == each * FITS and budget.left == 0
    assert SubsidyRequest.objects.filter(status=RequestStatus.APPROVED).count() == FITS


def test_a_firms_annual_cap_that_fits_ten_approves_exactly_ten(officer_x):
    authority = officer_x.officer_membership.authority
    firms = wuxi_firms(1)
    prog = programme(authority, code="race-firm-cap", budget="100000000")
    ids, each = requests_of_equal_amount(prog, authority, THREADS, firms=firms)
    prog.cap_per_firm_year = each * FITS
    prog.save(update_fields=["cap_per_firm_year"])

    approved, refused = approve_all_at_once(ids, officer_x)

    assert len(approved) == FITS and len(refused) == THREADS - FITS
    allowance = FirmAllowance.objects.get(programme=prog, firm=firms[0][0])
    assert allowance.granted == each * FITS
    assert Budget.objects.get(programme=prog).committed == each * FITS
    assert sum(approved, Decimal(0)) == each * FITS
