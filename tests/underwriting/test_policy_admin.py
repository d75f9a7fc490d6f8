"""Policies, instalments, payments and exclusion acknowledgements in the Django admin: staff read
them; underwriters book bank transfers, which issue the policy; the acknowledgement is evidence
that nobody changes, superusers included, and prints cleanly for a court file. Policies are
built through the services, as an applicant would."""

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.underwriting.admin_helpers import flash, login, staff, url
from tests.underwriting.application_helpers import acknowledge, filled_application
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
    Application,
    Instalment,
    Payment,
    Policy,
    Quote,
)


def rows(response) -> set[int]:
    assert response.status_code == 200
    return {policy.pk for policy in response.context["cl"].result_list}


def now_field() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


def new_policy(firm, user) -> Policy:
    application = filled_application(firm, user)
    services.application_submit(application=application, actor=user, declaration=True)
    return acknowledge(application.quotes.get(status=QuoteStatus.OFFERED), user)


@pytest.fixture
def policy(catalogue, firm_a, applicant_a) -> Policy:
    return new_policy(firm_a, applicant_a)


@pytest.fixture
def superuser(db):
    return staff("root@example.test", is_superuser=True)


def issue(policy, actor, reference="BANK-ISSUE-1"):
    services.payment_record(
        policy=policy,
        actor=actor,
        amount=policy.instalments.get(sequence=1).amount,
        reference=reference,
        method=PaymentMethod.BANK_TRANSFER,
    )
    policy.refresh_from_db()
    return policy


# --- The policy list ----------------------------------------------------------------------------


def test_policy_list_shows_the_columns_and_its_filters_work(
    catalogue, firm_a, applicant_a, firm_b, applicant_b, underwriter, client
):
    awaiting = new_policy(firm_a, applicant_a)
    issued = issue(new_policy(firm_b, applicant_b), underwriter)
    # The awaiting policy's first instalment is a week late.
    awaiting.instalments.update(due_date=timezone.localdate() - timedelta(days=7))

    login(client, underwriter)
    changelist = url("policy_changelist")
    response = client.get(changelist)
    assert rows(response) == {awaiting.pk, issued.pk}
    page = response.content.decode()
    assert "awaiting payment" in page and issued.number in page
    assert "Firm A" in page and "Firm B" in page and "PAT-ENF" in page
    due = awaiting.instalments.get()
    assert f"{due.due_date:%Y-%m-%d} · CNY {due.amount:,.2f}" in page
    assert "overdue" in page

    assert rows(client.get(changelist, {"status__exact": "awaiting_payment"})) == {awaiting.pk}
    assert rows(client.get(changelist, {"overdue": "yes"})) == {awaiting.pk}
    assert rows(client.get(changelist, {"overdue": "no"})) == {issued.pk}
    assert rows(client.get(changelist, {"q": issued.number})) == {issued.pk}
    assert rows(client.get(changelist, {"q": firm_a.uscc})) == {awaiting.pk}
    assert rows(client.get(changelist, {"q": "乙公司"})) == {issued.pk}
    year = awaiting.start_date.year
    assert rows(client.get(changelist, {"start_year": str(year)})) == {awaiting.pk, issued.pk}
    assert rows(client.get(changelist, {"start_year": str(year - 1)})) == set()
    assert rows(client.get(changelist, {"end_year": str(awaiting.end_date.year)})) == {
        awaiting.pk,
        issued.pk,
    }
    product = awaiting.product_id
    assert rows(client.get(changelist, {"product__id__exact": product})) == {
        awaiting.pk,
        issued.pk,
    }


def clone_policies(template: Policy, count: int, start: int) -> None:
    """``count`` policies like ``template``, each with its own application, quote,
    acknowledgement and instalment, all written in bulk: half issued, half awaiting payment,
    some instalments overdue."""
    application, quote, record = template.application, template.quote, template.acknowledgement
    today = timezone.localdate()
    applications = Application.objects.bulk_create(
        [
            Application(
                firm=application.firm,
                product=application.product,
                clause_version=application.clause_version,
                created_by=application.created_by,
                status=application.status,
                limits=application.limits,
                deductible=application.deductible,
                sum_insured=application.sum_insured,
                wished_start=application.wished_start,
            )
            for _ in range(count)
        ]
    )
    quotes = Quote.objects.bulk_create(
        [
            Quote(
                application=item,
                number=f"QB{start + n:08d}",
                status=QuoteStatus.ACCEPTED,
                limits=quote.limits,
                deductible=quote.deductible,
                rider_codes=quote.rider_codes,
                sum_insured=quote.sum_insured,
                breakdown=quote.breakdown,
                technical_premium=quote.technical_premium,
                premium=quote.premium,
                valid_until=quote.valid_until,
            )
            for n, item in enumerate(applications)
        ]
    )
    records = Acknowledgement.objects.bulk_create(
        [
            Acknowledgement(
                quote=item,
                application=item.application,
                firm=record.firm,
                user=record.user,
                clause_version=record.clause_version,
                notice_version=record.notice_version,
                text_sha256=record.text_sha256,
                notice_text=record.notice_text,
                items=record.items,
                shown_at=record.shown_at,
                confirmed_at=record.confirmed_at,
                dwell_seconds=record.dwell_seconds,
                ip_address=record.ip_address,
                user_agent=record.user_agent,
            )
            for item in quotes
        ]
    )
    policies = Policy.objects.bulk_create(
        [
            Policy(
                number=f"PAT-ENF-2099-{start + n:06d}" if n % 2 else None,
                application=item.application,
                quote=item.quote,
                acknowledgement=item,
                firm=template.firm,
                product=template.product,
                clause_version=template.clause_version,
                status=PolicyStatus.IN_FORCE if n % 2 else PolicyStatus.AWAITING_PAYMENT,
                start_date=template.start_date,
                end_date=template.end_date,
                premium=template.premium,
                sum_insured=template.sum_insured,
                remaining_sum_insured=template.remaining_sum_insured,
                terms=template.terms,
                issued_at=timezone.now() if n % 2 else None,
            )
            for n, item in enumerate(records)
        ]
    )
    Instalment.objects.bulk_create(
        [
            Instalment(
                policy=item,
                sequence=1,
                due_date=today + timedelta(days=(n % 21) - 10),
                amount=item.premium,
                status=InstalmentStatus.PAID if n % 2 else InstalmentStatus.DUE,
                paid_at=timezone.now() if n % 2 else None,
            )
            for n, item in enumerate(policies)
        ]
    )


def policy_list_queries(client, year: int) -> list[int]:
    counts = []
    for params in (
        {},
        {"status__exact": "awaiting_payment"},
        {"overdue": "yes", "q": "甲"},
        {"start_year": str(year), "end_year": str(year + 1), "o": "8"},
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("policy_changelist"), params)
        assert response.status_code == 200
        counts.append(len(queries))
    return counts


def test_policy_list_costs_the_same_queries_for_10_and_300_policies(policy, underwriter, client):
    login(client, underwriter)
    clone_policies(policy, 9, start=1)
    assert Policy.objects.count() == 10
    client.get(url("policy_changelist"))  # the session and permission caches settle
    with_10 = policy_list_queries(client, policy.start_date.year)
    clone_policies(policy, 290, start=100)
    assert Policy.objects.count() == 300
    with_300 = policy_list_queries(client, policy.start_date.year)
    assert with_10 == with_300
    assert max(with_300) <= 15, with_300


# --- The policy page and the bank transfer ------------------------------------------------------


def test_policy_page_is_read_only_and_shows_terms_instalments_and_acknowledgement(
    policy, underwriter, client
):
    login(client, underwriter)
    change = url("policy_change", policy.pk)
    page = client.get(change)
    assert page.status_code == 200
    text = page.content.decode()
    for exclusion in policy.terms["exclusions"]:
        assert html.escape(exclusion["title"]["en"] or exclusion["title"]["zh"]) in text
    assert policy.acknowledgement.text_sha256 in text
    assert url("acknowledgement_change", policy.acknowledgement_id) in text
    assert url("acknowledgement_print", policy.acknowledgement_id) in text
    assert url("policy_record_payment", policy.pk) in text
    assert 'name="_save"' not in text
    assert client.post(change, {"status": "in_force"}).status_code == 403
    assert client.get(url("policy_add")).status_code == 403
    assert client.get(url("policy_delete", policy.pk)).status_code == 403


def test_recording_a_transfer_issues_the_policy_and_says_its_number(policy, underwriter, client):
    login(client, underwriter)
    due = policy.instalments.get()
    record = url("policy_record_payment", policy.pk)
    form = client.get(record)
    assert form.status_code == 200
    assert form.context["form"].initial["amount"] == due.amount
    received = now_field()
    response = client.post(
        record, {"amount": str(due.amount), "reference": "ICBC-20261201-7", "received_at": received}
    )
    assert response.status_code == 302, flash(response)
    assert response.url == url("policy_change", policy.pk)
    policy.refresh_from_db()
    assert policy.number and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    messages = flash(response)
    assert any(policy.number in message and "issued" in message for message in messages)
    payment = Payment.objects.get(policy=policy)
    assert payment.method == PaymentMethod.BANK_TRANSFER and payment.recorded_by == underwriter
    assert payment.reference == "ICBC-20261201-7" and payment.amount == due.amount
    assert timezone.localtime(payment.received_at).strftime("%Y-%m-%dT%H:%M") == received
    # Nothing is due any more: no button, and the form sends you back.
    page = client.get(url("policy_change", policy.pk)).content.decode()
    assert policy.number in page and "ICBC-20261201-7" in page
    assert record not in page
    assert client.get(record).status_code == 302


def test_a_wrong_amount_shows_the_error_and_books_nothing(policy, underwriter, client):
    login(client, underwriter)
    due = policy.instalments.get()
    response = client.post(
        url("policy_record_payment", policy.pk),
        {
            "amount": str(due.amount - Decimal("1")),
            "reference": "WRONG-1",
            "received_at": now_field(),
        },
    )
    assert response.status_code == 200
    assert any(f"{due.amount:,.2f}" in message for message in flash(response)), flash(response)
    assert not Payment.objects.exists()
    policy.refresh_from_db()
    assert policy.number is None and policy.status == PolicyStatus.AWAITING_PAYMENT
    assert policy.instalments.get().status == InstalmentStatus.DUE


def test_a_reference_already_booked_and_a_future_date_are_refused(
    catalogue, firm_a, applicant_a, underwriter, client
):
    first = issue(new_policy(firm_a, applicant_a), underwriter, reference="SAME-REF")
    second = new_policy(firm_a, applicant_a)
    login(client, underwriter)
    record = url("policy_record_payment", second.pk)
    amount = str(second.instalments.get().amount)
    response = client.post(
        record, {"amount": amount, "reference": "SAME-REF", "received_at": now_field()}
    )
    assert response.status_code == 200
    assert any("already recorded" in message for message in flash(response))
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(record, {"amount": amount, "reference": "NEW-1", "received_at": later})
    assert response.status_code == 200 and response.context["form"].errors["received_at"]
    assert list(Payment.objects.values_list("policy", flat=True)) == [first.pk]


def test_claims_handler_reads_policies_but_gets_403_on_the_payment_page(
    policy, claims_handler, client
):
    login(client, claims_handler)
    assert client.get(url("policy_changelist")).status_code == 200
    page = client.get(url("policy_change", policy.pk))
    assert page.status_code == 200
    record = url("policy_record_payment", policy.pk)
    assert record not in page.content.decode()
    assert client.get(record).status_code == 403
    response = client.post(
        record,
        {
            "amount": str(policy.instalments.get().amount),
            "reference": "CLAIMS-1",
            "received_at": now_field(),
        },
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()
    assert client.get(url("acknowledgement_change", policy.acknowledgement_id)).status_code == 200
    assert client.get(url("acknowledgement_print", policy.acknowledgement_id)).status_code == 200
    assert client.get(url("instalment_changelist")).status_code == 200
    assert client.get(url("payment_changelist")).status_code == 200


def test_applicant_cannot_reach_the_policy_admin(policy, client_a):
    for target in (
        url("policy_changelist"),
        url("policy_change", policy.pk),
        url("policy_record_payment", policy.pk),
        url("acknowledgement_print", policy.acknowledgement_id),
    ):
        response = client_a.get(target)
        assert response.status_code == 302, target
        assert "/admin/login/" in response.url or "/accounts/" in response.url
    response = client_a.post(
        url("policy_record_payment", policy.pk),
        {"amount": "1", "reference": "X", "received_at": now_field()},
    )
    assert response.status_code == 302 and not Payment.objects.exists()


def test_history_versions_are_read_only(policy, underwriter, client):
    issue(policy, underwriter)
    login(client, underwriter)
    first = policy.history.order_by("history_date").first()
    version = url("policy_simple_history", policy.pk, first.history_id)
    assert client.get(version).status_code == 200
    assert client.post(version, {}).status_code == 403
    policy.refresh_from_db()
    assert policy.number and policy.status != PolicyStatus.AWAITING_PAYMENT


def test_policy_document_downloads_as_an_attachment_for_staff_only(
    policy, underwriter, client, settings
):
    issue(policy, underwriter)
    document = policy.documents.get()
    document.file.save("policy.pdf", ContentFile(b"%PDF-1.4 test"), save=False)
    document.status = DocumentStatus.READY
    document.save()
    download = url("policy_document", policy.pk, document.pk)

    login(client, underwriter)
    assert download in client.get(url("policy_change", policy.pk)).content.decode()
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert policy.number in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"

    manager = staff("pm@example.test", "product_manager")
    login(client, manager)
    assert client.get(download).status_code == 403


# --- Instalments and payments -------------------------------------------------------------------


def test_instalments_and_payments_are_read_only_lists(policy, underwriter, client):
    issue(policy, underwriter, reference="LIST-1")
    login(client, underwriter)
    instalments = client.get(url("instalment_changelist"), {"status__exact": "paid"})
    assert instalments.status_code == 200
    assert len(instalments.context["cl"].result_list) == 1
    payments = client.get(url("payment_changelist"), {"method__exact": "bank_transfer"})
    assert payments.status_code == 200 and "LIST-1" in payments.content.decode()
    week_ago = (timezone.localtime() - timedelta(days=7)).isoformat()
    received = client.get(url("payment_changelist"), {"received_at__gte": week_ago})
    assert received.status_code == 200 and len(received.context["cl"].result_list) == 1
    # Underwriters hold add_payment, but payments are made only on the policy's page.
    assert client.get(url("payment_add")).status_code == 403
    payment = Payment.objects.get()
    assert client.post(url("payment_change", payment.pk), {"amount": "1"}).status_code == 403
    assert client.get(url("payment_delete", payment.pk)).status_code == 403
    instalment = policy.instalments.get()
    assert client.post(url("instalment_change", instalment.pk), {}).status_code == 403
    assert client.get(url("instalment_add")).status_code == 403


# --- Acknowledgements ---------------------------------------------------------------------------


def test_acknowledgement_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    policy, superuser, client
):
    record = policy.acknowledgement
    login(client, superuser)
    listing = client.get(url("acknowledgement_changelist"))
    assert listing.status_code == 200
    assert policy.quote.number in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    change = url("acknowledgement_change", record.pk)
    page = client.get(change)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="_save"' not in text
    assert "Yes: every exclusion of the quote is ticked" in text
    for item in record.items:
        assert item["key"] in text
    assert client.post(change, {"dwell_seconds": "9999"}).status_code == 403
    assert client.get(url("acknowledgement_add")).status_code == 403
    assert client.post(url("acknowledgement_add"), {}).status_code == 403
    assert client.get(url("acknowledgement_delete", record.pk)).status_code == 403
    assert client.post(url("acknowledgement_delete", record.pk), {"post": "yes"}).status_code == 403
    response = client.post(
        url("acknowledgement_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    assert Acknowledgement.objects.filter(pk=record.pk).exists()
    assert response.status_code in (200, 302)
    stored = Acknowledgement.objects.get(pk=record.pk)
    assert stored.dwell_seconds == record.dwell_seconds and stored.items == record.items


def test_print_page_shows_the_notice_text_line_by_line_and_the_evidence(
    policy, underwriter, client
):
    record = policy.acknowledgement
    login(client, underwriter)
    response = client.get(url("acknowledgement_print", record.pk))
    assert response.status_code == 200
    text = response.content.decode()
    assert "@media print" in text
    assert record.text_sha256 in text
    lines = record.notice_text.splitlines()
    assert len(lines) > 1
    for line in lines:
        assert html.escape(line) in text
    assert text.count('class="line"') == len(lines)
    confirmed = timezone.localtime(record.confirmed_at, timezone.get_fixed_timezone(480))
    assert confirmed.strftime("%Y-%m-%d %H:%M:%S") in text and "Asia/Shanghai" in text
    assert record.ip_address in text and record.user_agent in text
    assert record.user.email in text and record.firm.uscc in text
    assert record.notice_version in text and record.clause_version.text_sha256 in text
    assert "The text below hashes to this value." in text
    assert text.count("<code>clause-") == sum(
        1 for i in record.items if i["key"].startswith("clause-")
    )
