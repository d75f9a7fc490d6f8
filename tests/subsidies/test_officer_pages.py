"""The officers' subsidy pages under /officer/: the queue and its bulk approval, the request page
with its decisions, budgets, and disbursement batches with their exports. Everything is scoped to
the officer's authority; every decision is recorded with the officer as actor."""

import codecs
import csv
import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import constants, get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from subsidies import services
from subsidies.choices import BatchStatus, RequestStatus
from subsidies.models import Budget, DisbursementBatch, Objection, SubsidyEvent, SubsidyRequest
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


@pytest.fixture
def queued(policy, wuxi, applicant_a):
    return submitted_request(policy, wuxi, applicant_a)


@pytest.fixture
def officer(client, officer_x):
    client.force_login(officer_x)  # officer_x has TOTP set up
    return client


def _client_for(user) -> Client:
    other = Client()
    other.force_login(user)
    return other


def _messages(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


def budget(prog) -> Budget:
    return Budget.objects.get(programme=prog, year=timezone.localdate().year)


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


# --- Who may see what -------------------------------------------------------------------------


def test_the_queue_shows_the_authoritys_requests_with_filters(officer, queued):
    response = officer.get(reverse("officer:queue"))
    assert response.status_code == 200
    page = response.content.decode()
    assert queued.number in page
    assert queued.firm.name_zh in page
    assert f'name="request" value="{queued.pk}"' in page  # under review: can be bulk approved
    assert reverse("officer:request", kwargs={"pk": queued.pk}) in page

    def numbers(**query):
        found = officer.get(reverse("officer:queue"), query)
        return [row["number"] for row in found.context["page"].object_list]

    assert numbers(q=queued.number) == [queued.number]
    assert numbers(q=queued.firm.uscc) == [queued.number]
    assert numbers(q="甲公司") == [queued.number]
    assert numbers(q="no such firm") == []
    assert numbers(outcome="pass") == [queued.number]
    assert numbers(outcome="fail") == []
    assert numbers(status="approved") == []
    assert numbers(programme=str(queued.programme_id)) == [queued.number]


def test_other_authorities_get_404_and_change_nothing(queued, officer_y):
    other = _client_for(officer_y)
    document = queued.documents.first()
    urls = [
        reverse("officer:request", kwargs={"pk": queued.pk}),
        reverse("officer:request_document", kwargs={"pk": queued.pk, "doc_pk": document.pk}),
    ]
    for url in urls:
        assert other.get(url).status_code == 404, url
    response = other.post(reverse("officer:approve", kwargs={"pk": queued.pk}), {"amount": "1"})
    assert response.status_code == 404
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW
    assert queued.approved_amount is None
    assert budget(queued.programme).committed == 0
    # Its own queue does not list the request, and bulk approval of it does nothing.
    assert queued.number not in other.get(reverse("officer:queue")).content.decode()
    other.post(reverse("officer:approve_many"), {"request": [queued.pk]})
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW


def test_applicants_get_403_and_anonymous_users_log_in(client, client_a, db):
    assert client_a.get(reverse("officer:queue")).status_code == 403
    assert client_a.get(reverse("officer:budget")).status_code == 403
    anonymous = Client()
    for url in (reverse("officer:queue"), reverse("officer:batches")):
        response = anonymous.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_the_request_page_and_document_download(officer, queued):
    response = officer.get(reverse("officer:request", kwargs={"pk": queued.pk}))
    assert response.status_code == 200
    page = response.content.decode()
    policy = queued.policy
    for text in (queued.number, queued.firm.uscc, policy.number, f"SANDBOX-{policy.pk}"):
        assert text in page, text
    assert [row["code"] for row in response.context["eligibility"]][:1] == ["region"]
    assert response.context["breakdown"]["most"] == queued.expected_amount
    assert response.context["actions"] == {"approve", "reject", "return"}
    assert 'id="approve-form"' in page and 'id="publish-form"' not in page
    assert len(response.context["timeline"]) == SubsidyEvent.objects.filter(request=queued).count()

    document = queued.documents.first()
    url = reverse("officer:request_document", kwargs={"pk": queued.pk, "doc_pk": document.pk})
    assert url in page
    download = officer.get(url)
    assert download.status_code == 200
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment")
    assert _content(download).startswith(b"%PDF")


# --- Decisions --------------------------------------------------------------------------------


def test_approve_a_lower_amount_through_the_page(officer, officer_x, queued):
    lowered = queued.expected_amount - D("100.00")
    response = officer.post(
        reverse("officer:approve", kwargs={"pk": queued.pk}), {"amount": str(lowered)}
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == RequestStatus.APPROVED
    assert queued.approved_amount == lowered
    assert queued.decided_by == officer_x
    assert budget(queued.programme).committed == lowered
    event = SubsidyEvent.objects.get(request=queued, code="approved")
    assert event.actor == officer_x
    assert queued.history.first().history_user == officer_x
    assert [level for level, _text in _messages(response)] == [constants.SUCCESS]


def test_raising_the_amount_is_refused_with_the_services_message(officer, queued):
    response = officer.post(
        reverse("officer:approve", kwargs={"pk": queued.pk}),
        {"amount": str(queued.expected_amount + 1)},
    )
    assert response.status_code == 400
    errors = [text for level, text in _messages(response) if level == constants.ERROR]
    assert len(errors) == 1 and f"{queued.expected_amount:,.2f}" in errors[0]
    assert f"{queued.expected_amount:,.2f}" in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW and queued.approved_amount is None


def test_bulk_approval_against_a_budget_for_one(
    officer, catalogue, firm_a, applicant_a, authority_x
):
    small = programme(authority_x, code="small", budget="10")
    first = submitted_request(in_force_policy(firm_a, applicant_a), small, applicant_a)
    second = submitted_request(in_force_policy(firm_a, applicant_a), small, applicant_a)
    response = officer.post(reverse("officer:approve_many"), {"request": [first.pk, second.pk]})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.approved_amount) == (RequestStatus.APPROVED, D("10.00"))
    assert (second.status, second.approved_amount) == (RequestStatus.UNDER_REVIEW, None)
    notes = _messages(response)
    assert [level for level, _text in notes] == [constants.SUCCESS, constants.WARNING]
    assert "10.00" in notes[0][1]
    assert second.number in notes[1][1] and first.number not in notes[1][1]
    assert budget(small).left == 0


def test_reject_needs_reasons_and_return_asks_the_firm(officer, queued):
    url = reverse("officer:reject", kwargs={"pk": queued.pk})
    response = officer.post(url, {"reasons": "No."})
    assert response.status_code == 400
    assert [level for level, _text in _messages(response)] == [constants.ERROR]
    assert response.context["forms"]["reject"]["reasons"].value() == "No."
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW

    officer.post(
        reverse("officer:return", kwargs={"pk": queued.pk}),
        {"question": "Upload the 2025 premium invoice."},
    )
    queued.refresh_from_db()
    assert queued.status == RequestStatus.RETURNED
    page = officer.get(reverse("officer:request", kwargs={"pk": queued.pk}))
    assert page.context["actions"] == set()
    assert "Upload the 2025 premium invoice." in page.content.decode()
    # Nothing more can be decided until the firm answers.
    response = officer.post(url, {"reasons": "The firm moved out of Wuxi in 2025."})
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == RequestStatus.RETURNED


def test_publish_then_an_objection_sends_it_back_under_review(officer, officer_x, queued):
    services.subsidy_approve(request=queued, actor=officer_x)
    response = officer.post(reverse("officer:publish", kwargs={"pk": queued.pk}))
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == RequestStatus.PUBLICISED
    assert queued.publication_ends == timezone.localdate() + timedelta(
        days=queued.programme.publication_days - 1
    )
    page = officer.get(reverse("officer:request", kwargs={"pk": queued.pk}))
    assert page.context["actions"] == {"objection"}

    response = officer.post(
        reverse("officer:objection", kwargs={"pk": queued.pk}),
        {"raised_by": "A competitor", "text": "The premium was refunded after payment."},
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW
    assert queued.approved_amount is None
    assert budget(queued.programme).committed == 0
    objection = Objection.objects.get(request=queued)
    assert objection.recorded_by == officer_x
    assert SubsidyEvent.objects.get(request=queued, code="objection").actor == officer_x
    page = officer.get(reverse("officer:request", kwargs={"pk": queued.pk})).content.decode()
    assert "The premium was refunded after payment." in page


def test_claw_back_is_offered_only_after_payment(officer, queued):
    response = officer.post(
        reverse("officer:claw_back", kwargs={"pk": queued.pk}),
        {"amount": "1", "reason": "Forged invoice."},
    )
    assert response.status_code == 302
    assert [level for level, _text in _messages(response)] == [constants.ERROR]
    queued.refresh_from_db()
    assert queued.status == RequestStatus.UNDER_REVIEW


# --- Budgets and batches ----------------------------------------------------------------------


def test_the_budget_page(officer, officer_x, queued):
    services.subsidy_approve(request=queued, actor=officer_x, amount="100")
    response = officer.get(reverse("officer:budget"))
    assert response.status_code == 200
    row = response.context["rows"][0]
    assert row["programme"] == queued.programme
    assert (row["budget"].committed, row["budget"].left) == (D("100.00"), D("999900.00"))
    assert row["statuses"] == [
        {"value": "approved", "label": RequestStatus.APPROVED.label, "count": 1}
    ]
    assert "999,900.00" in response.content.decode()


def test_batch_flow_exports_and_payment(officer, officer_x, officer_y, queued):
    approved = services.subsidy_approve(request=queued, actor=officer_x)
    amount = approved.approved_amount
    services.subsidy_publish(
        request=approved, actor=officer_x, today=timezone.localdate() - timedelta(days=10)
    )
    response = officer.get(reverse("officer:batch_new"))
    assert [r.pk for r in response.context["requests"]] == [queued.pk]

    response = officer.post(reverse("officer:batch_new"), {"request": [queued.pk]})
    batch = DisbursementBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("officer:batch", kwargs={"pk": batch.pk})
    assert batch.created_by == officer_x
    page = officer.get(response.url)
    assert page.context["total"] == amount
    assert queued.number in page.content.decode()
    # Nothing left to batch.
    assert officer.get(reverse("officer:batch_new")).context["requests"] == []
    assert batch.number in officer.get(reverse("officer:batches")).content.decode()

    export = officer.get(reverse("officer:batch_csv", kwargs={"pk": batch.pk}))
    assert export.status_code == 200
    assert export["X-Content-Type-Options"] == "nosniff"
    assert export["Content-Disposition"].startswith("attachment")
    data = _content(export)
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert rows[1][:4] == [batch.number, queued.number, "甲公司", queued.firm.uscc]
    assert rows[1][-1] == f"{amount:.2f}"

    export = officer.get(reverse("officer:batch_xlsx", kwargs={"pk": batch.pk}))
    assert export.status_code == 200
    data = _content(export)
    assert data.startswith(b"PK")
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert queued.number in sheet and "甲公司" in sheet
    assert "SUM(G2:G2)" in sheet  # the total row

    other = _client_for(officer_y)
    for name in ("officer:batch", "officer:batch_csv", "officer:batch_xlsx"):
        assert other.get(reverse(name, kwargs={"pk": batch.pk})).status_code == 404, name
    assert other.post(reverse("officer:batch_paid", kwargs={"pk": batch.pk}), {}).status_code == (
        404
    )

    response = officer.post(reverse("officer:batch_paid", kwargs={"pk": batch.pk}), {})
    assert response.status_code == 400  # the reference is required
    response = officer.post(
        reverse("officer:batch_paid", kwargs={"pk": batch.pk}), {"reference": "GK-2026-0042"}
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    queued.refresh_from_db()
    assert (batch.status, batch.payment_reference) == (BatchStatus.PAID, "GK-2026-0042")
    assert queued.status == RequestStatus.DISBURSED
    page = officer.get(reverse("officer:request", kwargs={"pk": queued.pk}))
    assert page.context["actions"] == {"claw_back"}
    page = officer.get(reverse("officer:batch", kwargs={"pk": batch.pk}))
    assert "GK-2026-0042" in page.content.decode() and not page.context["is_open"]
    assert SubsidyEvent.objects.get(request=queued, code="disbursed").actor == officer_x
    assert (budget(queued.programme).committed, budget(queued.programme).paid) == (
        D("0.00"),
        amount,
    )

    response = officer.post(
        reverse("officer:claw_back", kwargs={"pk": queued.pk}),
        {"amount": str(amount), "reason": "The payment proof was forged."},
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert (queued.status, queued.clawed_back_amount) == (RequestStatus.CLAWED_BACK, amount)
    assert budget(queued.programme).paid == 0
    page = officer.get(reverse("officer:request", kwargs={"pk": queued.pk}))
    assert page.status_code == 200 and page.context["actions"] == set()


def test_a_batch_cannot_include_a_request_still_published(officer, officer_x, queued):
    services.subsidy_publish(
        request=services.subsidy_approve(request=queued, actor=officer_x), actor=officer_x
    )
    assert officer.get(reverse("officer:batch_new")).context["requests"] == []
    response = officer.post(reverse("officer:batch_new"), {"request": [queued.pk]})
    assert response.status_code == 400
    assert [level for level, _text in _messages(response)] == [constants.ERROR]
    assert not DisbursementBatch.objects.exists()


def test_the_workspace_home_links_to_the_pages_and_loads_the_counts(officer, officer_x, queued):
    page = officer.get(reverse("officer:home")).content.decode()
    for name in ("officer:summary", "officer:queue", "officer:budget", "officer:batches"):
        assert reverse(name) in page, name
    summary = officer.get(reverse("officer:summary"))
    assert (summary.context["queue_count"], summary.context["approved_count"]) == (1, 0)
    services.subsidy_approve(request=queued, actor=officer_x)
    summary = officer.get(reverse("officer:summary"))
    assert (summary.context["queue_count"], summary.context["approved_count"]) == (0, 1)


# --- Bounded queries --------------------------------------------------------------------------


def _bulk_requests(authority, policy, user, numbers):
    """Requests in the queue without the slow path: one programme each (a policy is subsidised
    once per programme)."""
    now = timezone.now()
    SubsidyRequest.objects.bulk_create(
        SubsidyRequest(
            number=f"SUB-TEST-{number:04d}",
            programme=programme(authority, code=f"bulk-{number}"),
            authority=authority,
            policy=policy,
            firm=policy.firm,
            year=now.year,
            status=RequestStatus.UNDER_REVIEW,
            premium_paid=D("1000.00"),
            rate=D("50"),
            expected_amount=D("500.00"),
            eligibility_outcome="pass",
            created_by=user,
            submitted_at=now - timedelta(minutes=number),
        )
        for number in numbers
    )


def test_the_queue_runs_the_same_queries_for_3_and_30_requests(
    officer, policy, authority_x, applicant_a
):
    url = reverse("officer:queue")
    officer.get(url)  # warm up the session and the caches
    _bulk_requests(authority_x, policy, applicant_a, range(3))
    with CaptureQueriesContext(connection) as few:
        response = officer.get(url)
    assert len(response.context["page"].object_list) == 3
    _bulk_requests(authority_x, policy, applicant_a, range(3, 30))
    with CaptureQueriesContext(connection) as many:
        response = officer.get(url)
    assert len(response.context["page"].object_list) == 25
    assert len(many) == len(few), [q["sql"] for q in many]


def test_a_queue_of_ten_thousand_pages_in_the_same_queries(
    officer, policy, authority_x, applicant_a
):
    """10,000 requests (rejected ones, which the once-per-policy rule does not bind, so one
    policy and programme serve them all): the page shows 25 and costs what 3 cost."""
    prog = programme(authority_x, code="ten-thousand")
    now = timezone.now()

    def rows(numbers):
        return [
            SubsidyRequest(
                number=f"SUB-BULK-{number:05d}",
                programme=prog,
                authority=authority_x,
                policy=policy,
                firm=policy.firm,
                year=now.year,
                status=RequestStatus.REJECTED,
                premium_paid=D("1000.00"),
                rate=D("50"),
                expected_amount=D("500.00"),
                created_by=applicant_a,
                submitted_at=now - timedelta(seconds=number),
            )
            for number in numbers
        ]

    url = reverse("officer:queue") + "?status=rejected"
    officer.get(url)
    SubsidyRequest.objects.bulk_create(rows(range(3)))
    with CaptureQueriesContext(connection) as few:
        officer.get(url)
    SubsidyRequest.objects.bulk_create(rows(range(3, 10_000)), batch_size=2000)
    with CaptureQueriesContext(connection) as many:
        response = officer.get(url + "&page=200")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25
    assert response.context["page"].paginator.count == 10_000
    assert len(many) == len(few)


# --- The queue's rows and filters, written out in Python ----------------------------------------


def _one_of_each(authority, policy, user) -> list[SubsidyRequest]:
    """A request in every status and with every eligibility result (one programme each)."""
    statuses = list(RequestStatus.values)
    outcomes = ["", "pass", "fail", "warn"]
    now = timezone.now()
    firm = policy.firm
    firm.name_zh, firm.name_en = "<b>甲&\"公司'</b>", "<i>Firm A & Co</i>"
    firm.save(update_fields=["name_zh", "name_en"])
    return SubsidyRequest.objects.bulk_create(
        SubsidyRequest(
            number=f"SUB-EACH-{index:02d}",
            programme=programme(authority, code=f"each-{index}"),
            authority=authority,
            policy=policy,
            firm=firm,
            year=now.year,
            status=status,
            premium_paid=D("1234567.50"),
            rate=D("50"),
            expected_amount=D("617283.75"),
            eligibility_outcome=outcomes[index % len(outcomes)],
            created_by=user,
            submitted_at=None if index == 0 else now - timedelta(minutes=index),
        )
        for index, status in enumerate(statuses)
    )


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_queue_rows_show_what_the_badge_templates_show(
    officer, policy, authority_x, applicant_a, settings, language
):
    from django.template.loader import render_to_string
    from django.utils import translation

    created = _one_of_each(authority_x, policy, applicant_a)
    officer.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = officer.get(reverse("officer:queue"), {"status": "all"}).content.decode()
    with translation.override(language):
        for subsidy in SubsidyRequest.objects.filter(pk__in=[r.pk for r in created]):
            context = {"subsidy": subsidy}
            for badge in ("officer/_status_badge.html", "officer/_outcome_badge.html"):
                assert render_to_string(badge, context).strip() in page, (badge, subsidy.status)
            assert f'href="{reverse("officer:request", kwargs={"pk": subsidy.pk})}"' in page
            selectable = f'name="request" value="{subsidy.pk}"' in page
            assert selectable == (subsidy.status == RequestStatus.UNDER_REVIEW)
    firm_name = (
        "&lt;i&gt;Firm A &amp; Co&lt;/i&gt;"
        if language == "en"
        else ("&lt;b&gt;甲&amp;&quot;公司&#x27;&lt;/b&gt;")
    )
    assert firm_name in page and "<i>Firm" not in page and "<b>甲" not in page
    assert "1,234,567.50" in page and "617,283.75" in page
    assert '<td class="text-nowrap small">—</td>' in page  # never submitted
    select = "Select SUB-EACH-02" if language == "en" else "选择 SUB-EACH-02"
    assert f'aria-label="{select}"' in page


@pytest.mark.parametrize(
    "data",
    [None, {"status": "approved", "outcome": "fail"}, {"status": "bogus", "programme": "x"}, {}],
)
def test_the_queue_filters_render_as_djangos_selects(wuxi, data):
    from django import forms

    from subsidies.officer_views import QueueFilterForm

    form = QueueFilterForm(
        data if data is None else {**data, "programme": data.get("programme", str(wuxi.pk))},
        programmes=[wuxi],
    )
    form.is_valid()
    for name in ("status", "programme", "outcome"):
        field = form.fields[name]
        plain = str(form[name])
        django_select = forms.Select(attrs=field.widget.attrs, choices=field.choices)
        field.widget = django_select
        assert plain == str(field.get_bound_field(form, name)), name
