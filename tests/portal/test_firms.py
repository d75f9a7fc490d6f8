"""Firms, memberships and invitations through the applicant workspace."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from portal import services
from portal.choices import MembershipRole
from portal.errors import DomainError
from portal.models import Firm, Invitation, Membership
from portal.services import SESSION_ACTIVE_FIRM
from tests.factories import MembershipFactory, UserFactory, make_uscc

REGISTER_URL = "/app/firms/new/"
SWITCH_URL = "/app/firms/switch/"
FIRM_URL = "/app/firm/"
EDIT_URL = "/app/firm/edit/"
INVITE_URL = "/app/firm/invite/"


def firm_data(**overrides):
    data = {
        "name_zh": "无锡星河科技有限公司",
        "name_en": "Wuxi Xinghe Technology",
        "uscc": make_uscc(880001),
        "address": "无锡市新吴区",
        "region_code": "320214",
        "industry": "electronic_information",
        "size": "small",
        "qualifications": ["high_tech", "specialised"],
    }
    data.update(overrides)
    return data


def page(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def accept_url(invitation) -> str:
    return f"/app/invitations/{invitation.token}/"


@pytest.fixture
def member_a(firm_a):
    return MembershipFactory(
        firm=firm_a, role=MembershipRole.MEMBER, user__email="m@example.test"
    ).user


# --- Registration -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_firm_makes_the_user_owner_and_active_firm(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(REGISTER_URL, firm_data())
    assert response.status_code == 302
    assert response.url == "/app/"
    firm = Firm.objects.get(uscc=make_uscc(880001))
    membership = Membership.objects.get(user=user)
    assert membership.firm == firm
    assert membership.role == MembershipRole.OWNER
    assert firm.qualifications == ["high_tech", "specialised"]
    assert client.session[SESSION_ACTIVE_FIRM] == firm.pk
    dashboard = client.get("/app/")
    assert dashboard.wsgi_request.firm == firm
    assert "无锡星河科技有限公司" in page(dashboard)
    assert firm.history.get().history_user == user


@pytest.mark.django_db
def test_registering_a_second_firm_makes_it_the_active_one(client_a, firm_a, applicant_a):
    assert client_a.get("/app/").wsgi_request.firm == firm_a
    response = client_a.post(REGISTER_URL, firm_data())
    assert response.status_code == 302
    new_firm = Firm.objects.get(uscc=make_uscc(880001))
    assert client_a.get("/app/").wsgi_request.firm == new_firm
    assert applicant_a.memberships.count() == 2


@pytest.mark.django_db
def test_uscc_is_compacted_before_checking(client):
    client.force_login(UserFactory())
    code = make_uscc(880002)
    spaced = f"{code[:6]} {code[6:12]}-{code[12:]}".lower()
    response = client.post(REGISTER_URL, firm_data(uscc=spaced))
    assert response.status_code == 302, response.context["form"].errors
    assert Firm.objects.filter(uscc=code).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [
        make_uscc(880003)[:-1] + ("0" if make_uscc(880003)[-1] != "0" else "1"),  # check char
        make_uscc(880003)[:-1],  # 17 characters
        "ABCDEFGHIJKLMNOPQR",
    ],
)
def test_invalid_uscc_gives_a_clear_error(client, bad):
    user = UserFactory()
    client.force_login(user)
    client.cookies["portal_language"] = "en"
    response = client.post(REGISTER_URL, firm_data(uscc=bad))
    assert response.status_code == 200
    assert "uscc" in response.context["form"].errors
    assert "is not a valid Unified Social Credit Code" in page(response)
    assert not Firm.objects.exists()
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_invalid_uscc_is_a_field_error_in_chinese_too(client):
    client.force_login(UserFactory())
    response = client.post(REGISTER_URL, firm_data(uscc="91320214MA00000000"))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    assert list(response.context["form"].errors) == ["uscc"]
    assert 'id="error_1_id_uscc"' in page(response)


@pytest.mark.django_db
def test_uscc_already_registered_is_refused(client, firm_a):
    client.force_login(UserFactory())
    response = client.post(REGISTER_URL, firm_data(uscc=firm_a.uscc))
    assert response.status_code == 200
    assert "uscc" in response.context["form"].errors
    assert Firm.objects.count() == 1


@pytest.mark.django_db
def test_invalid_region_code_is_refused(client):
    client.force_login(UserFactory())
    response = client.post(REGISTER_URL, firm_data(region_code="990000"))
    assert response.status_code == 200
    assert "region_code" in response.context["form"].errors
    assert not Firm.objects.exists()


# --- Editing ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_edits_the_firm(client_a, firm_a, applicant_a):
    assert client_a.get(EDIT_URL).status_code == 200
    data = firm_data(uscc=firm_a.uscc, name_zh="甲公司（新）", size="medium", qualifications=[])
    response = client_a.post(EDIT_URL, data)
    assert response.status_code == 302
    assert response.url == FIRM_URL
    firm_a.refresh_from_db()
    assert firm_a.name_zh == "甲公司（新）"
    assert firm_a.size == "medium"
    assert firm_a.qualifications == []
    assert firm_a.history.latest("history_date").history_user == applicant_a


@pytest.mark.django_db
def test_member_cannot_edit_the_firm(client, firm_a, member_a):
    client.force_login(member_a)
    assert client.get(FIRM_URL).status_code == 200
    assert client.get(EDIT_URL).status_code == 403
    response = client.post(EDIT_URL, firm_data(uscc=firm_a.uscc, name_zh="篡改"))
    assert response.status_code == 403
    firm_a.refresh_from_db()
    assert firm_a.name_zh == "甲公司"


def test_firm_update_service_refuses_a_member(firm_a, member_a):
    with pytest.raises(DomainError):
        services.firm_update(firm=firm_a, actor=member_a, name_zh="篡改")
    firm_a.refresh_from_db()
    assert firm_a.name_zh == "甲公司"


@pytest.mark.django_db
def test_owner_cannot_edit_into_another_firms_uscc(client_a, firm_a, firm_b):
    response = client_a.post(EDIT_URL, firm_data(uscc=firm_b.uscc))
    assert response.status_code == 200
    assert "uscc" in response.context["form"].errors
    firm_a.refresh_from_db()
    assert firm_a.uscc != firm_b.uscc


# --- Invitations ------------------------------------------------------------------------------


def _invite(client, email, role=MembershipRole.MEMBER, *, capture):
    with capture(execute=True):
        return client.post(INVITE_URL, {"email": email, "role": role})


@pytest.mark.django_db
def test_owner_invites_by_email_and_the_mail_has_the_accept_link(
    client_a, firm_a, applicant_a, django_capture_on_commit_callbacks
):
    response = _invite(
        client_a, "colleague@example.test", capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    assert response.url == FIRM_URL
    invitation = Invitation.objects.get(firm=firm_a)
    assert invitation.email == "colleague@example.test"
    assert invitation.invited_by == applicant_a
    assert invitation.is_open
    assert invitation.sent_at is not None

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["colleague@example.test"]
    link = settings.PORTAL_BASE_URL.rstrip("/") + accept_url(invitation)
    assert link in message.body
    assert str(firm_a) in message.subject
    # The owner sees the open invitation on the firm page.
    assert "colleague@example.test" in page(client_a.get(FIRM_URL))


@pytest.mark.django_db
def test_inviting_again_renews_and_resends(client_a, firm_a, django_capture_on_commit_callbacks):
    _invite(client_a, "colleague@example.test", capture=django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    _invite(
        client_a,
        "colleague@example.test",
        MembershipRole.OWNER,
        capture=django_capture_on_commit_callbacks,
    )
    renewed = Invitation.objects.get()
    assert renewed.pk == invitation.pk
    assert renewed.role == MembershipRole.OWNER
    assert renewed.is_open
    assert len(mail.outbox) == 2
    assert accept_url(renewed) in mail.outbox[1].body


@pytest.mark.django_db
def test_inviting_an_existing_member_is_refused(
    client_a, applicant_a, django_capture_on_commit_callbacks
):
    client_a.cookies["portal_language"] = "en"
    _invite(client_a, applicant_a.email.upper(), capture=django_capture_on_commit_callbacks)
    assert not Invitation.objects.exists()
    assert mail.outbox == []
    response = client_a.get(FIRM_URL)
    assert any("is already a member of this firm" in text for text in messages_of(response))


@pytest.mark.django_db
def test_member_cannot_invite(client, member_a, django_capture_on_commit_callbacks):
    client.force_login(member_a)
    response = _invite(client, "x@example.test", capture=django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mail.outbox == []


@pytest.fixture
def invitation(firm_a, applicant_a):
    return services.invitation_create(
        firm=firm_a, actor=applicant_a, email="Invited@Example.test", role=MembershipRole.MEMBER
    )


@pytest.mark.django_db
def test_invited_user_accepts_and_becomes_member(client, firm_a, invitation):
    assert invitation.email == "Invited@example.test"  # only the domain is lower-cased
    invited = UserFactory(email="invited@example.test")
    client.force_login(invited)
    dashboard = client.get("/app/")
    assert accept_url(invitation) in page(dashboard)

    assert client.get(accept_url(invitation)).status_code == 200
    response = client.post(accept_url(invitation))
    assert response.status_code == 302
    assert response.url == "/app/"
    membership = Membership.objects.get(user=invited)
    assert membership.firm == firm_a
    assert membership.role == MembershipRole.MEMBER
    invitation.refresh_from_db()
    assert invitation.accepted_by == invited
    assert invitation.accepted_at is not None
    assert client.get("/app/").wsgi_request.firm == firm_a
    assert client.get("/app/assets/").status_code == 200


@pytest.mark.django_db
def test_a_different_user_cannot_accept(client, invitation):
    other = UserFactory(email="other@example.test")
    client.force_login(other)
    client.cookies["portal_language"] = "en"
    response = client.post(accept_url(invitation), follow=True)
    assert response.status_code == 200
    assert any(
        "This invitation was sent to Invited@example.test" in text for text in messages_of(response)
    )
    assert not Membership.objects.filter(user=other).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert invitation.is_open


@pytest.mark.django_db
def test_revoked_invitation_cannot_be_accepted(client, applicant_a, invitation):
    client.force_login(applicant_a)
    response = client.post(f"/app/firm/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None

    invited = UserFactory(email="invited@example.test")
    client.force_login(invited)
    client.cookies["portal_language"] = "en"
    assert "no longer valid" in page(client.get(accept_url(invitation)))
    response = client.post(accept_url(invitation))
    assert any("no longer valid" in text for text in messages_of(response))
    assert not Membership.objects.filter(user=invited).exists()


@pytest.mark.django_db
def test_expired_invitation_cannot_be_accepted(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    invited = UserFactory(email="invited@example.test")
    client.force_login(invited)
    response = client.post(accept_url(invitation))
    assert response.status_code == 200
    assert not Membership.objects.filter(user=invited).exists()
    with pytest.raises(DomainError):
        services.invitation_accept(token=invitation.token, user=invited)


@pytest.mark.django_db
def test_accepted_invitation_cannot_be_used_twice(client, firm_a, invitation):
    invited = UserFactory(email="invited@example.test")
    services.invitation_accept(token=invitation.token, user=invited)
    Membership.objects.filter(user=invited).delete()  # removed from the firm later
    client.force_login(invited)
    client.post(accept_url(invitation))
    assert not Membership.objects.filter(user=invited).exists()


@pytest.mark.django_db
def test_unknown_token_is_404(client_a):
    assert client_a.get("/app/invitations/no-such-token/").status_code == 404


@pytest.mark.django_db
def test_other_firms_owner_cannot_revoke(client_b, invitation):
    assert client_b.post(f"/app/firm/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# --- Switching the active firm ----------------------------------------------------------------


@pytest.mark.django_db
def test_user_in_two_firms_switches_the_active_firm(client, firm_a, firm_b, applicant_a):
    MembershipFactory(user=applicant_a, firm=firm_b, role=MembershipRole.MEMBER)
    client.force_login(applicant_a)
    dashboard = client.get("/app/")
    assert dashboard.wsgi_request.firm == firm_a
    assert re.search(r"<h1[^>]*>\s*甲公司\s*</h1>", page(dashboard))
    assert 'id="firm-switch"' in page(dashboard)  # the switcher appears with two firms

    response = client.post(SWITCH_URL, {"firm": firm_b.pk})
    assert response.status_code == 302
    assert response.url == "/app/"
    dashboard = client.get("/app/")
    assert dashboard.wsgi_request.firm == firm_b
    assert re.search(r"<h1[^>]*>\s*乙公司\s*</h1>", page(dashboard))

    response = client.post(SWITCH_URL, {"firm": firm_a.pk, "next": "/app/assets/"})
    assert response.url == "/app/assets/"
    assert client.get("/app/").wsgi_request.firm == firm_a


@pytest.mark.django_db
def test_switch_ignores_an_offsite_next(client, firm_a, firm_b, applicant_a):
    MembershipFactory(user=applicant_a, firm=firm_b)
    client.force_login(applicant_a)
    response = client.post(SWITCH_URL, {"firm": firm_b.pk, "next": "https://evil.example/"})
    assert response.url == "/app/"


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["other", "", "abc", "999999"])
def test_switching_to_a_firm_you_do_not_belong_to_is_404(client_a, firm_a, firm_b, value):
    target = firm_b.pk if value == "other" else value
    response = client_a.post(SWITCH_URL, {"firm": target})
    assert response.status_code == 404
    assert client_a.get("/app/").wsgi_request.firm == firm_a


@pytest.mark.django_db
def test_switch_needs_post(client_a, firm_a):
    assert client_a.get(SWITCH_URL, {"firm": firm_a.pk}).status_code == 405


# --- Members ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_removing_the_last_owner_is_refused(client_a, firm_a, applicant_a):
    client_a.cookies["portal_language"] = "en"
    own = Membership.objects.get(user=applicant_a, firm=firm_a)
    response = client_a.post(f"/app/firm/members/{own.pk}/remove/", follow=True)
    assert response.status_code == 200
    assert "A firm must keep at least one owner." in messages_of(response)
    assert Membership.objects.filter(pk=own.pk).exists()


def test_removing_the_last_owner_is_refused_by_the_service(firm_a, applicant_a):
    own = Membership.objects.get(user=applicant_a, firm=firm_a)
    with pytest.raises(DomainError):
        services.membership_remove(membership=own, actor=applicant_a)
    assert Membership.objects.filter(pk=own.pk).exists()


@pytest.mark.django_db
def test_an_owner_may_leave_when_another_owner_remains(client_a, firm_a, applicant_a):
    MembershipFactory(firm=firm_a, role=MembershipRole.OWNER)
    own = Membership.objects.get(user=applicant_a, firm=firm_a)
    client_a.post(f"/app/firm/members/{own.pk}/remove/")
    assert not Membership.objects.filter(pk=own.pk).exists()
    assert Membership.objects.filter(firm=firm_a, role=MembershipRole.OWNER).count() == 1


@pytest.mark.django_db
def test_owner_removes_a_member_and_a_member_cannot(client, firm_a, applicant_a, member_a):
    other = MembershipFactory(firm=firm_a, role=MembershipRole.MEMBER)
    client.force_login(member_a)
    assert client.post(f"/app/firm/members/{other.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=other.pk).exists()

    client.force_login(applicant_a)
    response = client.post(f"/app/firm/members/{other.pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=other.pk).exists()


@pytest.mark.django_db
def test_owner_cannot_remove_a_member_of_another_firm(client_a, firm_b, applicant_b):
    theirs = Membership.objects.get(user=applicant_b, firm=firm_b)
    assert client_a.post(f"/app/firm/members/{theirs.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_an_invitation_made_while_the_broker_is_down_is_mailed_by_the_sweeper(
    client_a, firm_a, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from portal.tasks import send_invitation_email, sweep_invitation_emails

    with mock.patch.object(
        send_invitation_email, "delay", side_effect=OperationalError("broker down")
    ):
        response = _invite(
            client_a, "colleague@example.test", capture=django_capture_on_commit_callbacks
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(firm=firm_a)
    assert invitation.sent_at is None
    assert mail.outbox == []

    # Too recent: its own message may still be on the way.
    assert sweep_invitation_emails() == 0
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    assert sweep_invitation_emails() == 1
    assert len(mail.outbox) == 1
    assert accept_url(invitation) in mail.outbox[0].body
    # Sent now, so the next sweep leaves it alone.
    assert sweep_invitation_emails() == 0
