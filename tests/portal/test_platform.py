"""Health check, MFA for staff and officers, admin login through allauth, languages, history."""

import time
from unittest import mock

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management import call_command
from django.urls import reverse

from portal.history import acting_as
from portal.models import Firm, IPAsset, OutboxEmail, User
from tests.conftest import TOTP_SECRET
from tests.factories import IPAssetFactory, UserFactory


def current_totp(secret=TOTP_SECRET):
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


# --- /healthz -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_each_part_and_503_without_worker(client):
    with mock.patch("portal.celery.app.control.ping", return_value=[]):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["worker"]["ok"] is False
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_healthz_ok_when_a_worker_answers(client):
    with mock.patch(
        "portal.celery.app.control.ping", return_value=[{"celery@host": {"ok": "pong"}}]
    ):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"]["workers"] == ["celery@host"]
    assert response["Content-Type"] == "application/json"


# --- MFA -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_totp_is_sent_to_enrol(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_activate_totp"))


@pytest.mark.django_db
def test_officer_without_totp_is_sent_to_enrol(client, officer_x):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=officer_x).delete()
    client.force_login(officer_x)
    response = client.get("/officer/")
    assert response.status_code == 302
    assert reverse("mfa_activate_totp") in response.url


@pytest.mark.django_db
def test_applicant_needs_no_totp(client_a):
    assert client_a.get("/app/").status_code == 200


@pytest.mark.django_db
def test_staff_login_asks_for_totp_then_admin_opens(client, underwriter):
    response = client.post(
        reverse("account_login"), {"login": underwriter.email, "password": "pass-for-tests-1"}
    )
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": current_totp()})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.django_db
def test_login_failures_are_rate_limited(client, applicant_a):
    client.cookies["portal_language"] = "en"
    for _ in range(6):
        response = client.post(
            reverse("account_login"), {"login": applicant_a.email, "password": "wrong-password"}
        )
    assert "Too many failed login attempts" in response.content.decode()
    # Even the right password is refused until the window passes.
    response = client.post(
        reverse("account_login"), {"login": applicant_a.email, "password": "pass-for-tests-1"}
    )
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signup_requires_email_verification_and_mail_lands_in_outbox(client, settings):
    from django.core import mail

    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.test",
            "password1": "a-Long-pass-2026",
            "password2": "a-Long-pass-2026",
        },
    )
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert len(mail.outbox) == 1
    assert "new@example.test" in mail.outbox[0].to
    assert User.objects.filter(email="new@example.test").exists()


@pytest.mark.django_db
def test_dev_outbox_backend_keeps_mail_and_page_shows_it(client, settings):
    from django.core.mail import send_mail

    settings.MAILERS = {"default": {"BACKEND": "portal.mail.DevOutboxBackend", "OPTIONS": {}}}
    send_mail("测试邮件", "正文", "noreply@example.test", ["x@example.test"])
    assert OutboxEmail.objects.get().subject == "测试邮件"
    settings.DEBUG = True
    assert "测试邮件" in client.get("/dev/outbox/").content.decode()
    settings.DEBUG = False
    assert client.get("/dev/outbox/").status_code == 404


# --- Roles, pages -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    for url in ["/app/", "/app/assets/", "/app/firm/", "/officer/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url


@pytest.mark.django_db
def test_officer_workspace_only_for_officers(client, client_a, officer_x):
    assert client_a.get("/officer/").status_code == 403
    client.force_login(officer_x)
    response = client.get("/officer/")
    assert response.status_code == 200
    assert (
        "Authority X" in response.content.decode()
        or "测试市知识产权局" in response.content.decode()
    )


@pytest.mark.django_db
def test_error_pages_render(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "<html" in response.content.decode()


# --- Languages ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chinese_is_default_even_for_english_browsers(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in response.content.decode()


@pytest.mark.django_db
def test_language_switch_to_english_and_back(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    response = client.get("/")
    assert response["Content-Language"] == "en"
    assert "Insurance for your intellectual property" in response.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert client.get("/")["Content-Language"] == "zh-hans"


# --- History -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_records_user_from_views(client_a, applicant_a):
    firm = applicant_a.memberships.get().firm
    response = client_a.post(
        "/app/firm/edit/",
        {
            "name_zh": "甲公司（改）",
            "name_en": firm.name_en,
            "uscc": firm.uscc,
            "region_code": firm.region_code,
            "industry": firm.industry,
            "size": firm.size,
        },
    )
    assert response.status_code == 302
    latest = Firm.history.filter(id=firm.id).latest("history_date")
    assert latest.name_zh == "甲公司（改）"
    assert latest.history_user == applicant_a


@pytest.mark.django_db
def test_history_records_user_outside_requests(applicant_a):
    asset = IPAssetFactory()
    with acting_as(applicant_a):
        asset.title = "新标题"
        asset.save()
    assert asset.history.latest("history_date").history_user == applicant_a
    asset.title = "无人"
    asset.save()
    assert asset.history.latest("history_date").history_user is None


@pytest.mark.django_db
def test_history_from_admin_records_staff_user(client, underwriter):
    underwriter.is_superuser = True
    underwriter.save()
    asset = IPAssetFactory()
    client.force_login(underwriter)
    url = reverse("admin:portal_ipasset_change", args=[asset.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(
        {
            "title": "由管理员修改",
            "firm": asset.firm_id,
            "family_countries": "[]",
            "nice_classes": "[]",
        }
    )
    data = {k: ("" if v is None else v) for k, v in data.items()}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert asset.history.latest("history_date").history_user == underwriter


# --- Demo data -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    counts = (
        User.objects.count(),
        Firm.objects.count(),
        IPAsset.objects.count(),
        Firm.history.count(),
        IPAsset.history.count(),
    )
    first = capsys.readouterr().out
    assert "applicant-a@demo.example" in first
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert "nothing changed" in second
    assert counts == (
        User.objects.count(),
        Firm.objects.count(),
        IPAsset.objects.count(),
        Firm.history.count(),
        IPAsset.history.count(),
    )
    assert counts[1] == 2
    roles = {
        "underwriter@demo.example": "underwriter",
        "senior-underwriter@demo.example": "senior_underwriter",
        "claims@demo.example": "claims_handler",
        "product@demo.example": "product_manager",
    }
    for email, group in roles.items():
        assert User.objects.get(email=email).groups.filter(name=group).exists()
    assert User.objects.get(email="officer-wuxi@demo.example").is_officer


@pytest.mark.django_db
def test_every_demo_role_can_log_in(client):
    from portal.demo import ACCOUNTS, DEMO_TOTP_SECRET

    call_command("seed_demo", "--quiet")
    for account in ACCOUNTS:
        client.logout()
        response = client.post(
            reverse("account_login"), {"login": account.email, "password": "demo-portal-2026"}
        )
        assert response.status_code == 302, account.email
        if account.mfa:
            assert response.url == reverse("mfa_authenticate"), account.email
            from django.core.cache import cache

            cache.clear()  # a TOTP code may be used once; every demo account shares the secret
            response = client.post(
                reverse("mfa_authenticate"), {"code": current_totp(DEMO_TOTP_SECRET)}
            )
            assert response.status_code == 302, account.email
        landing = client.get(reverse("portal:dashboard"), follow=True)
        assert landing.status_code == 200, account.email
        assert client.session.get("_auth_user_id") == str(User.objects.get(email=account.email).pk)


@pytest.mark.django_db
def test_password_reset_mails_a_working_link(client, applicant_a):
    import re

    from django.core import mail

    response = client.post(reverse("account_reset_password"), {"email": applicant_a.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.get(link.group(1), follow=True)
    assert response.status_code == 200
    response = client.post(
        response.redirect_chain[-1][0] if response.redirect_chain else link.group(1),
        {"password1": "brand-New-pass-77", "password2": "brand-New-pass-77"},
    )
    assert response.status_code == 302
    applicant_a.refresh_from_db()
    assert applicant_a.check_password("brand-New-pass-77")


@pytest.mark.django_db
def test_signup_confirmation_link_verifies_and_logs_in(client):
    import re

    from allauth.account.models import EmailAddress
    from django.core import mail

    client.post(
        reverse("account_signup"),
        {
            "email": "fresh@example.test",
            "password1": "a-Long-pass-2026",
            "password2": "a-Long-pass-2026",
        },
    )
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.post(link.group(1))
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="fresh@example.test").verified
    assert client.get("/app/").status_code == 200


def test_server_error_page_is_bilingual_and_self_contained(rf):
    from portal.views import error_500

    response = error_500(rf.get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "服务器错误" in body and "Server error" in body
    assert "{%" not in body


@pytest.mark.django_db
def test_member_may_not_open_owner_pages(client, firm_a):
    from tests.factories import MembershipFactory

    member = MembershipFactory(firm=firm_a, role="member").user
    client.force_login(member)
    response = client.get("/app/firm/edit/")
    assert response.status_code == 403
    assert "<html" in response.content.decode()
