"""The applicant's policies, under /app/policies/ (see portal/urls.py)."""

from django.urls import path

from underwriting import views_policies

app_name = "policies"

urlpatterns = [
    path("", views_policies.policy_list, name="list"),
    path("dashboard-card/", views_policies.dashboard_card, name="dashboard_card"),
    path("<id:pk>/", views_policies.policy_detail, name="detail"),
    path("<id:pk>/pay/", views_policies.policy_pay, name="pay"),
    path("<id:pk>/pay/sandbox/", views_policies.sandbox_pay, name="sandbox_pay"),
    path("<id:pk>/cancel/", views_policies.policy_cancel, name="cancel"),
    path("<id:pk>/renew/", views_policies.policy_renew, name="renew"),
    path(
        "<id:pk>/documents/<id:document_pk>/",
        views_policies.policy_document,
        name="document",
    ),
]
