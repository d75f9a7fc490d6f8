import functools

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from portal import access_cache
from portal.access_cache import has_totp
from portal.roles import needs_mfa
from portal.services import SESSION_ACTIVE_FIRM


def _resolve_active_membership(request):
    user = request.user
    if not user.is_authenticated:
        return [], None
    from portal.selectors import memberships_of

    if access_cache.known_without_firm(user.pk):
        return [], None
    memberships = list(memberships_of(user))
    if not memberships:
        access_cache.remember_without_firm(user.pk)
        return memberships, None
    wanted = request.session.get(SESSION_ACTIVE_FIRM)
    for membership in memberships:
        if membership.firm_id == wanted:
            return memberships, membership
    return memberships, memberships[0]


@functools.cache
def _admin_prefix() -> str:
    return reverse("admin:index")


class ActiveFirmMiddleware:
    """Sets ``request.memberships``, ``request.membership`` and ``request.firm`` (the firm the user
    works for now, or None). One query for a member of a firm outside the admin; none for a
    visitor, nor for a user the cache knows to belong to no firm (portal.access_cache)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(_admin_prefix()):
            # The admin acts for no firm and shows none: a query less on every admin page.
            memberships, membership = [], None
        else:
            memberships, membership = _resolve_active_membership(request)
        request.memberships = memberships
        request.membership = membership
        request.firm = membership.firm if membership else None
        return self.get_response(request)


class RequireMFAMiddleware:
    """Staff and officers without a TOTP authenticator are sent to set one up before anything
    else; only the account pages (to enrol, log out) and static files stay reachable."""

    ALWAYS_ALLOWED_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz", "/dev/outbox/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.PORTAL_REQUIRE_MFA
            and not request.path.startswith(self.ALWAYS_ALLOWED_PREFIXES)
            and needs_mfa(request.user)
            and not has_totp(request.user)
        ):
            return redirect(f"{reverse('mfa_activate_totp')}?next={request.get_full_path()}")
        return self.get_response(request)


class PortalLocaleMiddleware:
    """Chooses the language from the language cookie, then the user's saved preference, then
    Simplified Chinese. The browser's Accept-Language is deliberately ignored: the portal's
    audience is Chinese first, and English is an explicit choice."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        supported = {code for code, _name in settings.LANGUAGES}
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in supported:
            user = getattr(request, "user", None)
            preferred = getattr(user, "preferred_language", "") if user else ""
            language = preferred if preferred in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response


class RejectNulMiddleware:
    """Answers 400 to a page request whose query string or form fields contain a NUL character.

    PostgreSQL cannot store or compare text with NUL (psycopg raises DataError, a 500), and no
    person types one: it only comes from probing. Filters read straight from ``request.GET`` and
    answers kept unvalidated (a questionnaire's draft is saved as typed) are the usual victims, so
    this is checked once here rather than in every view. Reading ``request.POST`` here parses the
    body no earlier than CsrfViewMiddleware does; uploaded files are not looked at, their names
    are cleaned by portal.uploads. The API has its own answer (a DataError becomes its 400 error
    shape), so /api/ is left alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from portal.api import is_api_request

        if not is_api_request(request) and _has_nul(request):
            from django.core.exceptions import SuspiciousOperation

            from portal.views import error_400

            return error_400(request, SuspiciousOperation("NUL character in the request"))
        return self.get_response(request)


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    sources = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(request.POST)
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for source in sources
        for key, values in source.lists()
    )
