"""The underwriting part of the REST API under /api/v1/ (mounted by portal/api_urls.py).

The catalogue, the indicative premium and the public policy check are open to anyone; the rest
acts for the firms the user is a member of, through the same services and under the same rules as
the pages:

* reads are scoped like ``underwriting.selectors_app``: another firm's application, quote or
  policy does not exist (404);
* every write goes through ``underwriting.services`` (``portal.services`` for IP assets), whose
  refusals become the API's error body (portal/api.py);
* the exclusion notice is its own endpoint, returning the items, the exact text, its SHA-256 and a
  signed token, and the acknowledgement checks the same things as the page — hash, token, reading
  time, every tick, the confirmation (Insurance Law art. 17) — recorded with channel "api";
* paying uses the sandbox provider's own calls (``underwriting.payments``): the reference it
  would put in the payment link is issued and completed in one request.
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Prefetch, Subquery
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from portal import services as portal_services
from portal.api import ErrorSerializer, idempotent
from portal.api_views import ids_or_404
from portal.errors import DomainError
from portal.files import stored_file_response
from portal.models import IPAsset, Membership
from underwriting import rating, selectors, selectors_app, services
from underwriting import serializers as s
from underwriting.choices import (
    ClauseStatus,
    DocumentStatus,
    InstalmentStatus,
    ProductStatus,
    QuestionnaireKind,
    QuoteStatus,
)
from underwriting.forms import PremiumForm
from underwriting.forms_app import answer_error_message
from underwriting.models import (
    ClauseVersion,
    Instalment,
    Policy,
    PolicyDocument,
    Quote,
    Rider,
)
from underwriting.payments import SandboxProvider, payment_provider
from underwriting.services.applications import STEP_RISK
from underwriting.services.policies import NOTICE_VERSION
from underwriting.views_policies import (
    PAYABLE,
    VERIFY_PUBLIC_STATUS,
    _public_status,
    _verify_allowed,
)

CURRENCY = "CNY"

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Refused or invalid.")),
    401: OpenApiResponse(ErrorSerializer, description=gettext_lazy("No valid credentials.")),
    403: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not allowed.")),
    404: OpenApiResponse(ErrorSerializer, description=gettext_lazy("No such object for you.")),
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=gettext_lazy(
        "Retrying with the same key and body returns the first response and does nothing "
        "again; the same key with another body is refused (422)."
    ),
)
IDEMPOTENT_ERRORS = {
    **ERRORS,
    422: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Key reused.")),
}


def _query(serializer_class, request) -> dict:
    """Validated query parameters; an unknown filter value is a 400, not an empty page."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _filters(serializer_class, request) -> dict:
    """A list's filters: every one optional and without a default, so no query parameters
    means no filters, without building the serializer."""
    if not request.query_params:
        return {}
    return _query(serializer_class, request)


def _ordered(queryset, ordering: str | None, fields: dict, default: str):
    ordering = ordering or default
    descending = ordering.startswith("-")
    field = fields[ordering.lstrip("-")]
    prefix = "-" if descending else ""
    return queryset.order_by(f"{prefix}{field}", f"{prefix}pk")


def _member_firm_ids(user):
    return Membership.objects.filter(user=user).values("firm_id")


class PublicMixin:
    """Open to anyone. No authentication is attempted, so a browser's session never makes a
    public read or calculation depend on a CSRF token."""

    authentication_classes: tuple = ()
    permission_classes = (AllowAny,)


# --- Catalogue --------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        tags=["catalogue"],
        operation_id="products_list",
        summary="Published products",
        parameters=[s.ProductFilterSerializer],
        responses={200: s.ProductSerializer(many=True), 400: ERRORS[400]},
    )
)
class ProductListView(PublicMixin, generics.ListAPIView):
    serializer_class = s.ProductSerializer

    def get_queryset(self):
        filters = _query(s.ProductFilterSerializer, self.request)
        ordering = filters.pop("ordering", None)
        products = selectors.published_products(**filters)
        name = "name_en" if (get_language() or "").startswith("en") else "name_zh"
        if ordering is None:
            return products  # the catalogue's own order: position, then code
        return _ordered(products, ordering, {"code": "code", "name": name}, "code")


def _published_version(product):
    return selectors.current_clause_version(product)


@extend_schema_view(
    get=extend_schema(
        tags=["catalogue"],
        operation_id="products_retrieve",
        summary="A product with its current wording and rating tables",
        responses={200: s.ProductDetailSerializer, 404: ERRORS[404]},
    )
)
class ProductDetailView(PublicMixin, APIView):
    def get(self, request, code):
        product = selectors.published_product(code)
        version = _published_version(product)
        context = {"request": request, "version": version}
        return Response(s.ProductDetailSerializer(product, context=context).data)


@extend_schema_view(
    get=extend_schema(
        tags=["catalogue"],
        operation_id="riders_list",
        summary="Published riders",
        parameters=[s.RiderFilterSerializer],
        responses={200: s.RiderSerializer(many=True)},
    )
)
class RiderListView(PublicMixin, generics.ListAPIView):
    serializer_class = s.RiderSerializer

    def get_queryset(self):
        filters = _query(s.RiderFilterSerializer, self.request)
        riders = Rider.objects.filter(status=ProductStatus.PUBLISHED)
        if filters.get("product"):
            riders = riders.filter(
                main_products__code=filters["product"],
                main_products__status=ProductStatus.PUBLISHED,
            )
        return riders.prefetch_related(
            "main_products",
            "insurers",
            Prefetch(
                "clause_versions",
                queryset=ClauseVersion.objects.filter(status=ClauseStatus.PUBLISHED).order_by(
                    "-number"
                ),
                to_attr="published_versions",
            ),
        ).order_by("code")


class _PremiumInvalid(exceptions.ValidationError):
    pass


def _premium_form(version, data: dict) -> PremiumForm:
    """The calculator's own form, bound to the API's body, so that the API accepts exactly
    what the product page accepts."""
    errors = {}
    form_data = {"item_count": str(data["item_count"])}
    sections = {section.code: section for section in version.rating_sections.all()}
    for code, amount in data["limits"].items():
        section = sections.get(code)
        if section is None:
            errors[f"limits.{code}"] = [_("This product has no such cover section.")]
            continue
        value = format(amount, "f")
        for option in section.limit_options or []:
            try:
                if Decimal(str(option)) == amount:
                    value = str(option)
            except (InvalidOperation, ValueError):
                continue
        form_data[f"limit_{code}"] = value
    tables = {table.code for table in version.coefficient_tables.all()}
    for code, option in data["choices"].items():
        if code not in tables:
            errors[f"choices.{code}"] = [_("This product has no such coefficient table.")]
            continue
        form_data[f"coef_{code}"] = option
    form = PremiumForm(version, data={**form_data, "riders": list(data["riders"])})
    if data["riders"] and "riders" not in form.fields:
        errors["riders"] = [_("No riders are offered with this product.")]
    if not form.is_valid():
        for name, messages in form.errors.items():
            if name.startswith("limit_"):
                name = f"limits.{name[len('limit_') :]}"
            elif name.startswith("coef_"):
                name = f"choices.{name[len('coef_') :]}"
            elif name == "__all__":
                name = "non_field_errors"
            errors[name] = [str(message) for message in messages]
    if errors:
        raise _PremiumInvalid(errors)
    return form


@extend_schema_view(
    post=extend_schema(
        tags=["catalogue"],
        operation_id="products_premium",
        summary="Indicative premium (nothing is stored)",
        description=(
            "The product page's calculator: the premium for the limits, options and riders given, "
            "with how it was reached. Nothing is stored. Limited per client address."
        ),
        request=s.PremiumRequestSerializer,
        responses={
            200: s.PremiumResponseSerializer,
            400: ERRORS[400],
            404: ERRORS[404],
            429: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Too many requests.")),
        },
    )
)
class PremiumView(PublicMixin, APIView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "indicative_premium"

    def post(self, request, code):
        product = selectors.published_product(code)
        version = _published_version(product)
        if version is None:
            raise exceptions.NotFound()
        body = s.PremiumRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = _premium_form(version, body.validated_data)
        try:
            breakdown = services.premium_quote(version=version, **form.quote_arguments())
        except rating.RatingError:
            raise DomainError(
                _("The premium cannot be calculated from these answers."), code="rating"
            ) from None
        data = {
            "product": product.code,
            "clause_version": version,
            "currency": CURRENCY,
            "premium": breakdown.total,
            "breakdown": services.breakdown_to_json(breakdown, version),
        }
        return Response(s.PremiumResponseSerializer(data).data)


# --- IP assets --------------------------------------------------------------------------------


@extend_schema(tags=["assets"])
class AssetListView(generics.ListCreateAPIView):
    serializer_class = s.IPAssetSerializer

    def get_queryset(self):
        filters = _query(s.AssetFilterSerializer, self.request)
        assets = IPAsset.objects.filter(firm_id__in=_member_firm_ids(self.request.user))
        if "firm" in filters:
            assets = assets.filter(firm_id=filters["firm"])
        if filters.get("kind"):
            assets = assets.filter(kind=filters["kind"])
        return assets.order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="assets_list",
        summary="Your firms' IP assets",
        parameters=[s.AssetFilterSerializer],
        responses={200: s.IPAssetSerializer(many=True), 400: ERRORS[400], 401: ERRORS[401]},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="assets_create",
        summary="Record an IP asset of one of your firms",
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.IPAssetSerializer, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        asset = portal_services.ip_asset_create(
            firm=fields.pop("firm"), actor=request.user, **fields
        )
        return Response(self.get_serializer(asset).data, status=status.HTTP_201_CREATED)


# --- Applications -----------------------------------------------------------------------------


# The offered or accepted quote's id, newest first, read in the list's own query. Built once:
# annotate() resolves a copy of it for each queryset.
_LIVE_QUOTE_PK = Subquery(selectors_app.live_quotes_of_row().values("pk")[:1])


# What ApplicationSerializer shows: the rest of the row (answers, limits, steps ...) stays unread.
_APPLICATION_LIST_FIELDS = (
    "id",
    "firm",
    "product",
    "status",
    "sum_insured",
    "rider_codes",
    "wished_start",
    "submitted_at",
    "created_at",
    "updated_at",
    "firm__name_zh",
    "firm__name_en",
    "product__code",
    "product__name_zh",
    "product__name_en",
)


def _application_detail(request, pk: int):
    """The application as its detail page reads it: 404 for anyone else's."""
    application = selectors_app.application_detail_for_user(request.user, pk)
    policy_id = Policy.objects.filter(application=application).values_list("pk", flat=True).first()
    return s.ApplicationDetailSerializer(
        application, context={"request": request, "policy_id": policy_id}
    ).data


def _application(request, pk: int):
    return selectors_app.application_for_user(request.user, pk)


@extend_schema(tags=["applications"])
class ApplicationListView(generics.ListCreateAPIView):
    serializer_class = s.ApplicationSerializer

    def get_queryset(self):
        filters = _filters(s.ApplicationFilterSerializer, self.request)
        applications = (
            selectors_app.applications_visible_to(self.request.user)
            .select_related("product", "firm")
            .only(*_APPLICATION_LIST_FIELDS)
            .annotate(live_quote_pk=_LIVE_QUOTE_PK)
        )
        if filters.get("status"):
            applications = applications.filter(status=filters["status"])
        if filters.get("product"):
            applications = applications.filter(product__code=filters["product"])
        if "firm" in filters:
            applications = applications.filter(firm_id=filters["firm"])
        return _ordered(
            applications,
            filters.get("ordering"),
            {"created": "created_at", "updated": "updated_at"},
            "-updated",
        )

    @extend_schema(
        operation_id="applications_list",
        summary="Your firms' applications",
        parameters=[s.ApplicationFilterSerializer],
        responses={200: s.ApplicationSerializer(many=True), 400: ERRORS[400], 401: ERRORS[401]},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="applications_create",
        summary="Start an application for a product",
        request=s.ApplicationCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.ApplicationDetailSerializer, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        body = s.ApplicationCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        application = services.application_start(
            firm=body.validated_data["firm"],
            actor=request.user,
            product=body.validated_data["product"],
        )
        return Response(_application_detail(request, application.pk), status=201)


@extend_schema_view(
    get=extend_schema(
        tags=["applications"],
        operation_id="applications_retrieve",
        summary="An application: answers, steps, timeline, quotes",
        responses={200: s.ApplicationDetailSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
)
class ApplicationDetailView(APIView):
    def get(self, request, pk):
        return Response(_application_detail(request, pk))


def _cover_errors(errors: dict) -> dict:
    """The cover step's field names as the API's body names them."""
    renamed = {}
    for name, message in errors.items():
        if name.startswith("limit_"):
            name = f"limits.{name[len('limit_') :]}"
        renamed[name] = answer_error_message(message)
    return renamed


@extend_schema_view(
    put=extend_schema(
        tags=["applications"],
        operation_id="applications_cover_update",
        summary="Step 1: rights, limits, deductible, riders and start date",
        request=s.CoverSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class CoverView(APIView):
    def put(self, request, pk):
        application = _application(request, pk)
        body = s.CoverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            services.application_cover_save(
                application=application,
                actor=request.user,
                asset_ids=data["assets"],
                limits={code: str(amount) for code, amount in data["limits"].items()},
                deductible=data["deductible"],
                rider_codes=data["riders"],
                wished_start=data["wished_start"],
            )
        except services.AnswersInvalid as error:
            raise services.AnswersInvalid(_cover_errors(error.errors)) from None
        return Response(_application_detail(request, pk))


def _save_answers(data: dict, save) -> None:
    """Save a questionnaire's answers as the page does: invalid answers are kept as typed, the
    step left open, and the errors returned per question (``answers.<code>``)."""
    try:
        save(answers=data["answers"], complete=data["complete"])
    except services.AnswersInvalid as error:
        save(answers=data["answers"], complete=False)
        raise services.AnswersInvalid(
            {f"answers.{code}": answer_error_message(e) for code, e in error.errors.items()}
        ) from None


@extend_schema_view(
    put=extend_schema(
        tags=["applications"],
        operation_id="applications_valuation_update",
        summary="Valuation answers for one insured patent",
        request=s.AnswersSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class ValuationView(APIView):
    def put(self, request, pk, asset_id):
        application = _application(request, pk)
        body = s.AnswersSerializer(data=request.data)
        body.is_valid(raise_exception=True)

        def save(**kwargs):
            services.application_valuation_save(
                application=application, actor=request.user, asset_id=asset_id, **kwargs
            )

        _save_answers(body.validated_data, save)
        return Response(_application_detail(request, pk))


@extend_schema_view(
    put=extend_schema(
        tags=["applications"],
        operation_id="applications_risk_update",
        summary="Risk answers",
        request=s.AnswersSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class RiskView(APIView):
    def put(self, request, pk):
        application = _application(request, pk)
        body = s.AnswersSerializer(data=request.data)
        body.is_valid(raise_exception=True)

        def save(**kwargs):
            services.application_risk_save(application=application, actor=request.user, **kwargs)

        _save_answers(body.validated_data, save)
        return Response(_application_detail(request, pk))


def _questions(questionnaire) -> list:
    return [
        {key: value for key, value in question.items() if key != "rating"}
        for question in (questionnaire.questions if questionnaire else [])
    ]


@extend_schema_view(
    get=extend_schema(
        tags=["applications"],
        operation_id="applications_questionnaires",
        summary="The questions to answer, with their codes and the answers so far",
        responses={200: s.QuestionnairesSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
)
class QuestionnairesView(APIView):
    def get(self, request, pk):
        application = _application(request, pk)
        version = application.clause_version
        insured = list(application.insured_assets.all())
        steps = services.application_steps(application, insured)
        valuation = services.questionnaire_of(version, QuestionnaireKind.VALUATION)
        risk = services.questionnaire_of(version, QuestionnaireKind.RISK)
        done = set(application.completed_steps or [])
        data = {
            "steps": [
                {
                    "key": step["key"],
                    "title": str(step["title"]),
                    "done": step["done"],
                    "asset": step["asset"].asset_id if step["asset"] else None,
                }
                for step in steps
            ],
            "valuation": None,
            "risk": None,
        }
        if valuation is not None:
            data["valuation"] = {
                "sha256": valuation.sha256,
                "questions": _questions(valuation),
                "assets": [
                    {
                        "asset": step["asset"].asset_id,
                        "number": step["asset"].asset.number,
                        "title": step["asset"].asset.title,
                        "done": step["done"],
                        "answers": step["asset"].valuation_answers or {},
                    }
                    for step in steps
                    if step["asset"] is not None
                ],
            }
        if risk is not None:
            data["risk"] = {
                "sha256": risk.sha256,
                "questions": _questions(risk),
                "done": STEP_RISK in done,
                "answers": application.risk_answers or {},
            }
        return Response(s.QuestionnairesSerializer(data).data)


@extend_schema_view(
    post=extend_schema(
        tags=["applications"],
        operation_id="applications_submit",
        summary="Declare the answers true and submit",
        description=(
            "Freezes the answers and runs automatic underwriting: the application is then quoted, "
            "referred to an underwriter or declined, with the reasons."
        ),
        request=s.SubmitSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class SubmitView(APIView):
    def post(self, request, pk):
        application = _application(request, pk)
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.application_submit(
            application=application,
            actor=request.user,
            declaration=body.validated_data["declaration"],
        )
        return Response(_application_detail(request, pk))


@extend_schema_view(
    post=extend_schema(
        tags=["applications"],
        operation_id="applications_withdraw",
        summary="Withdraw the application (and its open quote)",
        request=s.WithdrawSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class WithdrawView(APIView):
    def post(self, request, pk):
        application = _application(request, pk)
        body = s.WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.application_withdraw(
            application=application,
            actor=request.user,
            reason=body.validated_data["reason"].strip(),
        )
        return Response(_application_detail(request, pk))


@extend_schema_view(
    post=extend_schema(
        tags=["applications"],
        operation_id="applications_questions_answer",
        summary="Answer an underwriter's question; with every question answered, the "
        "application goes back to the underwriter",
        request=s.QuestionAnswerSerializer,
        responses={200: s.ApplicationDetailSerializer, **ERRORS},
    )
)
class QuestionAnswerView(APIView):
    def post(self, request, pk, question_pk):
        ids_or_404(pk, question_pk)
        application = _application(request, pk)
        question = get_object_or_404(application.questions, pk=question_pk)
        body = s.QuestionAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.application_answer_question(
            application=application,
            actor=request.user,
            question=question,
            answer=body.validated_data["answer"],
        )
        return Response(_application_detail(request, pk))


# --- Quotes, the exclusion notice and the acknowledgement ------------------------------------


def _quotes_visible_to(user):
    return Quote.objects.filter(
        application__firm_id__in=_member_firm_ids(user),
        status__in=selectors_app.VISIBLE_QUOTE_STATUSES,
    ).select_related("application", "policy")


@extend_schema_view(
    get=extend_schema(
        tags=["quotes"],
        operation_id="applications_quotes_list",
        summary="The quotes of an application",
        responses={200: s.QuoteSerializer(many=True), 401: ERRORS[401], 404: ERRORS[404]},
    )
)
class ApplicationQuoteListView(generics.ListAPIView):
    serializer_class = s.QuoteSerializer

    def get_queryset(self):
        application = get_object_or_404(
            selectors_app.applications_visible_to(self.request.user), pk=self.kwargs["pk"]
        )
        return (
            _quotes_visible_to(self.request.user)
            .filter(application=application)
            .order_by("-created_at", "-id")
        )


def _quote(request, pk: int) -> Quote:
    return get_object_or_404(_quotes_visible_to(request.user), pk=pk)


@extend_schema_view(
    get=extend_schema(
        tags=["quotes"],
        operation_id="quotes_retrieve",
        summary="A quote",
        responses={200: s.QuoteSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
)
class QuoteDetailView(APIView):
    def get(self, request, pk):
        return Response(s.QuoteSerializer(_quote(request, pk)).data)


def _require_bindable(quote: Quote) -> None:
    """The notice is shown only for a quote that can still be accepted (as on the page)."""
    if quote.status != QuoteStatus.OFFERED:
        raise DomainError(_("This quote can no longer be accepted."), code="transition")
    if quote.valid_until < timezone.localdate():
        raise DomainError(_("This quote has expired. Ask for a new one."), code="expired")


@extend_schema_view(
    get=extend_schema(
        tags=["quotes"],
        operation_id="quotes_exclusion_notice",
        summary="The exclusion notice to acknowledge (Insurance Law art. 17)",
        description=(
            "Every exclusion of the quote — of the main clause, of each rider and the "
            "quote's special terms — with its plain-language explanation, the exact text, its "
            "SHA-256 and a signed token recording when it was shown. Acknowledge it no sooner "
            "than `min_seconds` later."
        ),
        responses={200: s.ExclusionNoticeSerializer, **ERRORS},
    )
)
class ExclusionNoticeView(APIView):
    def get(self, request, pk):
        quote = _quote(request, pk)
        _require_bindable(quote)
        notice = services.exclusion_notice(quote)
        product = quote.application.product
        max_instalments = max(product.max_instalments or 1, 1)
        today = timezone.localdate()
        data = {
            "quote": quote.pk,
            "quote_number": quote.number,
            "notice_version": NOTICE_VERSION,
            "clause_version": notice.clause_version_id,
            "items": [
                {
                    "key": item.key,
                    "kind": item.key.split("-", 1)[0],
                    "source": item.source,
                    "title": item.title,
                    "text": item.text,
                    "explanation": item.explanation,
                }
                for item in notice.items
            ],
            "text": notice.text,
            "text_sha256": notice.sha256,
            "token": services.notice_token(quote=quote, user=request.user, notice=notice),
            "min_seconds": int(getattr(settings, "EXCLUSION_NOTICE_MIN_SECONDS", 30)),
            "max_instalments": max_instalments,
            "instalment_plans": [
                {
                    "count": count,
                    "amounts": [
                        amount
                        for _due, amount in services.instalment_plan(quote.premium, count, today)
                    ],
                }
                for count in range(1, max_instalments + 1)
            ],
        }
        return Response(s.ExclusionNoticeSerializer(data).data)


def _policy_detail(request, pk: int):
    return s.PolicyDetailSerializer(selectors_app.policy_for_user(request.user, pk)).data


@extend_schema_view(
    post=extend_schema(
        tags=["quotes"],
        operation_id="quotes_acknowledgement",
        summary="Acknowledge every exclusion and accept the quote",
        description=(
            "Sends back the notice's token and SHA-256 with a tick for every item and the "
            "confirmation. The portal checks the text is the one shown, that the notice was open "
            "for the minimum reading time, every tick and the confirmation; it then records the "
            "acknowledgement, accepts the quote and creates the policy, awaiting payment."
        ),
        request=s.AcknowledgementSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.PolicyDetailSerializer, **IDEMPOTENT_ERRORS},
    )
)
class AcknowledgementView(APIView):
    @idempotent
    def post(self, request, pk):
        quote = _quote(request, pk)
        body = s.AcknowledgementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        policy = services.acknowledgement_record(
            quote=quote,
            actor=request.user,
            token=data["token"],
            text_sha256=data["text_sha256"],
            ticks=data["ticks"],
            confirmed=data["confirmed"],
            instalments=data["instalments"],
            # The address of the connection itself: a forwarded-for header can be forged.
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            channel="api",
        )
        return Response(_policy_detail(request, policy.pk), status=status.HTTP_201_CREATED)


# --- Policies ---------------------------------------------------------------------------------


def _policies_visible_to(user):
    return selectors_app.policies_visible_to(user).prefetch_related(
        Prefetch(
            "instalments",
            queryset=Instalment.objects.filter(status=InstalmentStatus.DUE).order_by("sequence"),
            to_attr="due_instalments",
        ),
        Prefetch(
            "documents",
            queryset=PolicyDocument.objects.filter(is_current=True),
            to_attr="current_documents",
        ),
    )


# What PolicySerializer shows.
_POLICY_LIST_FIELDS = (
    "id",
    "number",
    "status",
    "firm",
    "product",
    "start_date",
    "end_date",
    "premium",
    "sum_insured",
    "remaining_sum_insured",
    "created_at",
    "firm__name_zh",
    "firm__name_en",
    "product__code",
    "product__name_zh",
    "product__name_en",
)


@extend_schema_view(
    get=extend_schema(
        tags=["policies"],
        operation_id="policies_list",
        summary="Your firms' policies",
        parameters=[s.PolicyFilterSerializer],
        responses={200: s.PolicySerializer(many=True), 400: ERRORS[400], 401: ERRORS[401]},
    )
)
class PolicyListView(generics.ListAPIView):
    serializer_class = s.PolicySerializer

    def get_queryset(self):
        filters = _filters(s.PolicyFilterSerializer, self.request)
        # The list shows no terms (kilobytes of JSON a row), nor most of the product and firm.
        policies = (
            _policies_visible_to(self.request.user)
            .select_related("product", "firm")
            .only(*_POLICY_LIST_FIELDS)
        )
        if filters.get("status"):
            policies = policies.filter(status=filters["status"])
        if "firm" in filters:
            policies = policies.filter(firm_id=filters["firm"])
        return _ordered(
            policies,
            filters.get("ordering"),
            {"created": "created_at", "start": "start_date", "end": "end_date"},
            "-created",
        )


@extend_schema_view(
    get=extend_schema(
        tags=["policies"],
        operation_id="policies_retrieve",
        summary="A policy: terms, remaining sum insured, instalments, payments, document",
        responses={200: s.PolicyDetailSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
)
class PolicyDetailView(APIView):
    def get(self, request, pk):
        return Response(_policy_detail(request, pk))


class DocumentNotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"


class _JsonFirst(BaseContentNegotiation):
    """Errors are always JSON; the document itself is a file response, whatever the client
    accepts (``Accept: application/pdf`` must not end in 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    get=extend_schema(
        tags=["policies"],
        operation_id="policies_document",
        summary="The current policy document (PDF)",
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            401: ERRORS[401],
            404: ERRORS[404],
            409: OpenApiResponse(
                ErrorSerializer, description=gettext_lazy("The document is not ready yet.")
            ),
        },
    )
)
class PolicyDocumentView(APIView):
    content_negotiation_class = _JsonFirst

    def get(self, request, pk):
        policy = get_object_or_404(selectors_app.policies_visible_to(request.user), pk=pk)
        document = (
            PolicyDocument.objects.filter(policy=policy, is_current=True)
            .order_by("-version")
            .first()
        )
        if document is None or document.status != DocumentStatus.READY or not document.file:
            shown = document.get_status_display() if document else DocumentStatus.NONE.label
            raise DocumentNotReady(
                _("The policy document is not ready yet (%(status)s). Try again later.")
                % {"status": shown}
            )
        name = policy.number or f"policy-{policy.pk}"
        return stored_file_response(
            document.file.name,
            filename=f"{name}-v{document.version}.pdf",
            content_type="application/pdf",
        )


@extend_schema_view(
    post=extend_schema(
        tags=["policies"],
        operation_id="policies_pay",
        summary="Pay the next instalment (sandbox provider)",
        description=(
            "Pays the next instalment due through the sandbox payment provider, as its "
            "payment page does when the applicant chooses to pay: a one-time reference is "
            "issued for the instalment and completed. Nothing is charged anywhere. The first "
            "payment issues the policy. Only while the sandbox is the configured provider."
        ),
        request=s.PaySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.PaymentResultSerializer, **IDEMPOTENT_ERRORS},
    )
)
class PayView(APIView):
    @idempotent
    def post(self, request, pk):
        policy = get_object_or_404(selectors_app.policies_visible_to(request.user), pk=pk)
        body = s.PaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        provider = payment_provider()
        if not isinstance(provider, SandboxProvider):
            raise DomainError(
                _("Paying through the API is possible only with the sandbox payment provider."),
                code="provider",
            )
        next_due = (
            policy.instalments.filter(status=InstalmentStatus.DUE).order_by("sequence").first()
            if policy.status in PAYABLE
            else None
        )
        if next_due is None:
            raise DomainError(_("Nothing is due on this policy."), code="nothing_due")
        wanted = body.validated_data.get("instalment")
        if wanted is not None and wanted != next_due.sequence:
            raise DomainError(
                _("Instalment %(sequence)d is the next one due.") % {"sequence": next_due.sequence},
                code="instalment",
            )
        payment = provider.complete(provider.reference_for(next_due), policy=policy)
        data = {"payment": s.PaymentSerializer(payment).data, "policy": _policy_detail(request, pk)}
        return Response(data, status=status.HTTP_201_CREATED)


# --- Public verification ----------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        tags=["verification"],
        operation_id="policies_verify",
        summary="Check a policy by its number and verification code",
        description=(
            "Anyone may check that a policy exists and is valid. Only the product, the status, the "
            "period and the insured firm's name are given; any mismatch gets the same answer. "
            "Look-ups are limited per address, shared with the verification page."
        ),
        parameters=[s.VerifyQuerySerializer],
        responses={
            200: s.VerifyResultSerializer,
            400: ERRORS[400],
            429: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Too many look-ups.")),
        },
    )
)
class VerifyView(PublicMixin, APIView):
    def get(self, request):
        query = _query(s.VerifyQuerySerializer, request)
        if not _verify_allowed(request._request):
            raise exceptions.Throttled(
                detail=_("Too many look-ups from your address. Try again later.")
            )
        policy = services.policy_verify(query["number"], query["code"])
        found = None
        if policy is not None:
            public = _public_status(policy, timezone.localdate())
            found = {
                "number": policy.number,
                "product": policy.product.name,
                "status": public,
                "status_label": str(VERIFY_PUBLIC_STATUS[public]),
                "start_date": policy.start_date,
                "end_date": policy.end_date,
                "firm": policy.firm.name,
            }
        return Response(
            s.VerifyResultSerializer({"found": found is not None, "policy": found}).data
        )


urlpatterns = [
    path("products/", ProductListView.as_view(), name="products"),
    path("products/<str:code>/", ProductDetailView.as_view(), name="product"),
    path("products/<str:code>/premium/", PremiumView.as_view(), name="product-premium"),
    path("riders/", RiderListView.as_view(), name="riders"),
    path("assets/", AssetListView.as_view(), name="assets"),
    path("applications/", ApplicationListView.as_view(), name="applications"),
    path("applications/<int:pk>/", ApplicationDetailView.as_view(), name="application"),
    path("applications/<int:pk>/cover/", CoverView.as_view(), name="application-cover"),
    path(
        "applications/<int:pk>/valuation/<int:asset_id>/",
        ValuationView.as_view(),
        name="application-valuation",
    ),
    path("applications/<int:pk>/risk/", RiskView.as_view(), name="application-risk"),
    path(
        "applications/<int:pk>/questionnaires/",
        QuestionnairesView.as_view(),
        name="application-questionnaires",
    ),
    path("applications/<int:pk>/submit/", SubmitView.as_view(), name="application-submit"),
    path("applications/<int:pk>/withdraw/", WithdrawView.as_view(), name="application-withdraw"),
    path(
        "applications/<int:pk>/questions/<int:question_pk>/answer/",
        QuestionAnswerView.as_view(),
        name="application-question-answer",
    ),
    path(
        "applications/<int:pk>/quotes/",
        ApplicationQuoteListView.as_view(),
        name="application-quotes",
    ),
    path("quotes/<int:pk>/", QuoteDetailView.as_view(), name="quote"),
    path(
        "quotes/<int:pk>/exclusion-notice/",
        ExclusionNoticeView.as_view(),
        name="quote-exclusion-notice",
    ),
    path(
        "quotes/<int:pk>/acknowledgement/",
        AcknowledgementView.as_view(),
        name="quote-acknowledgement",
    ),
    path("policies/", PolicyListView.as_view(), name="policies"),
    path("policies/<int:pk>/", PolicyDetailView.as_view(), name="policy"),
    path("policies/<int:pk>/document/", PolicyDocumentView.as_view(), name="policy-document"),
    path("policies/<int:pk>/pay/", PayView.as_view(), name="policy-pay"),
    path("verify/", VerifyView.as_view(), name="verify"),
]
