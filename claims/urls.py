"""The applicant's claims, under /app/claims/ (see portal/urls.py)."""

from django.urls import path

from claims import views

app_name = "claims"

urlpatterns = [
    path("", views.claim_list, name="list"),
    path("new/", views.claim_new, name="new"),
    path("new/<int:policy_pk>/", views.claim_notify, name="notify"),
    path("<int:pk>/", views.claim_detail, name="detail"),
    path("<int:pk>/documents/", views.claim_document_upload, name="upload"),
    path("<int:pk>/documents/status/", views.claim_documents_status, name="documents_status"),
    path(
        "<int:pk>/documents/<int:document_pk>/download/",
        views.document_download,
        name="document_download",
    ),
    path(
        "<int:pk>/documents/<int:document_pk>/preview/",
        views.document_preview,
        name="document_preview",
    ),
    path(
        "<int:pk>/letters/<int:letter_pk>/download/",
        views.letter_download,
        name="letter_download",
    ),
    path("<int:pk>/withdraw/", views.claim_withdraw, name="withdraw"),
    path("reinstate/<int:policy_pk>/", views.reinstatement, name="reinstate"),
    path("reinstate/<int:policy_pk>/quote/", views.reinstatement_quote, name="reinstate_quote"),
]
