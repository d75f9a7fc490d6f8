"""Serializers of the subsidies REST API (subsidies/api.py): the applicant's requests and the
officers' workspace.

Input serializers check shapes only; the services decide, and their refusals (a cap, the budget,
a status) reach the client with their code through ``portal.api.exception_handler``.
"""

import functools
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api import choice_labels, row_datetime, row_decimal, row_label
from portal.models import Membership
from subsidies import services
from subsidies.choices import BatchStatus, EligibilityOutcome, RequestStatus
from subsidies.forms import document_label
from subsidies.models import Programme, SubsidyRequest
from subsidies.presentation import eligibility_text
from underwriting.models import Policy, pick_language

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 5, "decimal_places": 2}
MAX_AMOUNT = Decimal("999999999999.99")
MAX_IDS = 500
# The largest id a BigAutoField holds: a larger one would overflow the database's integer.
MAX_ID = 2**63 - 1


def _absolute(context, url: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


# --- Shared pieces ----------------------------------------------------------------------------


class RequiredDocumentSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.SerializerMethodField()

    def get_label(self, item) -> str:
        return document_label(item)


class ProgrammeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    authority = serializers.CharField(source="authority.name")
    description = serializers.SerializerMethodField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    publication_days = serializers.IntegerField()
    required_documents = RequiredDocumentSerializer(many=True)

    def get_description(self, programme) -> str:
        return pick_language({"zh": programme.description_zh, "en": programme.description_en})


class EligibilityResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    outcome = serializers.ChoiceField(choices=EligibilityOutcome.choices)
    outcome_label = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()
    params = serializers.JSONField()

    def get_outcome_label(self, result) -> str:
        outcome = result.get("outcome")
        if outcome in EligibilityOutcome.values:
            return str(EligibilityOutcome(outcome).label)
        return str(outcome or "")

    def get_text(self, result) -> str:
        return eligibility_text(result)


class SubsidyEventSerializer(serializers.Serializer):
    code = serializers.CharField()
    at = serializers.DateTimeField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    params = serializers.JSONField()
    reason = serializers.CharField()


class SubsidyDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    original_name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    status = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    file_url = serializers.SerializerMethodField()

    # The applicant's download; the officer serializer points at the officer's.
    url_name = "api:subsidy-document-file"

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, document) -> str:
        url = reverse(self.url_name, kwargs={"pk": document.request_id, "document_pk": document.pk})
        return _absolute(self.context, url)


class OfficerDocumentSerializer(SubsidyDocumentSerializer):
    url_name = "api:officer-request-document-file"


def _eligibility(subsidy) -> list[dict]:
    if not subsidy.eligibility_checked_at:
        return []
    return list(subsidy.eligibility or [])


# --- The applicant ----------------------------------------------------------------------------


class ExistingRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)


class ProgrammeOfferSerializer(serializers.Serializer):
    """One row of ``subsidy_tags.offer_rows``: a programme that may subsidise the policy."""

    programme = ProgrammeSerializer()
    expected_amount = serializers.DecimalField(source="amount", **MONEY)
    by_rate = serializers.DecimalField(
        help_text=gettext_lazy("Premium paid × rate, before any cap."), **MONEY
    )
    rate = serializers.DecimalField(help_text=gettext_lazy("Percent of the premium paid."), **RATE)
    uplift_high_value = serializers.DecimalField(
        source="uplift", help_text=gettext_lazy("Points added for high-value patents."), **RATE
    )
    decided_by = serializers.ChoiceField(
        choices=["rate", "cap_per_item", "cap_per_policy", "cap_per_firm_year", "budget"],
        help_text=gettext_lazy("The limit that decided the expected amount."),
    )
    decided_text = serializers.CharField(
        help_text=gettext_lazy("What decided the amount, in words.")
    )
    capped = serializers.BooleanField()
    request = ExistingRequestSerializer(
        allow_null=True,
        help_text=gettext_lazy("The request already made under the programme, if any."),
    )


@extend_schema_field(OpenApiTypes.INT)
class ScopedPolicyField(serializers.PrimaryKeyRelatedField):
    """A policy of one of the requesting user's firms; any other id "does not exist"."""

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return Policy.objects.none()
        firms = Membership.objects.filter(user=user).values("firm_id")
        return Policy.objects.filter(firm_id__in=firms).select_related("product", "firm")


class SubsidyRequestCreateSerializer(serializers.Serializer):
    policy = ScopedPolicyField(help_text=gettext_lazy("Id of a paid policy of one of your firms."))
    programme = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Programme.objects.select_related("authority"),
        help_text=gettext_lazy("The programme's code."),
    )
    high_value = serializers.BooleanField(
        required=False,
        default=False,
        help_text=gettext_lazy("The insured patents are high-value patents."),
    )


class SubsidyDocumentUploadSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=40,
        help_text=gettext_lazy('A code of the programme\'s required documents, or "other".'),
    )
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class SubsidyAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)


class SubsidyRequestListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    policy = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=gettext_lazy("Policy id.")
    )


class SubsidyRequestSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    programme = serializers.CharField(source="programme.code")
    programme_name = serializers.CharField(source="programme.name")
    policy = serializers.IntegerField(source="policy_id")
    policy_number = serializers.CharField(source="policy.number", allow_null=True)
    year = serializers.IntegerField()
    expected_amount = serializers.DecimalField(**MONEY)
    approved_amount = serializers.DecimalField(allow_null=True, **MONEY)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, subsidy) -> str:
        return _absolute(self.context, reverse("api:subsidy-detail", kwargs={"pk": subsidy.pk}))


class SubsidyAmountsSerializer(serializers.Serializer):
    premium_paid = serializers.DecimalField(**MONEY)
    rate = serializers.DecimalField(**RATE)
    expected = serializers.DecimalField(source="expected_amount", **MONEY)
    approved = serializers.DecimalField(source="approved_amount", allow_null=True, **MONEY)
    clawed_back = serializers.DecimalField(source="clawed_back_amount", allow_null=True, **MONEY)


class SubsidyRequestDetailSerializer(SubsidyRequestSummarySerializer):
    """What the request page shows. Expects a request from ``request_detail_for_user``."""

    high_value = serializers.BooleanField()
    amounts = SubsidyAmountsSerializer(source="*")
    decided_at = serializers.DateTimeField(allow_null=True)
    reasons = serializers.CharField()
    publication_starts = serializers.DateField(allow_null=True)
    publication_ends = serializers.DateField(allow_null=True)
    accepts_documents = serializers.SerializerMethodField()
    required_documents = RequiredDocumentSerializer(
        many=True, source="programme.required_documents"
    )
    missing_documents = serializers.SerializerMethodField()
    documents = SubsidyDocumentSerializer(many=True, source="documents.all")
    eligibility_outcome = serializers.CharField()
    eligibility = serializers.SerializerMethodField(
        help_text=gettext_lazy("The automatic pre-check, once it has run.")
    )
    question = serializers.SerializerMethodField(
        help_text=gettext_lazy("The officer's question waiting for your answer, if any.")
    )
    timeline = serializers.SerializerMethodField(
        help_text=gettext_lazy("Public events, oldest first.")
    )

    def get_accepts_documents(self, subsidy) -> bool:
        return subsidy.status in services.APPLICANT_OPEN

    @extend_schema_field(RequiredDocumentSerializer(many=True))
    def get_missing_documents(self, subsidy):
        have = {document.code for document in subsidy.documents.all()}
        missing = [d for d in subsidy.programme.required_documents or [] if d["code"] not in have]
        return RequiredDocumentSerializer(missing, many=True).data

    @extend_schema_field(EligibilityResultSerializer(many=True))
    def get_eligibility(self, subsidy):
        return EligibilityResultSerializer(_eligibility(subsidy), many=True).data

    def get_question(self, subsidy) -> str | None:
        if subsidy.status != RequestStatus.RETURNED:
            return None
        returned = [e for e in _events(subsidy) if e.code == "returned"]
        return returned[-1].reason if returned else None

    @extend_schema_field(SubsidyEventSerializer(many=True))
    def get_timeline(self, subsidy):
        return SubsidyEventSerializer([e for e in _events(subsidy) if e.public], many=True).data


def _events(subsidy):
    events = getattr(subsidy, "timeline_events", None)
    if events is None:
        events = list(subsidy.events.order_by("at", "id"))
    return events


# --- The officer ------------------------------------------------------------------------------

ALL_STATUSES = "all"
ACTIONS = ("approve", "reject", "return")


class OfficerQueueQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[ALL_STATUSES, *RequestStatus.values],
        required=False,
        help_text=gettext_lazy(
            'Default: waiting for a decision (submitted, under review); "all" for any.'
        ),
    )
    programme = serializers.CharField(
        required=False, max_length=40, help_text=gettext_lazy("Programme code (or id).")
    )
    eligibility = serializers.ChoiceField(choices=EligibilityOutcome.choices, required=False)
    q = serializers.CharField(
        required=False, max_length=100, help_text=gettext_lazy("Request number, firm name or USCC.")
    )
    ordering = serializers.ChoiceField(
        choices=["submitted_at", "-submitted_at"], required=False, default="submitted_at"
    )


class FirmSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    uscc = serializers.CharField()
    region_code = serializers.CharField()


class OfficerRequestSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    programme = serializers.CharField(source="programme.code")
    firm = FirmSerializer()
    policy = serializers.IntegerField(source="policy_id")
    policy_number = serializers.CharField(source="policy.number", allow_null=True)
    product = serializers.CharField(source="policy.product.code")
    year = serializers.IntegerField()
    premium_paid = serializers.DecimalField(**MONEY)
    expected_amount = serializers.DecimalField(**MONEY)
    approved_amount = serializers.DecimalField(allow_null=True, **MONEY)
    eligibility_outcome = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    batch = serializers.IntegerField(source="batch_id", allow_null=True)
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, subsidy) -> str:
        url = reverse("api:officer-request-detail", kwargs={"pk": subsidy.pk})
        return _absolute(self.context, url)

    # The child of a list serializer is one instance for every row: these run once per list.
    @functools.cached_property
    def _status_labels(self) -> dict:
        return choice_labels(SubsidyRequest, "status")

    @functools.cached_property
    def _url_pattern(self) -> tuple[str, str]:
        # A placeholder id that no other part of the address can contain.
        placeholder = str(MAX_ID)
        url = reverse("api:officer-request-detail", kwargs={"pk": placeholder})
        return _absolute(self.context, url), placeholder

    def to_representation(self, subsidy):
        """The fields above, written out (see portal/api.py, "List rows"); the list reads only
        these columns (``selectors.officer_request_list``)."""
        firm, policy = subsidy.firm, subsidy.policy
        url, placeholder = self._url_pattern
        return {
            "id": subsidy.id,
            "number": subsidy.number,
            "status": subsidy.status,
            "status_label": row_label(self._status_labels, subsidy.status),
            "programme": subsidy.programme.code,
            "firm": {
                "id": firm.id,
                "name": firm.name,
                "uscc": firm.uscc,
                "region_code": firm.region_code,
            },
            "policy": subsidy.policy_id,
            "policy_number": policy.number,
            "product": policy.product.code,
            "year": subsidy.year,
            "premium_paid": row_decimal(subsidy.premium_paid, **MONEY),
            "expected_amount": row_decimal(subsidy.expected_amount, **MONEY),
            "approved_amount": row_decimal(subsidy.approved_amount, **MONEY),
            "eligibility_outcome": subsidy.eligibility_outcome,
            "submitted_at": row_datetime(subsidy.submitted_at),
            "batch": subsidy.batch_id,
            "url": url.replace(placeholder, str(subsidy.pk)),
        }


class LimitSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    value = serializers.DecimalField(**MONEY)
    decides = serializers.BooleanField()


class BreakdownSerializer(serializers.Serializer):
    most = serializers.DecimalField(
        help_text=gettext_lazy("The most that may be approved now."), **MONEY
    )
    decided_by = serializers.CharField()
    limits = LimitSerializer(many=True, source="rows")
    budget_left = serializers.DecimalField(**MONEY)
    used_this_year = serializers.DecimalField(
        help_text=gettext_lazy("Granted to the firm under the programme this year."), **MONEY
    )


class OfficerEventSerializer(SubsidyEventSerializer):
    public = serializers.BooleanField()
    actor = serializers.CharField(source="actor.email", allow_null=True, default=None)


class ObjectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    request = serializers.IntegerField(source="request_id")
    raised_by = serializers.CharField()
    text = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class OfficerRequestDetailSerializer(OfficerRequestSummarySerializer):
    """The officer's request page. The view passes ``breakdown`` and ``actions`` in the
    context (``officer_views._breakdown`` / ``_allowed_actions``)."""

    # One request, mostly nested: DRF's own field by field walk.
    to_representation = serializers.Serializer.to_representation

    qualifications = serializers.ListField(
        source="firm.qualifications", child=serializers.CharField()
    )
    high_value = serializers.BooleanField()
    renewal = serializers.BooleanField()
    single_champion = serializers.BooleanField()
    items = serializers.IntegerField(help_text=gettext_lazy("Insured rights on the policy."))
    rate = serializers.DecimalField(**RATE)
    clawed_back_amount = serializers.DecimalField(allow_null=True, **MONEY)
    decided_at = serializers.DateTimeField(allow_null=True)
    reasons = serializers.CharField()
    publication_starts = serializers.DateField(allow_null=True)
    publication_ends = serializers.DateField(allow_null=True)
    eligibility = serializers.SerializerMethodField()
    breakdown = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "What may be done now: approve, reject, return, publish, objection, claw_back."
        )
    )
    documents = OfficerDocumentSerializer(many=True, source="documents.all")
    objections = ObjectionSerializer(many=True, source="objections.all")
    timeline = OfficerEventSerializer(many=True, source="events.all")

    @extend_schema_field(EligibilityResultSerializer(many=True))
    def get_eligibility(self, subsidy):
        return EligibilityResultSerializer(_eligibility(subsidy), many=True).data

    @extend_schema_field(BreakdownSerializer)
    def get_breakdown(self, subsidy):
        breakdown = self.context.get("breakdown")
        return BreakdownSerializer(breakdown).data if breakdown else None

    def get_allowed_actions(self, subsidy) -> list[str]:
        return sorted(self.context.get("actions") or ())


class DecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ACTIONS)
    amount = serializers.DecimalField(
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        help_text=gettext_lazy("For approve: at most the breakdown's `most`; empty approves that."),
        **MONEY,
    )
    reasons = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        help_text=gettext_lazy("For reject; the firm sees them."),
    )
    question = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, help_text=gettext_lazy("For return.")
    )

    def validate(self, attrs):
        action = attrs["action"]
        if action == "reject" and not (attrs.get("reasons") or "").strip():
            raise serializers.ValidationError(
                {"reasons": gettext("A rejection must give its reasons.")}
            )
        if action == "return" and not (attrs.get("question") or "").strip():
            raise serializers.ValidationError(
                {"question": gettext("Write what the firm should add or explain.")}
            )
        return attrs


class ApproveManySerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_IDS,
    )


class ApproveManyResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    approved = serializers.BooleanField()
    amount = serializers.DecimalField(allow_null=True, **MONEY)
    message = serializers.CharField(help_text=gettext_lazy("Why it was not approved."))


class ApproveManyResponseSerializer(serializers.Serializer):
    results = ApproveManyResultSerializer(many=True)
    not_found = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=gettext_lazy("Ids that are not your authority's requests."),
    )


class ObjectionCreateSerializer(serializers.Serializer):
    raised_by = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=4000)


class BatchCreateSerializer(serializers.Serializer):
    request_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_IDS,
    )


class BatchPaidSerializer(serializers.Serializer):
    reference = serializers.CharField(
        max_length=100, help_text=gettext_lazy("The treasury's payment reference.")
    )
    paid_on = serializers.DateField(
        required=False, allow_null=True, help_text=gettext_lazy("Leave out for today.")
    )

    def validate_paid_on(self, paid_on):
        today = timezone.localdate()
        if paid_on and paid_on > today:
            raise serializers.ValidationError(gettext("The payment date cannot be in the future."))
        if paid_on and paid_on < today - timedelta(days=366):
            raise serializers.ValidationError(gettext("The payment date is more than a year ago."))
        return paid_on


class BatchRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    programme = serializers.CharField(source="programme.code")
    firm = serializers.CharField(source="firm.name")
    approved_amount = serializers.DecimalField(allow_null=True, **MONEY)


class BatchSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.email")
    payment_reference = serializers.CharField()
    paid_on = serializers.DateField(allow_null=True)
    request_count = serializers.IntegerField()
    total = serializers.DecimalField(**MONEY)
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, batch) -> str:
        return _absolute(self.context, reverse("api:officer-batch-detail", kwargs={"pk": batch.pk}))


class BatchDetailSerializer(BatchSummarySerializer):
    requests = BatchRequestSerializer(many=True, source="request_list")
