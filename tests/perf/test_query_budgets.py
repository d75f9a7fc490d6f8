"""Query budgets of the hot pages: each page is rendered with 10 and with 1,000 rows of what it
lists, and must run the same number of queries both times (no query per row), pinned to a
number so that a new query on any page is a visible, reviewed change.

The rows are bulk copies of one object made through the services (tests/perf/helpers.py), so a
page sees realistic data without 1,000 trips through the workflow.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import IPAsset, Notification
from subsidies.choices import BatchStatus, RequestStatus
from subsidies.models import Budget, DisbursementBatch
from tests.claims.helpers import in_force_policy, notify_claim
from tests.perf.helpers import (
    LARGE,
    SMALL,
    clone,
    clone_applications,
    clone_policies,
    count_queries,
)
from tests.subsidies.helpers import programme, submitted_request
from tests.underwriting.application_helpers import filled_application
from tests.underwriting.catalogue_factories import bulk_published_products, insurer
from underwriting.choices import ApplicationStatus, ProductStatus, QuoteStatus
from underwriting.models import (
    ApplicationEvent,
    Product,
    Quote,
    Rider,
    UnderwriterQuestion,
)

D = Decimal

# The pinned budgets: the queries each page runs, whatever the number of rows. Raising one is
# fine when the page shows something new; say why in the commit.
BUDGETS = {
    # Every signed-in page but the admin's takes its unread count from the cache
    # (portal.notifications.unread_count), and that the user is no officer (the MFA rule and
    # the navigation ask) from portal.access_cache: two queries less than it once had.
    "dashboard": 7,
    "dashboard_card": 6,
    # The live quote's premium is a subquery of the page query, not a prefetch.
    "application_list": 5,
    # The policy comes with the application; a submitted application's record (assessment and
    # declared answers) is rendered from the cache after the first visit
    # (underwriting.record_cache), so neither its insured rights nor its riders are read.
    "application_detail": 7,
    # A questionnaire step shown (GET) reads no rating tables, and a published wording's
    # questionnaires come from the process's copy (underwriting.selectors_app.attach_wording).
    "step_risk": 5,
    "step_valuation": 5,
    "product_list": 4,
    "product_detail": 8,
    "policy_list": 7,
    "claim_list": 7,
    # An officer's membership comes with its authority (portal.models.User.is_officer); that
    # an officer or a staff member has an authenticator is kept in the cache, and so are a
    # staff member's permissions and that an officer belongs to no firm (portal.access_cache).
    "officer_queue": 6,
    "officer_budget": 7,
    "officer_batches": 6,
    # The admin reads no firm memberships, and the queue's product filter names are kept with
    # the catalogue's version (underwriting.catalogue_cache).
    "admin_referral_queue": 4,
    "admin_claims_changelist": 7,
    "admin_claims_dashboard": 3,
    # The live quote is a subquery of the page query, not a prefetch.
    "api_applications": 5,
    "api_policies": 7,
    "api_claims": 7,
    "api_officer_requests": 5,
}


def assert_constant(client, url: str, grow, *, budget: str, shown, capped: bool = False):
    """GET ``url`` after growing its rows to SMALL and then to LARGE: the same queries, and the
    pinned number. ``shown(response)`` counts the rows the page shows, to prove the new rows
    reached it: more of them at LARGE (a fuller page), unless the page shows a fixed few."""
    client.get(url)  # warm up the session, the language and the caches
    grow(0, SMALL)
    few, response = count_queries(client, url)
    few_rows = shown(response)
    grow(SMALL, LARGE - SMALL)
    many, response = count_queries(client, url)
    many_rows = shown(response)
    assert few_rows >= 5, "the rows did not reach the page"
    assert many_rows > few_rows or (capped and many_rows == few_rows), (few_rows, many_rows)
    assert (budget, few, many) == (budget, BUDGETS[budget], BUDGETS[budget])


def page_rows(response) -> int:
    return len(response.context["page"].object_list)


def api_rows(response) -> int:
    return len(response.json()["results"])


def changelist_rows(response) -> int:
    return len(response.context["cl"].result_list)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


@pytest.fixture
def claim(policy, applicant_a):
    return notify_claim(policy, applicant_a)


@pytest.fixture
def authority_x(officer_x):
    return officer_x.officer_membership.authority


@pytest.fixture
def queued(policy, authority_x, applicant_a):
    return submitted_request(policy, programme(authority_x), applicant_a)


@pytest.fixture
def officer(client, officer_x):
    client.force_login(officer_x)
    return client


@pytest.fixture
def staff_client(client, underwriter):
    client.force_login(underwriter)
    return client


@pytest.fixture
def handler_client(client, claims_handler):
    client.force_login(claims_handler)
    return client


def grow_policies(policy):
    def grow(start, count):
        clone_policies(policy, count, start=start)

    return grow


def grow_claims(claim, **fields):
    today = timezone.localdate()

    def grow(start, count):
        clone(
            claim,
            count,
            start=start,
            vary=lambda i: {
                "number": f"PC-{i:06d}",
                "notified_at": claim.notified_at - timedelta(minutes=i),
                "next_deadline_on": today + timedelta(days=i % 30 - 10),
                **fields,
            },
        )

    return grow


def grow_applications(template, **fields):
    """Applications with a live quote each, as the lists show them."""
    quote = Quote.objects.filter(application=template).first()

    def grow(start, count):
        applications = clone_applications(template, count, start=start, **fields)
        if quote is not None:
            clone(
                quote,
                count,
                start=start,
                vary=lambda i: {
                    "number": f"AQ-{i:06d}",
                    "application_id": applications[i - start].pk,
                    "status": QuoteStatus.OFFERED,
                },
            )

    return grow


# --- The applicant's pages --------------------------------------------------------------------


def test_dashboard(client_a, policy, firm_a, applicant_a):
    asset = IPAsset.objects.filter(firm=firm_a).first()
    today = timezone.localdate()
    notification = Notification.objects.create(user=applicant_a, firm=firm_a, title="通知")
    application_grow = grow_applications(policy.application)

    def grow(start, count):
        clone(
            asset,
            count,
            start=start,
            vary=lambda i: {
                "number": f"ZLPERF{i:06d}",
                "expiry_date": today + timedelta(days=i + 1),
            },
        )
        clone(notification, count, start=start)
        application_grow(start, count)

    assert_constant(
        client_a,
        reverse("portal:dashboard"),
        grow,
        budget="dashboard",
        capped=True,  # the five latest
        shown=lambda r: len(r.context["applications"]),
    )


def test_dashboard_policies_card(client_a, policy):
    assert_constant(
        client_a,
        reverse("policies:dashboard_card"),
        grow_policies(policy),
        budget="dashboard_card",
        capped=True,
        shown=lambda r: len(r.context["policies"]),
    )


def test_application_list(client_a, policy):
    assert_constant(
        client_a,
        reverse("applications:list"),
        grow_applications(policy.application),
        budget="application_list",
        shown=page_rows,
    )


def test_application_detail_with_many_events_questions_and_quotes(
    client_a, policy, applicant_a, underwriter
):
    application = policy.application
    event = ApplicationEvent.objects.filter(application=application).first()
    # Questions are read only for an application that was once sent back for information.
    ApplicationEvent.objects.create(
        application=application,
        actor=underwriter,
        from_status=ApplicationStatus.REFERRED,
        to_status=ApplicationStatus.INFO_REQUESTED,
        reason="请说明美国销售情况。",
    )
    question = UnderwriterQuestion.objects.create(
        application=application,
        text="请说明美国销售情况。",
        asked_by=underwriter,
        answer="无。",
        answered_by=applicant_a,
        answered_at=timezone.now(),
    )
    quote = policy.quote

    def grow(start, count):
        clone(event, count, start=start, vary=lambda i: {"actor_id": applicant_a.pk})
        clone(question, count, start=start)
        clone(
            quote,
            count,
            start=start,
            vary=lambda i: {"number": f"DQ-{i:06d}", "status": QuoteStatus.EXPIRED},
        )

    assert_constant(
        client_a,
        reverse("applications:detail", args=[application.pk]),
        grow,
        budget="application_detail",
        shown=lambda r: min(
            len(r.context["application"].visible_quotes),
            len(r.context["answered_questions"]),
        ),
    )


@pytest.fixture
def draft(catalogue, firm_a, applicant_a):
    """A draft with one patent insured and every step answered, still editable."""
    return filled_application(firm_a, applicant_a)


def grow_insured(draft, firm):
    """More patents of the firm insured by the draft: one more valuation step each."""
    first = draft.insured_assets.select_related("asset").first()

    def grow(start, count):
        assets = clone(first.asset, count, start=start, vary=lambda i: {"number": f"ZLS{i:06d}"})
        clone(
            first,
            count,
            start=start,
            vary=lambda i: {"asset_id": assets[i - start].pk, "position": i + 1},
        )

    return grow


@pytest.mark.parametrize("step", ["risk", "valuation"])
def test_questionnaire_steps(client_a, draft, firm_a, step):
    first = draft.insured_assets.first()
    key = "risk" if step == "risk" else f"valuation-{first.asset_id}"
    assert_constant(
        client_a,
        reverse("applications:step", args=[draft.pk, key]),
        grow_insured(draft, firm_a),
        budget=f"step_{step}",
        shown=lambda r: len(r.context["progress"]),
    )


# --- The catalogue ----------------------------------------------------------------------------


def test_product_list(client, catalogue):
    """Filtered by an insurer of their own, so the seeded products do not fill the page."""
    insurers = [insurer("PERF", "压测保险", "Perf Insurance"), insurer("B")]

    def grow(start, count):
        bulk_published_products(count, insurers=insurers, prefix=f"PERF{start}")

    url = reverse("underwriting:product_list") + "?insurer=PERF"
    assert_constant(client, url, grow, budget="product_list", shown=page_rows)


def test_product_page_with_many_riders(client, catalogue):
    product = Product.objects.get(code="PAT-ENF")
    through = Rider.main_products.through

    def grow(start, count):
        riders = Rider.objects.bulk_create(
            Rider(
                code=f"R-PERF-{i:05d}",
                name_zh=f"附加险{i}",
                name_en=f"Rider {i}",
                status=ProductStatus.PUBLISHED,
            )
            for i in range(start, start + count)
        )
        through.objects.bulk_create(through(rider=rider, product=product) for rider in riders)

    assert_constant(
        client,
        reverse("underwriting:product_detail", args=[product.code]),
        grow,
        budget="product_detail",
        shown=lambda r: len(r.context["riders"]),
    )


def test_policy_list(client_a, policy):
    assert_constant(
        client_a,
        reverse("policies:list"),
        grow_policies(policy),
        budget="policy_list",
        shown=page_rows,
    )


def test_claim_list(client_a, claim):
    assert_constant(
        client_a, reverse("claims:list"), grow_claims(claim), budget="claim_list", shown=page_rows
    )


# --- The officers' workspace ------------------------------------------------------------------


def grow_requests(queued, **fields):
    """Requests in the queue, each under a programme of its own (a policy is subsidised once per
    programme); programmes are small rows, so this is cheaper than a policy each."""
    template = queued.programme

    def grow(start, count):
        programmes = clone(template, count, start=start, vary=lambda i: {"code": f"perf-{i}"})
        now = timezone.now()
        clone(
            queued,
            count,
            start=start,
            vary=lambda i: {
                "number": f"PS-{i:06d}",
                "programme_id": programmes[i - start].pk,
                "submitted_at": now - timedelta(minutes=i),
                **fields,
            },
        )

    return grow


def test_officer_queue(officer, queued):
    assert_constant(
        officer,
        reverse("officer:queue"),
        grow_requests(queued, status=RequestStatus.UNDER_REVIEW),
        budget="officer_queue",
        shown=page_rows,
    )


def test_officer_budgets(officer, queued, authority_x):
    year = timezone.localdate().year
    template = queued.programme

    def grow(start, count):
        programmes = clone(template, count, start=start, vary=lambda i: {"code": f"perf-{i}"})
        Budget.objects.bulk_create(
            Budget(programme=p, year=year, amount=D("100000.00")) for p in programmes
        )
        clone(
            queued,
            count,
            start=start,
            vary=lambda i: {
                "number": f"PB-{i:06d}",
                "programme_id": programmes[i - start].pk,
            },
        )

    assert_constant(
        officer,
        reverse("officer:budget"),
        grow,
        budget="officer_budget",
        shown=lambda r: len(r.context["rows"]),
    )


def test_officer_batches(officer, queued, authority_x, officer_x):
    batch = DisbursementBatch.objects.create(
        authority=authority_x, number="PD-TEMPLATE", created_by=officer_x, status=BatchStatus.PAID
    )

    def grow(start, count):
        batches = clone(batch, count, start=start, vary=lambda i: {"number": f"PD-{i:06d}"})
        clone(
            queued,
            count,
            start=start,
            vary=lambda i: {
                "number": f"PR-{i:06d}",
                "status": RequestStatus.REJECTED,  # not bound by once-per-policy
                "batch_id": batches[i - start].pk,
                "approved_amount": D("500.00"),
            },
        )

    assert_constant(
        officer, reverse("officer:batches"), grow, budget="officer_batches", shown=page_rows
    )


# --- The insurer's admin ----------------------------------------------------------------------


def test_admin_referral_queue(staff_client, policy):
    url = reverse("admin:underwriting_application_changelist") + "?status__exact=referred"
    assert_constant(
        staff_client,
        url,
        grow_applications(policy.application, status=ApplicationStatus.REFERRED),
        budget="admin_referral_queue",
        shown=changelist_rows,
    )


def test_admin_claims_changelist(handler_client, claim):
    assert_constant(
        handler_client,
        reverse("admin:claims_claim_changelist"),
        grow_claims(claim),
        budget="admin_claims_changelist",
        shown=changelist_rows,
    )


def test_admin_claims_dashboard(handler_client, claim):
    assert_constant(
        handler_client,
        reverse("admin:claims_claim_dashboard"),
        grow_claims(claim),
        budget="admin_claims_dashboard",
        shown=lambda r: sum(len(g["rows"]) for g in r.context["groups"]),
    )


# --- The API ----------------------------------------------------------------------------------


def test_api_applications(client_a, policy):
    assert_constant(
        client_a,
        reverse("api:applications"),
        grow_applications(policy.application),
        budget="api_applications",
        shown=api_rows,
    )


def test_api_policies(client_a, policy):
    assert_constant(
        client_a,
        reverse("api:policies"),
        grow_policies(policy),
        budget="api_policies",
        shown=api_rows,
    )


def test_api_claims(client_a, claim):
    assert_constant(
        client_a, reverse("api:claim-list"), grow_claims(claim), budget="api_claims", shown=api_rows
    )


def test_api_officer_requests(officer, queued):
    assert_constant(
        officer,
        reverse("api:officer-request-list"),
        grow_requests(queued, status=RequestStatus.UNDER_REVIEW),
        budget="api_officer_requests",
        shown=api_rows,
    )
