"""The applicant's claims, under /app/claims/ (see portal/urls.py)."""

from django.urls import path

from claims import views

app_name = "claims"

urlpatterns = [
    path("", views.claim_list, name="list"),
    path("new/", views.claim_new, name="new"),
    path("new/<id:policy_pk>/", views.claim_notify, name="notify"),
    path("<id:pk>/", views.claim_detail, name="detail"),
    path("<id:pk>/documents/", views.claim_document_upload, name="upload"),
    path("<id:pk>/documents/status/", views.claim_documents_status, name="documents_status"),
    path(
        "<id:pk>/documents/<id:document_pk>/download/",
        views.document_download,
        name="document_download",
    ),
    path(
        "<id:pk>/documents/<id:document_pk>/preview/",
        views.document_preview,
        name="document_preview",
    ),
    path(
        "<id:pk>/letters/<id:letter_pk>/download/",
        views.letter_download,
        name="letter_download",
    ),
    path("<id:pk>/withdraw/", views.claim_withdraw, name="withdraw"),
    path("reinstate/<id:policy_pk>/", views.reinstatement, name="reinstate"),
    path("reinstate/<id:policy_pk>/quote/", views.reinstatement_quote, name="reinstate_quote"),
]
