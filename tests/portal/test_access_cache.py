"""A staff member's permissions and authenticator, kept in the cache between requests
(portal.access_cache): fewer queries on every admin page, and every change still counts at once."""

from allauth.mfa.models import Authenticator
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import MembershipFactory, OfficerMembershipFactory, UserFactory

QUEUE = "/admin/underwriting/application/"


def login(client, user):
    client.force_login(user)
    client.cookies["portal_language"] = "en"
    return client


def visit(client, path=QUEUE):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, [q["sql"] for q in queries.captured_queries]


def reads_permissions(sql: list[str]) -> bool:
    return any('"auth_permission"' in statement for statement in sql)


def reads_authenticators(sql: list[str]) -> bool:
    return any('"mfa_authenticator"' in statement for statement in sql)


def test_a_returning_staff_member_costs_no_permission_or_authenticator_query(client, underwriter):
    login(client, underwriter)
    first, first_sql = visit(client)
    assert first.status_code == 200
    assert reads_permissions(first_sql) and reads_authenticators(first_sql)
    again, again_sql = visit(client)
    assert again.status_code == 200
    assert not reads_permissions(again_sql) and not reads_authenticators(again_sql)
    # The admin shows no firm, so the firm memberships are not read either.
    assert not any('"portal_membership"' in statement for statement in again_sql)
    assert len(again_sql) <= len(first_sql) - 4


def test_leaving_a_group_closes_the_admin_at_once(client, underwriter):
    login(client, underwriter)
    assert visit(client)[0].status_code == 200
    underwriter.groups.remove(Group.objects.get(name="underwriter"))
    assert visit(client)[0].status_code == 403


def test_a_permission_taken_from_a_group_is_gone_at_once(client, underwriter):
    login(client, underwriter)
    assert visit(client)[0].status_code == 200
    group = Group.objects.get(name="underwriter")
    seeing = Permission.objects.filter(
        content_type__app_label="underwriting",
        codename__in=("view_application", "change_application"),
    )
    group.permissions.remove(*seeing)
    assert visit(client)[0].status_code == 403
    group.permissions.add(*seeing)
    assert visit(client)[0].status_code == 200


def test_a_deleted_group_takes_its_permissions_along(client, underwriter):
    login(client, underwriter)
    assert visit(client)[0].status_code == 200
    Group.objects.get(name="underwriter").delete()
    assert visit(client)[0].status_code == 403


def test_a_new_superuser_gets_everything_at_once(client, claims_handler):
    login(client, claims_handler)
    authorities = "/admin/underwriting/underwriterauthority/"
    assert visit(client, authorities)[0].status_code == 403
    claims_handler.is_superuser = True
    claims_handler.save(update_fields=["is_superuser"])
    assert visit(client, authorities)[0].status_code == 200


def test_a_removed_authenticator_sends_the_staff_member_to_enrol_again(client, underwriter):
    login(client, underwriter)
    assert visit(client)[0].status_code == 200
    Authenticator.objects.filter(user=underwriter).delete()
    response = visit(client)[0]
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_activate_totp"))


def test_the_admin_works_when_the_cache_is_unreachable(client, underwriter, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "set", "add", "delete_many"):
        monkeypatch.setattr(f"portal.quiet_cache.cache.{name}", unreachable)
    login(client, underwriter)
    for _visit in range(2):
        response, sql = visit(client)
        assert response.status_code == 200
        assert reads_permissions(sql) and reads_authenticators(sql)


def test_the_permissions_backend_signs_nobody_in(underwriter):
    underwriter.set_password("a-long-enough-password")
    underwriter.save()
    from portal.access_cache import CachedPermissionsBackend

    assert (
        CachedPermissionsBackend().authenticate(
            None, username=underwriter.email, password="a-long-enough-password"
        )
        is None
    )
    signed_in = authenticate(None, email=underwriter.email, password="a-long-enough-password")
    assert signed_in == underwriter
    assert signed_in.backend != "portal.access_cache.CachedPermissionsBackend"


def test_someone_who_is_no_officer_is_remembered_until_they_become_one(client_a, applicant_a):
    def reads_officers(sql):
        return any('"portal_officermembership"' in statement for statement in sql)

    first, first_sql = visit(client_a, "/app/")
    assert first.status_code == 200 and reads_officers(first_sql)
    again, again_sql = visit(client_a, "/app/")
    assert again.status_code == 200 and not reads_officers(again_sql)

    OfficerMembershipFactory(user=applicant_a)
    # An officer needs a second factor: the next page sends them to set one up.
    response = visit(client_a, "/app/")[0]
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_activate_totp"))


def test_someone_without_a_firm_is_remembered_until_they_join_one(client, firm_a):
    def reads_memberships(sql):
        return any('FROM "portal_membership"' in statement for statement in sql)

    newcomer = UserFactory()
    client.force_login(newcomer)
    first, first_sql = visit(client, "/app/")
    assert reads_memberships(first_sql)
    again, again_sql = visit(client, "/app/")
    assert again.status_code == first.status_code and not reads_memberships(again_sql)

    membership = MembershipFactory(user=newcomer, firm=firm_a)
    response, sql = visit(client, "/app/")
    assert response.status_code == 200 and reads_memberships(sql)
    assert response.context["request"].firm == firm_a
    # A member's memberships are read on every request.
    assert reads_memberships(visit(client, "/app/")[1])

    membership.delete()
    response = visit(client, "/app/")[0]
    assert response.context is None or response.context["request"].firm is None
