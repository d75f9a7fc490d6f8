"""Staff personas and small helpers for the admin tests."""

from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import UserFactory

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


def staff(email: str, *groups: str, **fields):
    """A staff member in the given groups, enrolled in TOTP so the MFA middleware lets them in."""
    user = UserFactory(email=email, is_staff=True, **fields)
    user.groups.add(*Group.objects.filter(name__in=groups))
    TOTP.activate(user, TOTP_SECRET)
    return user


def login(client, user):
    client.force_login(user)
    client.cookies["portal_language"] = "en"
    return client


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(name: str, *args) -> str:
    return reverse(f"admin:underwriting_{name}", args=args)
