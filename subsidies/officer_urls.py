"""The officers' subsidy pages; mounted by ``portal.officer_views`` in the "officer" namespace."""

from django.urls import path

from portal import token_views
from subsidies import officer_views as views
from subsidies.report_views import report_patterns

urlpatterns = [
    path("summary/", views.summary, name="summary"),
    path("requests/", views.request_queue, name="queue"),
    path("requests/approve/", views.request_approve_many, name="approve_many"),
    path("requests/<id:pk>/", views.request_detail, name="request"),
    path(
        "requests/<id:pk>/documents/<id:doc_pk>/",
        views.document_download,
        name="request_document",
    ),
    path("requests/<id:pk>/approve/", views.request_approve, name="approve"),
    path("requests/<id:pk>/reject/", views.request_reject, name="reject"),
    path("requests/<id:pk>/return/", views.request_return, name="return"),
    path("requests/<id:pk>/publish/", views.request_publish, name="publish"),
    path("requests/<id:pk>/objection/", views.request_objection, name="objection"),
    path("requests/<id:pk>/claw-back/", views.request_claw_back, name="claw_back"),
    path("budget/", views.budget_overview, name="budget"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/<id:pk>/", views.batch_detail, name="batch"),
    path("batches/<id:pk>/paid/", views.batch_paid, name="batch_paid"),
    path("batches/<id:pk>/export.csv", views.batch_export_csv, name="batch_csv"),
    path("batches/<id:pk>/export.xlsx", views.batch_export_xlsx, name="batch_xlsx"),
    *report_patterns,
    # API tokens are the shared kernel's (portal/token_views.py); officers reach them here.
    path("tokens/", token_views.officer_tokens, name="tokens"),
    path("tokens/<str:token_key>/revoke/", token_views.officer_token_revoke, name="token_revoke"),
]
