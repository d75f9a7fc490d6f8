"""The applicant's premium-subsidy requests, under /app/subsidies/ (see portal/urls.py)."""

from django.urls import path

from subsidies import views

app_name = "subsidies"

urlpatterns = [
    path("", views.request_list, name="list"),
    path(
        "new/<id:policy_pk>/<slug:programme_code>/",
        views.request_apply,
        name="apply",
    ),
    path("<id:pk>/", views.request_detail, name="detail"),
    path("<id:pk>/documents/", views.request_document_upload, name="upload"),
    path(
        "<id:pk>/documents/<id:document_pk>/download/",
        views.document_download,
        name="document_download",
    ),
    path("<id:pk>/submit/", views.request_submit, name="submit"),
    path("<id:pk>/answer/", views.request_answer, name="answer"),
    path("<id:pk>/withdraw/", views.request_withdraw, name="withdraw"),
]
