"""The REST API: /api/v1/ (each app's ``api.urlpatterns``), the OpenAPI schema and its docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from claims import api as claims_api
from portal import api_views
from subsidies import api as subsidies_api
from underwriting import api as underwriting_api

v1 = [
    *api_views.urlpatterns,
    *underwriting_api.urlpatterns,
    *claims_api.urlpatterns,
    *subsidies_api.urlpatterns,
]

urlpatterns = [
    path("api/v1/", include((v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the docs page needs no
    # inline script and keeps the Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
