"""The claims part of the REST API under /api/v1/ (mounted by portal/api_urls.py): the applicant's
claims, scoped to the firms the user is a member of.

* ``GET/POST claims/``: the list (filters ``status``, ``policy``; ``ordering``) and reporting a
  claim (``Idempotency-Key`` honoured);
* ``GET claims/<id>/``: everything the claim page shows;
* ``POST claims/<id>/documents/`` (multipart ``code`` + ``file``), ``GET …/documents/<id>/file/``
  and ``GET …/letters/<id>/file/``; ``POST claims/<id>/withdraw/``.

Reads go through ``claims.selectors`` (another firm's claim, document or letter answers 404, as on
the pages), writes through ``claims.services``; the services' refusals become the API's error body
(``portal.api.exception_handler``).
"""

from django.db.models import Prefetch
from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from claims import selectors, services
from claims.choices import CLAIM_TRANSITIONS, ClaimStatus
from claims.models import ClaimDocument, DocumentRequest
from claims.serializers import (
    ClaimDetailSerializer,
    ClaimDocumentSerializer,
    ClaimDocumentUploadSerializer,
    ClaimListQuerySerializer,
    ClaimNotifySerializer,
    ClaimSummarySerializer,
    ClaimWithdrawSerializer,
)
from portal.api import attach_upload_error, idempotent
from portal.api_views import FILE_RESPONSE, ApiAutoSchema, FileDownloadNegotiation, ids_or_404
from portal.errors import DomainError
from portal.files import stored_file_response

TAGS = ["claims"]
WITHDRAWABLE = {
    state for state, targets in CLAIM_TRANSITIONS.items() if ClaimStatus.WITHDRAWN in targets
}


# What ClaimSummarySerializer shows and ``outstanding_items`` reads: the claim's facts, the
# policy's terms and the clause's wording (kilobytes of JSON a row) stay unread.
_LIST_FIELDS = (
    "id",
    "number",
    "status",
    "policy",
    "incident_date",
    "amount_claimed",
    "notified_at",
    "next_deadline_on",
    "next_deadline_kind",
    "waived_documents",
    "policy__number",
    "policy__clause_version",
    "policy__clause_version__claim_documents",
)


def _claims_of(user):
    """The user's claims with what the list shows (``outstanding_items`` included) preloaded:
    the same queries for 2 or 2,000 claims."""
    return (
        selectors.claims_visible_to(user)
        .select_related("policy", "policy__clause_version")
        .only(*_LIST_FIELDS)
        .prefetch_related(
            Prefetch(
                "documents",
                queryset=ClaimDocument.objects.only(
                    "id", "claim_id", "code", "status", "uploaded_at"
                ).order_by("uploaded_at", "id"),
            ),
            Prefetch("document_requests", queryset=DocumentRequest.objects.order_by("sequence")),
        )
    )


def _detail_response(request, pk, *, status_code=status.HTTP_200_OK) -> Response:
    claim = selectors.claim_detail_for_user(request.user, pk)
    return Response(
        ClaimDetailSerializer(claim, context={"request": request}).data, status=status_code
    )


class ClaimListView(generics.ListAPIView):
    schema = ApiAutoSchema()
    serializer_class = ClaimSummarySerializer

    def get_queryset(self):
        wanted = {}
        if self.request.query_params:  # none: the defaults, without building the serializer
            query = ClaimListQuerySerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            wanted = query.validated_data
        queryset = _claims_of(self.request.user)
        if wanted.get("status"):
            queryset = queryset.filter(status=wanted["status"])
        if wanted.get("policy"):
            queryset = queryset.filter(policy_id=wanted["policy"])
        ordering = wanted.get("ordering") or "-notified_at"
        return queryset.order_by(ordering, "-id" if ordering.startswith("-") else "id")

    @extend_schema(
        operation_id="claims_list",
        tags=TAGS,
        summary="Your firms' claims",
        parameters=[ClaimListQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="claims_create",
        tags=TAGS,
        summary="Report a claim under a policy",
        description=(
            "The notification time is recorded. Field errors come back under `error.fields`; "
            "an `Idempotency-Key` header makes a retry return the first answer."
        ),
        request=ClaimNotifySerializer,
        responses={201: ClaimDetailSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        serializer = ClaimNotifySerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        claim = services.claim_notify(actor=request.user, **serializer.service_arguments())
        return _detail_response(request, claim.pk, status_code=status.HTTP_201_CREATED)


class ClaimDetailView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="claims_retrieve",
        tags=TAGS,
        summary="One claim: status, amounts, what is missing, deadlines, timeline, documents",
        responses=ClaimDetailSerializer,
    )
    def get(self, request, pk):
        return _detail_response(request, pk)


class ClaimDocumentUploadView(APIView):
    schema = ApiAutoSchema()
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="claims_documents_create",
        tags=TAGS,
        summary="Upload one document for an item of the checklist",
        description=(
            "The type is decided from the file's bytes (PDF, JPEG, PNG, .docx, .xlsx). Refusals "
            "keep the service's code: `type`, `too_large`, `empty`, `duplicate`, `code`, "
            "`closed`. The document is `pending` until the background check has run."
        ),
        request={"multipart/form-data": ClaimDocumentUploadSerializer},
        responses={201: ClaimDocumentSerializer},
    )
    @idempotent
    def post(self, request, pk):
        claim = selectors.claim_for_user(request.user, pk)
        serializer = ClaimDocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            document = services.claim_document_upload(
                claim=claim,
                actor=request.user,
                code=serializer.validated_data["code"],
                uploaded_file=serializer.validated_data["file"],
            )
        except DomainError as error:
            attach_upload_error(error)
            raise
        return Response(
            ClaimDocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ClaimDocumentFileView(APIView):
    schema = ApiAutoSchema()
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        operation_id="claims_documents_file",
        tags=TAGS,
        summary="Download a document of the claim",
        responses=FILE_RESPONSE,
    )
    def get(self, request, pk, document_pk):
        ids_or_404(pk, document_pk)
        document = selectors.claim_document_for_user(request.user, pk, document_pk)
        return stored_file_response(
            document.file.name,
            filename=document.original_name or f"{document.code}.{document.extension}",
            content_type=document.content_type,
            attachment=True,
        )


class ClaimLetterFileView(APIView):
    schema = ApiAutoSchema()
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        operation_id="claims_letters_file",
        tags=TAGS,
        summary="Download a ready letter of the claim (PDF)",
        responses=FILE_RESPONSE,
    )
    def get(self, request, pk, letter_pk):
        ids_or_404(pk, letter_pk)
        letter = selectors.claim_letter_for_user(request.user, pk, letter_pk)
        return stored_file_response(
            letter.file.name,
            filename=f"{letter.reference}.pdf",
            content_type="application/pdf",
            attachment=True,
        )


class ClaimWithdrawView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="claims_withdraw",
        tags=TAGS,
        summary="Withdraw a claim that has not been decided",
        request=ClaimWithdrawSerializer,
        responses=ClaimDetailSerializer,
    )
    def post(self, request, pk):
        claim = selectors.claim_for_user(request.user, pk)
        serializer = ClaimWithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if claim.status not in WITHDRAWABLE or claim.decision:
            raise DomainError(gettext("This claim can no longer be withdrawn."), code="closed")
        services.claim_withdraw(
            claim=claim, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return _detail_response(request, claim.pk)


urlpatterns = [
    path("claims/", ClaimListView.as_view(), name="claim-list"),
    path("claims/<int:pk>/", ClaimDetailView.as_view(), name="claim-detail"),
    path(
        "claims/<int:pk>/documents/",
        ClaimDocumentUploadView.as_view(),
        name="claim-documents",
    ),
    path(
        "claims/<int:pk>/documents/<int:document_pk>/file/",
        ClaimDocumentFileView.as_view(),
        name="claim-document-file",
    ),
    path(
        "claims/<int:pk>/letters/<int:letter_pk>/file/",
        ClaimLetterFileView.as_view(),
        name="claim-letter-file",
    ),
    path("claims/<int:pk>/withdraw/", ClaimWithdrawView.as_view(), name="claim-withdraw"),
]
