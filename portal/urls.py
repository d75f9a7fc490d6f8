from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy
from django.views.i18n import JavaScriptCatalog

import subsidies.public_views
from portal import officer_views, views
from portal.admin_base import cache_app_list
from subsidies.officer_urls import urlpatterns as subsidy_officer_urls
from underwriting import views_policies

admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = gettext_lazy("IP Insurance Portal")
admin.site.site_title = gettext_lazy("IP Insurance Portal")
cache_app_list(admin.site)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("products/", include("underwriting.urls")),
    path("robots.txt", views.robots_txt),
    path("verify/", views_policies.policy_verify_page, name="verify"),
    path("public/subsidies/", subsidies.public_views.publication, name="public_subsidies"),
    path("accounts/", include("allauth.urls")),
    path("app/applications/", include("underwriting.urls_app")),
    path("app/policies/", include("underwriting.urls_policies")),
    path("app/claims/", include("claims.urls")),
    path("app/subsidies/", include("subsidies.urls")),
    path("app/", include("portal.urls_app")),
    path("officer/", include((officer_views.urlpatterns + subsidy_officer_urls, "officer"))),
    path("admin/", admin.site.urls),
    path("", include("portal.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # Answers 404 unless DEBUG is on; see views.dev_outbox.
    path("dev/outbox/", views.dev_outbox, name="dev_outbox"),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
