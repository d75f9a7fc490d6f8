"""The navigation bar and footer written in Python (portal/templatetags/site_nav.py) are what
their reference templates, ``_site_nav.html`` and ``_site_footer.html``, render: byte for byte,
for every kind of user, in both languages, with the queries the templates make."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.template import engines
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, set_script_prefix
from django.utils import translation

from portal.middleware import ActiveFirmMiddleware
from portal.models import Notification, User
from portal.services import SESSION_ACTIVE_FIRM
from tests.factories import FirmFactory, MembershipFactory, OfficerMembershipFactory, UserFactory

SPLIT = "<!-- written above, rendered below -->"
# get_full_path() percent-encodes the quotes and brackets but keeps & and ', which it escapes.
QUERY_PATH = "/products/?q=a&b='c'\"d\"<e>"

# Names that need escaping, where the template escapes them.
TRICKY_FIRM = {"name_zh": '甲 & "乙" <公司>', "name_en": 'A & "B" <Co>'}
TRICKY_NAME = "Zoë <b>'&'</b>"


def _anonymous():
    return None


def _no_firm():
    return UserFactory(full_name=TRICKY_NAME)


def _one_firm():
    return MembershipFactory(firm=FirmFactory(**TRICKY_FIRM), user__full_name="").user


def _two_firms():
    user = MembershipFactory(firm=FirmFactory(**TRICKY_FIRM)).user
    MembershipFactory(user=user, firm=FirmFactory(name_zh="乙公司", name_en="Firm B"))
    return user


def _staff():
    return UserFactory(is_staff=True)


def _officer():
    return OfficerMembershipFactory().user


def _unread():
    user = MembershipFactory().user
    for title in ("one", "two", "three"):
        Notification.objects.create(user=user, title=title)
    Notification.objects.create(user=user, title="seen", read_at="2026-01-01T00:00:00Z")
    return user


USERS = {
    "anonymous": _anonymous,
    "no firm": _no_firm,
    "one firm": _one_firm,
    "two firms": _two_firms,
    "staff": _staff,
    "officer": _officer,
    "unread notifications": _unread,
}


def _request(user, path, *, active_firm=None):
    """A request as the middleware leaves it: user, memberships and active firm."""
    request = RequestFactory().get(path)
    request.user = User.objects.get(pk=user.pk) if user else AnonymousUser()
    request.session = {SESSION_ACTIVE_FIRM: active_firm} if active_firm else {}
    request.META["CSRF_COOKIE"] = "a" * 32
    ActiveFirmMiddleware(lambda request: None)(request)
    return request


def _both(tag, reference, request):
    """The tag and the reference template rendered in one context, as base.html would: the same
    lazy values and the same masked CSRF token."""
    source = f'{{% load site_nav %}}{{% {tag} %}}{SPLIT}{{% include "{reference}" %}}'
    written, rendered = engines["django"].from_string(source).render({}, request).split(SPLIT)
    return written, rendered


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("path", ["/", QUERY_PATH])
@pytest.mark.parametrize("who", list(USERS))
def test_site_nav_writes_what_the_reference_template_renders(db, who, path, language):
    user = USERS[who]()
    active_firm = user.memberships.order_by("id").last().firm_id if who == "two firms" else None
    with translation.override(language):
        written, rendered = _both(
            "site_nav", "_site_nav.html", _request(user, path, active_firm=active_firm)
        )
    assert written == rendered
    assert written.startswith("<nav ") and written.endswith("</nav>\n")
    assert 'name="csrfmiddlewaretoken"' in written
    if who == "two firms":
        active = "乙公司" if language == "zh-hans" else "Firm B"
        assert written.count("<option ") == 2 and f" selected>{active}</option>" in written
    if who == "unread notifications":
        assert 'id="nav-unread-count">3<' in written
    if path == QUERY_PATH:
        assert 'value="/products/?q=a&amp;b=&#x27;c&#x27;%22d%22%3Ce%3E"' in written


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_site_nav_without_a_request_writes_what_the_template_renders(db, language):
    """A page rendered without a request (no user, no CSRF token) still gets the visitor's bar."""
    with translation.override(language):
        written, rendered = _both("site_nav", "_site_nav.html", None)
    assert written == rendered
    assert "csrfmiddlewaretoken" not in written and 'value=""' in written


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("debug", [False, True])
def test_site_footer_writes_what_the_reference_template_renders(db, settings, debug, language):
    settings.DEBUG = debug
    with translation.override(language):
        written, rendered = _both("site_footer", "_site_footer.html", _request(None, "/"))
    assert written == rendered
    assert ("/dev/outbox/" in written) is debug


@pytest.mark.parametrize("who", list(USERS))
def test_site_nav_makes_the_queries_the_template_makes(db, who):
    """The officer role and the unread count are read only where the template reads them."""
    user = USERS[who]()
    queries = {}
    for name, source in [
        ("written", "{% load site_nav %}{% site_nav %}"),
        ("rendered", '{% include "_site_nav.html" %}'),
    ]:
        cache.clear()
        request = _request(user, "/")
        template = engines["django"].from_string(source)
        with CaptureQueriesContext(connection) as captured:
            template.render({}, request)
        queries[name] = [query["sql"] for query in captured.captured_queries]
    assert queries["written"] == queries["rendered"]
    if who == "anonymous":
        assert queries["written"] == []


def test_site_nav_follows_the_urlconf_and_the_script_prefix(db, settings):
    """Reversed URLs are kept per URLconf and script prefix: a test's own URLconf is obeyed."""

    class MountedURLConf:
        urlpatterns = [path("mounted/", include("portal.urls"))]

    tag = engines["django"].from_string("{% load site_nav %}{% site_nav %}")
    request = _request(None, "/")
    assert 'href="/products/"' in tag.render({}, request)
    settings.ROOT_URLCONF = MountedURLConf
    assert 'href="/mounted/products/"' in tag.render({}, request)
    settings.ROOT_URLCONF = "portal.urls"
    set_script_prefix("/prefix/")
    try:
        assert 'href="/prefix/products/"' in tag.render({}, request)
    finally:
        set_script_prefix("/")
    assert 'href="/products/"' in tag.render({}, request)


@pytest.mark.parametrize("path", ["/products/", "/app/"])
def test_pages_carry_the_navigation_and_footer(client, applicant_a, path):
    client.force_login(applicant_a)
    page = client.get(path).content.decode()
    assert '<nav class="navbar' in page and 'id="nav-applications"' in page
    assert '</nav>\n<main class="container py-4 flex-grow-1" id="main">' in page
    assert "</main>\n<footer" in page and "</footer>\n\n<script" in page
    # One masked CSRF token for the page: the header htmx sends and the bar's two forms.
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    header = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert len(tokens) == 2 and set(tokens) == {header}
