"""The subsidies part of the REST API under /api/v1/ (mounted by portal/api_urls.py).

The applicant (scoped to the firms the user is a member of; another firm's request answers 404):

* ``GET policies/<id>/subsidy-programmes/``: the programmes that may subsidise the policy, with the
  amount to expect and what decided it;
* ``GET/POST subsidy-requests/``, ``GET subsidy-requests/<id>/``, and on a request
  ``POST documents/`` (multipart), ``GET documents/<id>/file/``, ``POST submit/``, ``answer/``,
  ``withdraw/``.

The officers (officers only, 403 for anyone else; scoped to the officer's authority, another
authority's request or batch answers 404):

* ``GET officer/requests/`` (the queue), ``GET officer/requests/<id>/``, ``POST …/decision/``
  (approve, reject, return), ``POST officer/requests/approve-many/``, ``POST …/publish/``,
  ``POST …/objections/``, ``GET …/documents/<id>/file/``;
* ``GET/POST officer/batches/``, ``GET officer/batches/<id>/``, ``POST officer/batches/<id>/paid/``.

Reads reuse the pages' selectors and the officer page's breakdown; every write goes through
``subsidies.services``, whose refusals keep their code (``cap``, ``budget``, ``status``…).
"""

from decimal import Decimal

from django.db.models import Count, DecimalField, F, Prefetch, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import attach_upload_error, idempotent
from portal.api_views import FILE_RESPONSE, ApiAutoSchema, FileDownloadNegotiation, ids_or_404
from portal.errors import DomainError
from portal.files import stored_file_response
from subsidies import selectors, services
from subsidies.choices import REQUEST_IN_QUEUE, REQUEST_TRANSITIONS, RequestStatus
from subsidies.models import DisbursementBatch, SubsidyEvent, SubsidyRequest
from subsidies.officer_views import _allowed_actions, _breakdown
from subsidies.serializers import (
    ALL_STATUSES,
    MAX_ID,
    ApproveManyResponseSerializer,
    ApproveManySerializer,
    BatchCreateSerializer,
    BatchDetailSerializer,
    BatchPaidSerializer,
    BatchSummarySerializer,
    DecisionSerializer,
    ObjectionCreateSerializer,
    ObjectionSerializer,
    OfficerQueueQuerySerializer,
    OfficerRequestDetailSerializer,
    OfficerRequestSummarySerializer,
    ProgrammeOfferSerializer,
    SubsidyAnswerSerializer,
    SubsidyDocumentSerializer,
    SubsidyDocumentUploadSerializer,
    SubsidyRequestCreateSerializer,
    SubsidyRequestDetailSerializer,
    SubsidyRequestListQuerySerializer,
    SubsidyRequestSummarySerializer,
)
from subsidies.templatetags.subsidy_tags import offer_rows

APPLICANT_TAGS = ["subsidies"]
OFFICER_TAGS = ["subsidies (officers)"]
ZERO = Decimal("0.00")
WITHDRAWABLE = {
    state for state, targets in REQUEST_TRANSITIONS.items() if RequestStatus.WITHDRAWN in targets
}


# --- The applicant ----------------------------------------------------------------------------


def _detail_response(request, pk, *, status_code=status.HTTP_200_OK) -> Response:
    subsidy = selectors.request_detail_for_user(request.user, pk)
    return Response(
        SubsidyRequestDetailSerializer(subsidy, context={"request": request}).data,
        status=status_code,
    )


class PolicyProgrammesView(generics.ListAPIView):
    schema = ApiAutoSchema()
    serializer_class = ProgrammeOfferSerializer

    def get_queryset(self):
        policy = selectors.policy_for_user(self.request.user, self.kwargs["policy_pk"])
        return offer_rows(policy)

    @extend_schema(
        operation_id="subsidy_programmes_for_policy",
        tags=APPLICANT_TAGS,
        summary="Programmes that may subsidise the policy, with the amount to expect",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SubsidyRequestListView(generics.ListAPIView):
    schema = ApiAutoSchema()
    serializer_class = SubsidyRequestSummarySerializer

    def get_queryset(self):
        query = SubsidyRequestListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        queryset = selectors.requests_visible_to(self.request.user).select_related(
            "programme", "policy"
        )
        if wanted.get("status"):
            queryset = queryset.filter(status=wanted["status"])
        if wanted.get("policy"):
            queryset = queryset.filter(policy_id=wanted["policy"])
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        operation_id="subsidy_requests_list",
        tags=APPLICANT_TAGS,
        summary="Your firms' subsidy requests, newest first",
        parameters=[SubsidyRequestListQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="subsidy_requests_create",
        tags=APPLICANT_TAGS,
        summary="Apply under a programme for a paid policy (a draft)",
        request=SubsidyRequestCreateSerializer,
        responses={201: SubsidyRequestDetailSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        serializer = SubsidyRequestCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        policy = serializer.validated_data["policy"]
        programme = serializer.validated_data["programme"]
        # As on the page: only a programme offered for this policy (its region, its products).
        offered = {row["programme"].pk for row in services.programmes_for_policy(policy)}
        if programme.pk not in offered:
            raise DomainError(
                gettext("This programme is not taking applications for this policy now."),
                code="programme",
            )
        subsidy = services.subsidy_request_create(
            policy=policy,
            programme=programme,
            actor=request.user,
            high_value=serializer.validated_data["high_value"],
        )
        return _detail_response(request, subsidy.pk, status_code=status.HTTP_201_CREATED)


class SubsidyRequestDetailView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="subsidy_requests_retrieve",
        tags=APPLICANT_TAGS,
        summary="One request: status, amounts, missing documents, eligibility, timeline",
        responses=SubsidyRequestDetailSerializer,
    )
    def get(self, request, pk):
        return _detail_response(request, pk)


class SubsidyDocumentUploadView(APIView):
    schema = ApiAutoSchema()
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="subsidy_requests_documents_create",
        tags=APPLICANT_TAGS,
        summary="Upload one document for the request",
        description=(
            "The type is decided from the file's bytes. Refusals keep the service's code: "
            "`type`, `too_large`, `empty`, `duplicate`, `code`, `closed`."
        ),
        request={"multipart/form-data": SubsidyDocumentUploadSerializer},
        responses={201: SubsidyDocumentSerializer},
    )
    @idempotent
    def post(self, request, pk):
        subsidy = selectors.request_for_user(request.user, pk)
        serializer = SubsidyDocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            document = services.subsidy_document_upload(
                request=subsidy,
                actor=request.user,
                code=serializer.validated_data["code"],
                uploaded_file=serializer.validated_data["file"],
            )
        except DomainError as error:
            attach_upload_error(error)
            raise
        return Response(
            SubsidyDocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class SubsidyDocumentFileView(APIView):
    schema = ApiAutoSchema()
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        operation_id="subsidy_requests_documents_file",
        tags=APPLICANT_TAGS,
        summary="Download a document of the request",
        responses=FILE_RESPONSE,
    )
    def get(self, request, pk, document_pk):
        ids_or_404(pk, document_pk)
        document = selectors.document_for_user(request.user, pk, document_pk)
        return stored_file_response(
            document.file.name,
            filename=document.original_name or f"{document.code}.{document.extension}",
            content_type=document.content_type,
        )


class SubsidySubmitView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="subsidy_requests_submit",
        tags=APPLICANT_TAGS,
        summary="Submit a draft; it is checked automatically, then reviewed by an officer",
        request=None,
        responses=SubsidyRequestDetailSerializer,
    )
    def post(self, request, pk):
        subsidy = selectors.request_for_user(request.user, pk)
        if subsidy.status != RequestStatus.DRAFT:
            raise DomainError(gettext("This request was already submitted."), code="status")
        services.subsidy_request_submit(request=subsidy, actor=request.user)
        return _detail_response(request, subsidy.pk)


class SubsidyAnswerView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="subsidy_requests_answer",
        tags=APPLICANT_TAGS,
        summary="Answer the officer's question; the request goes back under review",
        request=SubsidyAnswerSerializer,
        responses=SubsidyRequestDetailSerializer,
    )
    def post(self, request, pk):
        subsidy = selectors.request_for_user(request.user, pk)
        serializer = SubsidyAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.subsidy_answer(
            request=subsidy, actor=request.user, answer=serializer.validated_data["answer"]
        )
        return _detail_response(request, subsidy.pk)


class SubsidyWithdrawView(APIView):
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="subsidy_requests_withdraw",
        tags=APPLICANT_TAGS,
        summary="Withdraw a request that has not been decided",
        request=None,
        responses=SubsidyRequestDetailSerializer,
    )
    def post(self, request, pk):
        subsidy = selectors.request_for_user(request.user, pk)
        if subsidy.status not in WITHDRAWABLE:
            raise DomainError(gettext("This request can no longer be withdrawn."), code="status")
        services.subsidy_withdraw(request=subsidy, actor=request.user)
        return _detail_response(request, subsidy.pk)


# --- The officer ------------------------------------------------------------------------------


class IsOfficer(BasePermission):
    """Officers of an authority; everyone else is refused (403)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and services.officer_authority(user) is not None)


def _authority(request):
    return services.officer_authority(request.user)  # IsOfficer let only officers in


def _request_or_404(request, pk) -> SubsidyRequest:
    return get_object_or_404(
        SubsidyRequest.objects.filter(authority=_authority(request))
        .select_related(
            "programme", "programme__authority", "firm", "policy__product", "batch", "decided_by"
        )
        .prefetch_related(
            "documents",
            "objections",
            Prefetch(
                "events", queryset=SubsidyEvent.objects.select_related("actor").order_by("at", "id")
            ),
        ),
        pk=pk,
    )


def _batches_of(authority):
    return (
        DisbursementBatch.objects.filter(authority=authority)
        .select_related("created_by")
        .annotate(
            request_count=Count("requests"),
            total=Coalesce(
                Sum("requests__approved_amount"),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
    )


def _batch_or_404(request, pk) -> DisbursementBatch:
    return get_object_or_404(_batches_of(_authority(request)), pk=pk)


def _officer_detail_response(request, pk, *, status_code=status.HTTP_200_OK) -> Response:
    subsidy = _request_or_404(request, pk)
    context = {
        "request": request,
        "breakdown": _breakdown(subsidy),
        "actions": _allowed_actions(subsidy),
    }
    return Response(
        OfficerRequestDetailSerializer(subsidy, context=context).data, status=status_code
    )


def _batch_response(request, pk, *, status_code=status.HTTP_200_OK) -> Response:
    batch = _batch_or_404(request, pk)
    batch.request_list = list(
        batch.requests.select_related("programme", "firm").order_by("number", "pk")
    )
    return Response(
        BatchDetailSerializer(batch, context={"request": request}).data, status=status_code
    )


def _require_action(subsidy, action: str) -> None:
    if action not in _allowed_actions(subsidy):
        raise DomainError(
            gettext("This cannot be done while the request is %(status)s.")
            % {"status": subsidy.get_status_display()},
            code="status",
        )


class OfficerView(APIView):
    schema = ApiAutoSchema()
    permission_classes = [IsAuthenticated, IsOfficer]


class OfficerQueueView(generics.ListAPIView):
    schema = ApiAutoSchema()
    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = OfficerRequestSummarySerializer

    def get_queryset(self):
        query = OfficerQueueQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        queryset = selectors.officer_request_list(_authority(self.request))
        state = wanted.get("status") or ""
        if state == ALL_STATUSES:
            pass
        elif state:
            queryset = queryset.filter(status=state)
        else:
            queryset = queryset.filter(status__in=REQUEST_IN_QUEUE)
        programme = (wanted.get("programme") or "").strip()
        if programme.isascii() and programme.isdigit():  # "²".isdigit() too, but int() refuses it
            number = int(programme)
            queryset = queryset.filter(programme_id=number) if number <= MAX_ID else queryset.none()
        elif programme:
            queryset = queryset.filter(programme__code=programme)
        if wanted.get("eligibility"):
            queryset = queryset.filter(eligibility_outcome=wanted["eligibility"])
        text = (wanted.get("q") or "").strip()
        if text:
            queryset = queryset.filter(
                Q(number__icontains=text)
                | Q(firm__name_zh__icontains=text)
                | Q(firm__name_en__icontains=text)
                | Q(firm__uscc__icontains=text.upper())
            )
        submitted = F("submitted_at")
        if wanted.get("ordering", "submitted_at").startswith("-"):
            return queryset.order_by(submitted.desc(nulls_last=True), "-pk")
        return queryset.order_by(submitted.asc(nulls_last=True), "pk")

    @extend_schema(
        operation_id="officer_requests_list",
        tags=OFFICER_TAGS,
        summary="Your authority's requests; by default those waiting for a decision",
        parameters=[OfficerQueueQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class OfficerRequestDetailView(OfficerView):
    @extend_schema(
        operation_id="officer_requests_retrieve",
        tags=OFFICER_TAGS,
        summary="One request with the amount breakdown, eligibility, documents and timeline",
        responses=OfficerRequestDetailSerializer,
    )
    def get(self, request, pk):
        return _officer_detail_response(request, pk)


class OfficerDecisionView(OfficerView):
    @extend_schema(
        operation_id="officer_requests_decide",
        tags=OFFICER_TAGS,
        summary="Approve (perhaps a lower amount), reject with reasons, or return with a question",
        description=(
            "Approving more than the breakdown's `most` is refused with the code `cap`; nothing "
            "left in the budget or the firm's cap with `exhausted`."
        ),
        request=DecisionSerializer,
        responses=OfficerRequestDetailSerializer,
    )
    @idempotent
    def post(self, request, pk):
        subsidy = _request_or_404(request, pk)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        action = data["action"]
        _require_action(subsidy, action)
        if action == "approve":
            services.subsidy_approve(request=subsidy, actor=request.user, amount=data.get("amount"))
        elif action == "reject":
            services.subsidy_reject(request=subsidy, actor=request.user, reasons=data["reasons"])
        else:
            services.subsidy_return(request=subsidy, actor=request.user, question=data["question"])
        return _officer_detail_response(request, subsidy.pk)


class OfficerApproveManyView(OfficerView):
    @extend_schema(
        operation_id="officer_requests_approve_many",
        tags=OFFICER_TAGS,
        summary="Approve each request at the most it may get; each refusal is reported",
        request=ApproveManySerializer,
        responses=ApproveManyResponseSerializer,
    )
    def post(self, request):
        serializer = ApproveManySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = sorted(set(serializer.validated_data["ids"]))
        outcome = services.subsidy_approve_many(request_ids=ids, actor=request.user)
        numbers = dict(
            SubsidyRequest.objects.filter(
                authority=_authority(request), pk__in=list(outcome)
            ).values_list("pk", "number")
        )
        results = []
        for pk, value in outcome.items():
            approved = isinstance(value, Decimal)
            results.append(
                {
                    "id": pk,
                    "number": numbers.get(pk, ""),
                    "approved": approved,
                    "amount": value if approved else None,
                    "message": "" if approved else str(value),
                }
            )
        body = {"results": results, "not_found": [pk for pk in ids if pk not in outcome]}
        return Response(ApproveManyResponseSerializer(body).data)


class OfficerPublishView(OfficerView):
    @extend_schema(
        operation_id="officer_requests_publish",
        tags=OFFICER_TAGS,
        summary="Publish an approved request for objections (公示)",
        request=None,
        responses=OfficerRequestDetailSerializer,
    )
    def post(self, request, pk):
        subsidy = _request_or_404(request, pk)
        _require_action(subsidy, "publish")
        services.subsidy_publish(request=subsidy, actor=request.user)
        return _officer_detail_response(request, subsidy.pk)


class OfficerObjectionView(OfficerView):
    @extend_schema(
        operation_id="officer_requests_objections_create",
        tags=OFFICER_TAGS,
        summary="Record an objection; the request goes back under review",
        request=ObjectionCreateSerializer,
        responses={201: ObjectionSerializer},
    )
    @idempotent
    def post(self, request, pk):
        subsidy = _request_or_404(request, pk)
        serializer = ObjectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _require_action(subsidy, "objection")
        objection = services.objection_record(
            request=subsidy,
            actor=request.user,
            raised_by=serializer.validated_data["raised_by"],
            text=serializer.validated_data["text"],
        )
        return Response(ObjectionSerializer(objection).data, status=status.HTTP_201_CREATED)


class OfficerDocumentFileView(OfficerView):
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        operation_id="officer_requests_documents_file",
        tags=OFFICER_TAGS,
        summary="Download a document of the request",
        responses=FILE_RESPONSE,
    )
    def get(self, request, pk, document_pk):
        subsidy = _request_or_404(request, pk)
        document = get_object_or_404(subsidy.documents.all(), pk=document_pk)
        return stored_file_response(
            document.file.name,
            filename=document.original_name or f"{document.code}.{document.extension}",
            content_type=document.content_type,
        )


class OfficerBatchListView(generics.ListAPIView):
    schema = ApiAutoSchema()
    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = BatchSummarySerializer

    def get_queryset(self):
        return _batches_of(_authority(self.request)).order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="officer_batches_list",
        tags=OFFICER_TAGS,
        summary="Your authority's disbursement batches, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="officer_batches_create",
        tags=OFFICER_TAGS,
        summary="Put published requests whose publication has ended into a batch",
        request=BatchCreateSerializer,
        responses={201: BatchDetailSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch = services.batch_create(
            actor=request.user, request_ids=serializer.validated_data["request_ids"]
        )
        return _batch_response(request, batch.pk, status_code=status.HTTP_201_CREATED)


class OfficerBatchDetailView(OfficerView):
    @extend_schema(
        operation_id="officer_batches_retrieve",
        tags=OFFICER_TAGS,
        summary="One batch with its requests",
        responses=BatchDetailSerializer,
    )
    def get(self, request, pk):
        return _batch_response(request, pk)


class OfficerBatchPaidView(OfficerView):
    @extend_schema(
        operation_id="officer_batches_paid",
        tags=OFFICER_TAGS,
        summary="Record the treasury's payment of the batch; its requests become paid",
        request=BatchPaidSerializer,
        responses=BatchDetailSerializer,
    )
    def post(self, request, pk):
        batch = _batch_or_404(request, pk)
        serializer = BatchPaidSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.batch_mark_paid(
            batch=batch,
            actor=request.user,
            reference=serializer.validated_data["reference"],
            paid_on=serializer.validated_data.get("paid_on"),
        )
        return _batch_response(request, batch.pk)


urlpatterns = [
    # The applicant
    path(
        "policies/<int:policy_pk>/subsidy-programmes/",
        PolicyProgrammesView.as_view(),
        name="policy-subsidy-programmes",
    ),
    path("subsidy-requests/", SubsidyRequestListView.as_view(), name="subsidy-list"),
    path("subsidy-requests/<int:pk>/", SubsidyRequestDetailView.as_view(), name="subsidy-detail"),
    path(
        "subsidy-requests/<int:pk>/documents/",
        SubsidyDocumentUploadView.as_view(),
        name="subsidy-documents",
    ),
    path(
        "subsidy-requests/<int:pk>/documents/<int:document_pk>/file/",
        SubsidyDocumentFileView.as_view(),
        name="subsidy-document-file",
    ),
    path("subsidy-requests/<int:pk>/submit/", SubsidySubmitView.as_view(), name="subsidy-submit"),
    path("subsidy-requests/<int:pk>/answer/", SubsidyAnswerView.as_view(), name="subsidy-answer"),
    path(
        "subsidy-requests/<int:pk>/withdraw/",
        SubsidyWithdrawView.as_view(),
        name="subsidy-withdraw",
    ),
    # The officers
    path("officer/requests/", OfficerQueueView.as_view(), name="officer-request-list"),
    path(
        "officer/requests/approve-many/",
        OfficerApproveManyView.as_view(),
        name="officer-request-approve-many",
    ),
    path(
        "officer/requests/<int:pk>/",
        OfficerRequestDetailView.as_view(),
        name="officer-request-detail",
    ),
    path(
        "officer/requests/<int:pk>/decision/",
        OfficerDecisionView.as_view(),
        name="officer-request-decision",
    ),
    path(
        "officer/requests/<int:pk>/publish/",
        OfficerPublishView.as_view(),
        name="officer-request-publish",
    ),
    path(
        "officer/requests/<int:pk>/objections/",
        OfficerObjectionView.as_view(),
        name="officer-request-objections",
    ),
    path(
        "officer/requests/<int:pk>/documents/<int:document_pk>/file/",
        OfficerDocumentFileView.as_view(),
        name="officer-request-document-file",
    ),
    path("officer/batches/", OfficerBatchListView.as_view(), name="officer-batch-list"),
    path(
        "officer/batches/<int:pk>/", OfficerBatchDetailView.as_view(), name="officer-batch-detail"
    ),
    path(
        "officer/batches/<int:pk>/paid/",
        OfficerBatchPaidView.as_view(),
        name="officer-batch-paid",
    ),
]
