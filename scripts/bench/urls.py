"""The portal's URLs plus the benchmark's ceiling, kept out of portal.urls so that the tests that
walk every URL of the project never meet it."""

from django.http import HttpResponse
from django.urls import include, path


def minimal(request):
    """The least a request through the full middleware stack can cost: no template, no query of
    its own (the middleware still resolves the session, the user and the firm)."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/minimal/", minimal),
    path("", include("portal.urls")),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
