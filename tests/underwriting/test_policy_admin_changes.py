"""Changes to a policy from the Django admin: senior underwriters endorse it (limits, rights,
address) and cancel it on the insurer's behalf on 15 days' notice after previewing the refund;
other staff see neither button and get 403. And the admin's bank-transfer page never issues a
policy whose exclusion acknowledgement is incomplete."""

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.models import Notification
from tests.factories import IPAssetFactory
from tests.underwriting.admin_helpers import flash, login, staff, url
from tests.underwriting.application_helpers import acknowledge, filled_application, granted_patent
from underwriting import services
from underwriting.choices import (
    CancellationParty,
    DocumentStatus,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
    QuoteStatus,
)
from underwriting.models import Acknowledgement, Cancellation, Endorsement, Payment, Policy


def iso(day) -> str:
    return day.strftime("%Y-%m-%d")


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def senior(db):
    return staff("senior@example.test", "senior_underwriter")


def awaiting_policy(firm, user) -> Policy:
    application = filled_application(firm, user)
    services.application_submit(application=application, actor=user, declaration=True)
    return acknowledge(application.quotes.get(status=QuoteStatus.OFFERED), user)


def in_force_policy(firm, user) -> Policy:
    """Paid through the sandbox, then moved so that cover started today."""
    policy = awaiting_policy(firm, user)
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.get(sequence=1).amount,
        reference=f"SANDBOX-{policy.pk}",
        method=PaymentMethod.SANDBOX,
    )
    today = timezone.localdate()
    Policy.objects.filter(pk=policy.pk).update(
        start_date=today, end_date=today.replace(year=today.year + 1) - timedelta(days=1)
    )
    services.policies_roll(today=today)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE
    return policy


@pytest.fixture
def policy(catalogue, firm_a, applicant_a) -> Policy:
    return in_force_policy(firm_a, applicant_a)


def endorse_data(policy, **overrides) -> dict:
    """The endorsement form as it comes prefilled: today, the policy's limits (as the options of
    the section: "50000" for a stored "50000.00"), nothing else."""
    data = {"effective_date": iso(timezone.localdate()), "address": ""}
    for code, value in policy.terms["limits"].items():
        data[f"limit_{code}"] = f"{Decimal(value).normalize():f}"
    data.update(overrides)
    return data


# --- Endorsements -------------------------------------------------------------------------------


def test_senior_endorses_adding_a_right_and_the_policy_page_lists_it(
    policy, firm_a, senior, client
):
    extra = granted_patent(firm_a, title="新增的专利装置")
    trademark = IPAssetFactory(firm=firm_a, kind="trademark", number="TM-1", title="商标甲")
    insured = policy.terms["insured"][0]
    old_premium = policy.premium
    login(client, senior)
    change = url("policy_change", policy.pk)
    endorse = url("policy_endorse", policy.pk)
    assert endorse in client.get(change).content.decode()

    page = client.get(endorse)
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["effective_date"] == timezone.localdate()
    assert form.initial["limit_investigation"] == "50000"
    assert form.initial["limit_legal"] == "150000"
    assert dict(form.fields["limit_legal"].choices)["300000"] == "300,000"
    addable = dict(form.fields["add_assets"].choices)
    assert extra.pk in addable and trademark.pk not in addable  # PAT-ENF covers patents only
    assert insured["id"] not in addable
    assert list(dict(form.fields["remove_assets"].choices)) == [insured["id"]]

    response = client.post(endorse, endorse_data(policy, add_assets=[str(extra.pk)]))
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == change
    policy.refresh_from_db()
    endorsement = Endorsement.objects.get(policy=policy)
    assert policy.version == 2 and endorsement.version == 2
    assert endorsement.changes == {"added": [extra.pk]}  # the unchanged limits are not sent
    assert endorsement.premium_change > 0 and policy.premium > old_premium
    assert endorsement.created_by == senior
    assert {item["id"] for item in policy.terms["insured"]} == {insured["id"], extra.pk}
    current = policy.documents.get(is_current=True)
    assert current.version == 2 and current.status == DocumentStatus.QUEUED
    assert policy.instalments.filter(
        amount=endorsement.premium_change, status=InstalmentStatus.DUE
    ).exists()
    (message,) = flash(response)
    assert "version 2" in message and "being prepared" in message
    assert f"Additional premium CNY {endorsement.premium_change:,.2f}" in message

    text = client.get(change).content.decode()
    assert 'id="uw-endorsements"' in text and "v2" in text
    assert html.escape(f"Rights added: Patent {extra.number} · 新增的专利装置") in text
    assert f"Additional premium: CNY {endorsement.premium_change:,.2f}" in text
    assert senior.email in text


def test_dropping_a_section_returns_premium_and_nothing_to_change_is_refused(
    policy, senior, client
):
    login(client, senior)
    endorse = url("policy_endorse", policy.pk)
    response = client.post(endorse, endorse_data(policy))
    assert response.status_code == 200
    assert "Nothing to change" in str(response.context["form"].non_field_errors())
    response = client.post(
        endorse, endorse_data(policy, limit_investigation="", limit_legal="", address="")
    )
    assert "at least one cover section" in str(response.context["form"].non_field_errors())
    later = policy.end_date + timedelta(days=1)
    response = client.post(endorse, endorse_data(policy, effective_date=iso(later)))
    assert response.context["form"].errors["effective_date"]
    assert not Endorsement.objects.exists()

    response = client.post(endorse, endorse_data(policy, limit_investigation=""))
    assert response.status_code == 302, response.context["form"].errors
    endorsement = Endorsement.objects.get(policy=policy)
    assert endorsement.changes["limits"] == {"legal": "150000"}
    assert endorsement.premium_change < 0
    assert any("Return premium CNY" in message for message in flash(response))
    text = client.get(url("policy_change", policy.pk)).content.decode()
    assert "Not included" in text and "Return premium" in text


def test_an_address_change_is_endorsed_without_premium(policy, senior, client):
    login(client, senior)
    response = client.post(
        url("policy_endorse", policy.pk), endorse_data(policy, address="无锡市新吴区1号")
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.terms["firm_address"] == "无锡市新吴区1号" and policy.version == 2
    assert any("No change in premium" in message for message in flash(response))
    text = client.get(url("policy_change", policy.pk)).content.decode()
    assert "Address: 无锡市新吴区1号" in text


def test_a_policy_awaiting_payment_cannot_be_endorsed(
    catalogue, firm_a, applicant_a, senior, client
):
    policy = awaiting_policy(firm_a, applicant_a)
    login(client, senior)
    assert (
        url("policy_endorse", policy.pk)
        not in client.get(url("policy_change", policy.pk)).content.decode()
    )
    response = client.get(url("policy_endorse", policy.pk))
    assert response.status_code == 302
    assert any("Only an issued policy" in message for message in flash(response))


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["underwriter", "claims_handler"])
def test_other_staff_see_no_button_and_get_403(policy, firm_a, who, request, client):
    user = request.getfixturevalue(who)
    extra = granted_patent(firm_a)
    login(client, user)
    text = client.get(url("policy_change", policy.pk)).content.decode()
    endorse, cancel = url("policy_endorse", policy.pk), url("policy_cancel", policy.pk)
    assert endorse not in text and cancel not in text
    assert client.get(endorse).status_code == 403
    assert client.post(endorse, endorse_data(policy, add_assets=[extra.pk])).status_code == 403
    assert client.get(cancel).status_code == 403
    notice = {"notice_date": iso(timezone.localdate()), "reason": "x", "confirmed": "yes"}
    assert client.post(cancel, notice).status_code == 403
    assert not Endorsement.objects.exists() and not Cancellation.objects.exists()
    policy.refresh_from_db()
    assert policy.version == 1


# --- Cancellation on the insurer's behalf --------------------------------------------------------


def test_insurer_cancellation_previews_the_refund_then_gives_notice(
    policy, applicant_a, senior, client
):
    login(client, senior)
    change, cancel = url("policy_change", policy.pk), url("policy_cancel", policy.pk)
    assert cancel in client.get(change).content.decode()
    today = timezone.localdate()
    page = client.get(cancel)
    assert page.status_code == 200
    assert page.context["form"].initial["notice_date"] == today

    reason = "风险显著增加：被保险人未如实告知"
    preview = client.post(cancel, {"notice_date": iso(today), "reason": reason})
    assert preview.status_code == 200
    effective = today + timedelta(days=15)
    expected = services.cancellation_quote(
        policy, by=CancellationParty.INSURER, effective_date=effective
    )
    assert preview.context["preview"] == expected
    assert preview.context["effective_date"] == effective
    text = preview.content.decode()
    assert iso(effective) in text and "15 days after the notice" in text
    assert f"CNY {Decimal(expected['refund']):,.2f}" in text and html.escape(reason) in text
    assert "15 of " in text  # days on risk of the period
    assert 'name="confirmed" value="yes"' in text
    assert not Cancellation.objects.exists()  # a preview changes nothing

    before = Notification.objects.filter(user=applicant_a).count()
    response = client.post(
        cancel,
        {
            "notice_date": iso(today),
            "reason": reason,
            "confirmed": "yes",
            "preview_digest": preview.context["preview_digest"],
        },
    )
    assert response.status_code == 302 and response.url == change
    cancellation = Cancellation.objects.get(policy=policy)
    assert cancellation.by == CancellationParty.INSURER and cancellation.requested_by == senior
    assert cancellation.effective_date == effective and cancellation.reason == reason
    assert cancellation.refund == Decimal(expected["refund"])
    assert cancellation.kept == Decimal(expected["kept"])
    assert Notification.objects.filter(user=applicant_a).count() == before + 1
    assert any(iso(effective) in message for message in flash(response))
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE  # cover runs until the notice has run

    text = client.get(change).content.decode()
    assert 'id="uw-cancellation"' in text and html.escape(reason) in text
    assert f"CNY {cancellation.refund:,.2f}" in text and iso(effective) in text
    assert "Pro rata by the days on risk" in text
    assert cancel not in text  # no second cancellation
    assert url("policy_endorse", policy.pk) not in text
    again = client.get(cancel)
    assert again.status_code == 302
    assert any("already being cancelled" in message for message in flash(again))


def test_a_reason_is_required_and_the_notice_cannot_be_backdated(policy, senior, client):
    login(client, senior)
    cancel = url("policy_cancel", policy.pk)
    today = timezone.localdate()
    for data in (
        {"notice_date": iso(today), "reason": "   "},
        {"notice_date": iso(today), "reason": "", "confirmed": "yes"},
    ):
        response = client.post(cancel, data)
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        assert response.context["preview"] is None
    response = client.post(
        cancel,
        {"notice_date": iso(today - timedelta(days=3)), "reason": "x", "confirmed": "yes"},
    )
    assert response.context["form"].errors["notice_date"]
    assert not Cancellation.objects.exists()


def test_a_stale_preview_is_shown_again_instead_of_being_confirmed(policy, senior, client):
    login(client, senior)
    response = client.post(
        url("policy_cancel", policy.pk),
        {
            "notice_date": iso(timezone.localdate()),
            "reason": "风险增加",
            "confirmed": "yes",
            "preview_digest": "0" * 32,
        },
    )
    assert response.status_code == 200 and response.context["preview"]
    assert any("figures changed" in message for message in flash(response))
    assert not Cancellation.objects.exists()


# --- Issue only with a complete acknowledgement --------------------------------------------------


def test_bank_transfer_does_not_issue_a_policy_with_a_forged_incomplete_acknowledgement(
    catalogue, firm_a, applicant_a, underwriter, client
):
    policy = awaiting_policy(firm_a, applicant_a)
    record = policy.acknowledgement
    Acknowledgement.objects.filter(pk=record.pk).update(
        items=[{**item, "ticked_at": None} for item in record.items]
    )
    due = policy.instalments.get()
    login(client, underwriter)
    response = client.post(
        url("policy_record_payment", policy.pk),
        {
            "amount": str(due.amount),
            "reference": "FORGED-1",
            "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 200
    assert any("not acknowledged completely" in message for message in flash(response))
    assert not Payment.objects.exists()
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.AWAITING_PAYMENT and policy.number is None
    assert policy.instalments.get().status == InstalmentStatus.DUE
    assert not policy.documents.exists()
