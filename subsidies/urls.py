"""The applicant's premium-subsidy requests, under /app/subsidies/ (see portal/urls.py)."""

from django.urls import path

from subsidies import views

app_name = "subsidies"

urlpatterns = [
    path("", views.request_list, name="list"),
    path(
        "new/<int:policy_pk>/<slug:programme_code>/",
        views.request_apply,
        name="apply",
    ),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/documents/", views.request_document_upload, name="upload"),
    path(
        "<int:pk>/documents/<int:document_pk>/download/",
        views.document_download,
        name="document_download",
    ),
    path("<int:pk>/submit/", views.request_submit, name="submit"),
    path("<int:pk>/answer/", views.request_answer, name="answer"),
    path("<int:pk>/withdraw/", views.request_withdraw, name="withdraw"),
]
