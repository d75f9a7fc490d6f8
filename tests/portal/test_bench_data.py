"""The load benchmark's dataset generator (`make bench`), built tiny: the rows it makes are the
ones the pages rely on, the number sequences stay ahead of it, and every page the benchmark
drives renders them. No timing here: `make bench` measures speed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import F, Max
from django.utils import timezone

from claims import services as claim_services
from claims.models import Claim, ClaimNumberSequence
from portal.models import Firm, User
from subsidies.models import Budget, RequestNumberSequence, SubsidyRequest
from underwriting import services
from underwriting.models import Application, Policy, PolicyNumberSequence

pytestmark = pytest.mark.django_db

APPLICANT = "applicant-a@demo.example"


@pytest.fixture
def bench(db):
    call_command("seed_demo", quiet=True)
    call_command("seed_catalogue", verbosity=0)
    call_command("generate_bench_data", scale=0.001)
    return User.objects.get(email=APPLICANT).memberships.get().firm


def test_builds_the_rows_the_pages_rely_on(bench):
    assert Firm.objects.filter(name_zh__startswith="基准测试企业").count() == 10
    assert Application.objects.filter(firm=bench).count() >= 50
    assert Policy.objects.count() >= 20
    assert Claim.objects.count() >= 5
    assert SubsidyRequest.objects.count() >= 10
    # States spread over the choices, so every list shows several kinds of row.
    assert len(set(Application.objects.values_list("status", flat=True))) >= 6
    assert len(set(Policy.objects.values_list("status", flat=True))) >= 4
    assert len(set(Claim.objects.values_list("status", flat=True))) >= 4
    assert len(set(SubsidyRequest.objects.values_list("status", flat=True))) >= 5
    # Snapshots copied from a real application, so detail pages have something to show.
    accepted = Application.objects.filter(status="accepted").order_by("-pk").first()
    assert accepted.rating and accepted.valuation and accepted.frozen_answers
    policy = accepted.policy
    assert policy.terms["insured"][0]["id"] == accepted.insured_assets.get().asset_id
    assert policy.quote.number == f"Q{accepted.reference}-01"
    assert isinstance(policy.premium, Decimal)
    # Dates were kept, not stamped with the time of the run.
    assert Application.objects.filter(created_at__lt=timezone.now() - timedelta(days=30)).exists()


def test_sequences_stay_ahead_of_the_generated_numbers(bench):
    for sequence in PolicyNumberSequence.objects.all():
        numbers = Policy.objects.filter(
            product=sequence.product, number__startswith=f"{sequence.product.code}-{sequence.year}-"
        ).values_list("number", flat=True)
        assert all(int(n.rsplit("-", 1)[1]) <= sequence.last for n in numbers)
    for sequence in ClaimNumberSequence.objects.all():
        last = Claim.objects.filter(number__startswith=f"CLM-{sequence.year}-").aggregate(
            m=Max("number")
        )["m"]
        assert last is None or int(last.rsplit("-", 1)[1]) <= sequence.last
    year = timezone.localdate().year
    assert SubsidyRequest.objects.filter(year=year).count() <= (
        RequestNumberSequence.objects.get(year=year).last
    )
    # The ledger agrees with the approvals and never exceeds the budget.
    assert not Budget.objects.filter(amount__lt=F("committed") + F("paid")).exists()
    assert Budget.objects.filter(committed__gt=0).exists()

    # The services carry on after the generated rows without a collision.
    applicant = User.objects.get(email=APPLICANT)
    policy = Policy.objects.filter(firm=bench, status="in_force").first()
    claim = claim_services.claim_notify(
        policy=policy,
        actor=applicant,
        incident_date=timezone.localdate() - timedelta(days=1),
        cause_number=policy.claims.first().cause_number if policy.claims.exists() else 1,
        right_ids=[item["id"] for item in policy.terms["insured"]],
        description="基准数据之后的新报案。",
        amount_claimed=Decimal("1000.00"),
    )
    assert Claim.objects.filter(number=claim.number).count() == 1


def test_running_again_adds_nothing(bench):
    before = Application.objects.count()
    call_command("generate_bench_data", scale=0.001)
    assert Application.objects.count() == before


def test_every_benchmarked_page_renders_the_generated_rows(bench, client):
    applicant = User.objects.get(email=APPLICANT)
    mine = Application.objects.filter(firm=bench)
    detail = mine.filter(status="accepted").first()
    draft = next(
        a
        for a in mine.filter(status="draft")
        if "risk" in [s["key"] for s in services.application_steps(a)]
    )
    client.force_login(applicant)
    for path in [
        "/app/",
        "/app/applications/",
        f"/app/applications/{detail.pk}/",
        f"/app/applications/{draft.pk}/step/risk/",
        "/products/",
        "/api/v1/applications/",
        "/api/v1/policies/",
        "/api/v1/claims/",
        f"/app/policies/{detail.policy.pk}/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
    assert client.get("/api/v1/applications/").json()["count"] >= 50

    client.force_login(User.objects.get(email="officer-wuxi@demo.example"))
    for path in ["/officer/requests/", "/api/v1/officer/requests/"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/officer/requests/").json()["count"] > 0

    client.force_login(User.objects.get(email="underwriter@demo.example"))
    response = client.get("/admin/underwriting/application/?status__exact=referred")
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


@pytest.mark.urls("scripts.bench.urls")
def test_the_minimal_view_is_only_in_the_bench_urlconf(client):
    assert client.get("/bench/minimal/").content == b"ok"


def test_the_project_urlconf_has_no_minimal_view(client):
    assert client.get("/bench/minimal/").status_code == 404
