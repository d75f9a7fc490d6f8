"""Request and response bodies of the underwriting API (``underwriting/api.py``).

Every body is described here so that the OpenAPI schema documents it. Texts of the wording
(covered causes, exclusions, questions ...) are given in both languages, ``{"zh": ..., "en": ...}``;
names also come in the request's language (``name``). Money and rates are decimal strings.
"""

import functools
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api import (
    choice_labels,
    row_date,
    row_datetime,
    row_decimal,
    row_label,
    row_strings,
)
from portal.choices import AssetKind, LegalStatus
from portal.forms import ASSET_FIELDS, IPAssetForm
from portal.models import Firm, IPAsset, Membership
from underwriting.choices import (
    ApplicationStatus,
    ClauseStatus,
    FunctionClass,
    LiabilityClass,
    PolicyStatus,
    ProductStatus,
    QuoteStatus,
)
from underwriting.models import (
    Application,
    ApplicationAsset,
    ClauseVersion,
    CoefficientOption,
    CoefficientTable,
    Instalment,
    Payment,
    Policy,
    PolicyDocument,
    Product,
    ProductInsurer,
    Quote,
    RatingSection,
    Rider,
)

# Ids are big integers: a filter beyond them is invalid input, not a database overflow.
ID_MAX = 2**63 - 1


def Id(**kwargs):  # noqa: N802
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)


def Money(**kwargs):  # noqa: N802 - reads like a field class
    """An amount in CNY, as a decimal string with two places."""
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def Figure(**kwargs):  # noqa: N802
    """A rate, factor or limit as stored: a decimal string of any precision."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, **kwargs)


def bilingual(value) -> dict:
    if isinstance(value, dict):
        return {"zh": value.get("zh") or "", "en": value.get("en") or ""}
    return {"zh": "" if value is None else str(value), "en": ""}


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A number from a questionnaire definition, passed through as it is stored."""

    def to_representation(self, value):
        return value


class BilingualTextSerializer(serializers.Serializer):
    zh = serializers.CharField(allow_blank=True)
    en = serializers.CharField(allow_blank=True)


# --- Catalogue --------------------------------------------------------------------------------


class InsurerShareSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="insurer.code")
    name = serializers.CharField(source="insurer.name")
    share = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text=_("Co-insurance share in percent; empty when not co-insured."),
    )

    class Meta:
        model = ProductInsurer
        fields = ["code", "name", "share"]


class ProductSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    summary = serializers.CharField(read_only=True)
    ip_types = serializers.ListField(child=serializers.ChoiceField(choices=AssetKind.choices))
    insurers = InsurerShareSerializer(source="insurer_shares", many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "code",
            "name",
            "name_zh",
            "name_en",
            "summary",
            "summary_zh",
            "summary_en",
            "liability_class",
            "function_class",
            "ip_types",
            "party",
            "insurers",
            "max_instalments",
            "value_cap_percent",
        ]


class CoveredCauseSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text=_("The number a claim names as its cause."))
    title = BilingualTextSerializer()
    text = BilingualTextSerializer()


class ExclusionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    title = BilingualTextSerializer()
    text = BilingualTextSerializer(help_text=_("The clause wording."))
    explanation = BilingualTextSerializer(help_text=_("The plain-language explanation."))


class ClauseClaimDocumentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = BilingualTextSerializer()
    required = serializers.BooleanField()


class ClauseVersionSerializer(serializers.Serializer):
    """A published wording: what is covered, what is excluded and what a claim needs."""

    id = serializers.IntegerField()
    number = serializers.IntegerField()
    label = serializers.CharField()
    effective_date = serializers.DateField()
    text_sha256 = serializers.CharField()
    insured_object = BilingualTextSerializer()
    covered_causes = CoveredCauseSerializer(many=True)
    exclusions = ExclusionSerializer(many=True)
    obligations = BilingualTextSerializer(many=True)
    claim_documents = ClauseClaimDocumentSerializer(many=True)
    deductible_rules = BilingualTextSerializer()
    short_rate_table = serializers.ListField(
        child=serializers.FloatField(),
        help_text=_("Percent of the annual premium kept by months elapsed (1 to 12)."),
    )
    minimum_premium = Money()

    def to_representation(self, version: ClauseVersion):
        def numbered(items, keys):
            return [
                {"number": number, **{key: bilingual(item.get(key)) for key in keys}}
                for number, item in enumerate(items or [], start=1)
            ]

        data = {
            "id": version.pk,
            "number": version.number,
            "label": version.label,
            "effective_date": version.effective_date,
            "text_sha256": version.text_sha256,
            "insured_object": bilingual(version.insured_object),
            "covered_causes": numbered(version.covered_causes, ("title", "text")),
            "exclusions": numbered(version.exclusions, ("title", "text", "explanation")),
            "obligations": [bilingual(item) for item in version.obligations or []],
            "claim_documents": [
                {
                    "code": item.get("code") or "",
                    "name": bilingual(item),
                    "required": bool(item.get("required")),
                }
                for item in version.claim_documents or []
            ],
            "deductible_rules": bilingual(version.deductible_rules),
            "short_rate_table": list(version.short_rate_table or []),
            "minimum_premium": version.minimum_premium,
        }
        return super().to_representation(data)


class RatingSectionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    base_rate = Figure()
    limit_options = serializers.ListField(
        child=Figure(),
        help_text=_("The limits on offer; empty when any limit may be given."),
    )

    class Meta:
        model = RatingSection
        fields = ["code", "name", "name_zh", "name_en", "base_rate", "per_item", "limit_options"]


class CoefficientOptionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)
    factor = Figure()
    lower = Figure(allow_null=True)
    upper = Figure(allow_null=True)
    default = serializers.BooleanField(source="is_default")

    class Meta:
        model = CoefficientOption
        fields = ["code", "label", "label_zh", "label_en", "factor", "lower", "upper", "default"]


class CoefficientTableSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    applies_to = serializers.ListField(
        child=serializers.CharField(), help_text=_("Section codes; empty: every section.")
    )
    input = serializers.CharField(
        source="input_key",
        help_text=_("The risk answer that selects the option, when there is one."),
    )
    options = CoefficientOptionSerializer(many=True)

    class Meta:
        model = CoefficientTable
        fields = ["code", "name", "name_zh", "name_en", "applies_to", "input", "options"]


class OfferedRiderSerializer(serializers.Serializer):
    code = serializers.CharField(source="rider.code")
    name = serializers.CharField(source="rider.name")
    summary = serializers.CharField(source="rider.summary")
    factor = Figure(help_text=_("The factor the rider puts on the main premium."))


class RatingSerializer(serializers.Serializer):
    """What the indicative premium calculator asks for."""

    sections = RatingSectionSerializer(source="rating_sections", many=True)
    coefficient_tables = CoefficientTableSerializer(many=True)
    riders = OfferedRiderSerializer(source="rider_factors", many=True)
    minimum_premium = Money()


class ProductDetailSerializer(ProductSerializer):
    clause_version = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "clause_version", "rating"]

    def _version(self):
        return self.context.get("version")

    @extend_schema_field(ClauseVersionSerializer(allow_null=True))
    def get_clause_version(self, product):
        version = self._version()
        return ClauseVersionSerializer(version).data if version is not None else None

    @extend_schema_field(RatingSerializer(allow_null=True))
    def get_rating(self, product):
        version = self._version()
        return RatingSerializer(version).data if version is not None else None


class RiderSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    summary = serializers.CharField(read_only=True)
    main_products = serializers.SerializerMethodField()
    insurers = serializers.SerializerMethodField()
    clause_version = serializers.SerializerMethodField()

    class Meta:
        model = Rider
        fields = [
            "code",
            "name",
            "name_zh",
            "name_en",
            "summary",
            "main_products",
            "insurers",
            "clause_version",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_main_products(self, rider):
        return [p.code for p in rider.main_products.all() if p.status == ProductStatus.PUBLISHED]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_insurers(self, rider):
        return [insurer.code for insurer in rider.insurers.all()]

    @extend_schema_field(ClauseVersionSerializer(allow_null=True))
    def get_clause_version(self, rider):
        versions = getattr(rider, "published_versions", None)
        if versions is None:
            versions = list(
                rider.clause_versions.filter(status=ClauseStatus.PUBLISHED).order_by("-number")[:1]
            )
        return ClauseVersionSerializer(versions[0]).data if versions else None


# --- Indicative premium -----------------------------------------------------------------------


class PremiumRequestSerializer(serializers.Serializer):
    limits = serializers.DictField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2, min_value=Decimal("0")),
        allow_empty=False,
        help_text=_(
            "Limit per rating section code; a section left out is not included. Where the "
            "section offers limits, one of them."
        ),
    )
    item_count = serializers.IntegerField(
        min_value=1,
        max_value=10000,
        default=1,
        help_text=_("Number of insured rights, for sections priced per right."),
    )
    choices = serializers.DictField(
        child=serializers.CharField(),
        default=dict,
        help_text=_("Option code per coefficient table; a table left out uses its default."),
    )
    riders = serializers.ListField(
        child=serializers.CharField(), default=list, help_text=_("Rider codes to add.")
    )


class BreakdownCoefficientSerializer(serializers.Serializer):
    table = serializers.CharField()
    table_name = BilingualTextSerializer()
    option = serializers.CharField()
    option_label = BilingualTextSerializer()
    factor = Figure()


class BreakdownSectionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = BilingualTextSerializer()
    limit = Figure()
    base_rate = Figure()
    count = serializers.IntegerField()
    coefficients = BreakdownCoefficientSerializer(many=True)
    coefficient_product = Figure()
    premium = Money()


class BreakdownRiderSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = BilingualTextSerializer()
    factor = Figure()


class PremiumBreakdownSerializer(serializers.Serializer):
    """How the premium was reached: Σ sections (limit × rate × count × coefficients), × riders,
    then the minimum premium."""

    sections = BreakdownSectionSerializer(many=True)
    sections_total = Money()
    riders = BreakdownRiderSerializer(many=True)
    rider_product = Figure()
    after_riders = Money()
    minimum_premium = Money()
    minimum_applied = serializers.BooleanField()
    total = Money()


class ClauseVersionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClauseVersion
        fields = ["id", "number", "label", "text_sha256"]


class PremiumResponseSerializer(serializers.Serializer):
    product = serializers.CharField()
    clause_version = ClauseVersionRefSerializer()
    currency = serializers.CharField()
    premium = Money()
    breakdown = PremiumBreakdownSerializer()


# --- IP assets --------------------------------------------------------------------------------


def member_firms(user):
    return Firm.objects.filter(
        pk__in=Membership.objects.filter(user=user).values("firm_id")
    ).order_by("pk")


@extend_schema_field(OpenApiTypes.INT)
class _MemberFirmField(serializers.PrimaryKeyRelatedField):
    """A firm of the requesting user, by id."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return Firm.objects.none()
        return member_firms(request.user)


ASSET_INPUT_FIELDS = sorted({name for names in ASSET_FIELDS.values() for name in names})


class IPAssetSerializer(serializers.ModelSerializer):
    """One IP right of a firm. Which fields apply depends on ``kind``, as on the asset form:
    a patent takes its type from the number, its expiry from the filing date."""

    firm = _MemberFirmField(help_text=_("A firm you are a member of."))
    family_countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False
    )
    nice_classes = serializers.ListField(child=serializers.IntegerField(), required=False)

    class Meta:
        model = IPAsset
        fields = [
            "id",
            "firm",
            "kind",
            "number",
            "title",
            "patent_type",
            "filing_date",
            "grant_date",
            "expiry_date",
            "claim_count",
            "legal_status",
            "family_countries",
            "licences_granted",
            "nice_classes",
            "work_kind",
            "description",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        # Duplicate numbers are refused by the service, as on the asset form; DRF's generated
        # unique-together validator would make the number required for every kind.
        validators = []

    def validate(self, attrs):
        """The asset form's rules, for the fields of the chosen kind."""
        kind = attrs["kind"]
        wanted = ASSET_FIELDS[kind]
        stray = sorted(
            name for name in self.initial_data if name in ASSET_INPUT_FIELDS and name not in wanted
        )
        if stray:
            raise serializers.ValidationError(
                {
                    name: [
                        _("This field does not apply to a %(kind)s.")
                        % {"kind": AssetKind(kind).label}
                    ]
                    for name in stray
                }
            )
        data = {}
        for name in wanted:
            if name not in attrs or attrs[name] is None:
                continue
            value = attrs[name]
            data[name] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if "legal_status" in wanted:
            data.setdefault("legal_status", LegalStatus.GRANTED)
        if "licences_granted" in wanted:
            data.setdefault("licences_granted", "0")
        form = IPAssetForm(data, kind=kind, instance=IPAsset(firm=attrs["firm"], kind=kind))
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): [str(m) for m in messages]
                    for name, messages in form.errors.items()
                }
            )
        return {"firm": attrs["firm"], "kind": kind, **form.cleaned_data}


class AssetFilterSerializer(serializers.Serializer):
    firm = Id(required=False, help_text=_("Only this firm's rights."))
    kind = serializers.ChoiceField(choices=AssetKind.choices, required=False)


# --- Applications -----------------------------------------------------------------------------


class ApplicationCreateSerializer(serializers.Serializer):
    firm = _MemberFirmField(help_text=_("The firm applying: one you are a member of."))
    product = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Product.objects.filter(status=ProductStatus.PUBLISHED),
        help_text=_("The code of a published product."),
    )


class ApplicationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ApplicationStatus.choices, required=False)
    product = serializers.CharField(required=False, help_text=_("Product code."))
    firm = Id(required=False)
    ordering = serializers.ChoiceField(
        choices=["created", "-created", "updated", "-updated"], required=False
    )


class ApplicationSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    firm = serializers.IntegerField(source="firm_id")
    firm_name = serializers.CharField(source="firm.name")
    product = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    status_label = serializers.CharField(source="get_status_display")
    riders = serializers.ListField(source="rider_codes", child=serializers.CharField())
    sum_insured = Money()
    live_quote = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "reference",
            "firm",
            "firm_name",
            "product",
            "product_name",
            "status",
            "status_label",
            "sum_insured",
            "riders",
            "wished_start",
            "live_quote",
            "submitted_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_live_quote(self, application):
        """The offered or accepted quote, if any."""
        if hasattr(application, "live_quote_pk"):  # annotated by the list's queryset
            return application.live_quote_pk
        quotes = [
            q
            for q in getattr(application, "visible_quotes", None) or []
            if q.status in (QuoteStatus.OFFERED, QuoteStatus.ACCEPTED)
        ]
        return quotes[0].pk if quotes else None

    @functools.cached_property
    def _status_labels(self) -> dict:
        # The child of a list serializer is one instance for every row: once per list.
        return choice_labels(Application, "status")

    def to_representation(self, application):
        """The fields above, written out (see portal/api.py, "List rows")."""
        return {
            "id": application.id,
            "reference": application.reference,
            "firm": application.firm_id,
            "firm_name": application.firm.name,
            "product": application.product.code,
            "product_name": application.product.name,
            "status": application.status,
            "status_label": row_label(self._status_labels, application.status),
            "sum_insured": row_decimal(application.sum_insured, 16, 2),
            "riders": row_strings(application.rider_codes),
            "wished_start": row_date(application.wished_start),
            "live_quote": self.get_live_quote(application),
            "submitted_at": row_datetime(application.submitted_at),
            "created_at": row_datetime(application.created_at),
            "updated_at": row_datetime(application.updated_at),
        }


class StepSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("cover, valuation-<asset id>, risk, review"))
    title = serializers.CharField()
    done = serializers.BooleanField()
    asset = serializers.IntegerField(allow_null=True, help_text=_("For a valuation step."))


class InsuredAssetSerializer(serializers.ModelSerializer):
    asset = serializers.IntegerField(source="asset_id")
    kind = serializers.CharField(source="asset.kind")
    number = serializers.CharField(source="asset.number")
    title = serializers.CharField(source="asset.title")
    valuation_answers = serializers.DictField(child=serializers.JSONField())
    valuation = serializers.DictField(
        child=serializers.JSONField(), help_text=_("The valuation, once submitted.")
    )

    class Meta:
        model = ApplicationAsset
        fields = ["asset", "kind", "number", "title", "valuation_answers", "valuation"]


class RuleResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    outcome = serializers.CharField()
    reason = BilingualTextSerializer()


class TimelineEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class UnderwriterQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    asked_at = serializers.DateTimeField()
    answer = serializers.CharField(allow_blank=True)
    answered_at = serializers.DateTimeField(allow_null=True)


class QuoteSummarySerializer(serializers.ModelSerializer):
    premium = Money()

    class Meta:
        model = Quote
        fields = ["id", "number", "status", "premium", "valid_until", "created_at"]


class ApplicationDetailSerializer(ApplicationSerializer):
    clause_version = ClauseVersionRefSerializer()
    steps = serializers.SerializerMethodField()
    limits = serializers.DictField(child=Figure(), help_text=_("Limit per section code."))
    deductible = serializers.CharField(allow_blank=True)
    assets = InsuredAssetSerializer(source="insured_assets", many=True)
    risk_answers = serializers.DictField(child=serializers.JSONField())
    valuation = serializers.DictField(child=serializers.JSONField())
    rating = serializers.DictField(
        child=serializers.JSONField(),
        help_text=_("The premium breakdown worked out on submission, or the problems met."),
    )
    rule_results = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()
    quotes = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()

    class Meta(ApplicationSerializer.Meta):
        fields = [
            *ApplicationSerializer.Meta.fields,
            "clause_version",
            "completed_steps",
            "steps",
            "limits",
            "deductible",
            "assets",
            "risk_answers",
            "declared_at",
            "answers_sha256",
            "valuation",
            "rating",
            "rule_results",
            "timeline",
            "questions",
            "quotes",
            "policy",
        ]

    # One application, mostly nested: DRF's own field by field walk.
    to_representation = serializers.ModelSerializer.to_representation

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, application):
        from underwriting import services

        steps = services.application_steps(application, list(application.insured_assets.all()))
        return [
            {
                "key": step["key"],
                "title": str(step["title"]),
                "done": step["done"],
                "asset": step["asset"].asset_id if step["asset"] else None,
            }
            for step in steps
        ]

    @extend_schema_field(RuleResultSerializer(many=True))
    def get_rule_results(self, application):
        return [
            {
                "code": hit.get("code") or "",
                "outcome": hit.get("outcome") or "",
                "reason": bilingual(hit.get("reason")),
            }
            for hit in application.rule_results or []
        ]

    @extend_schema_field(TimelineEventSerializer(many=True))
    def get_timeline(self, application):
        from underwriting.views_app import _actor_name

        rows = [
            {
                "at": event.at,
                "actor": str(_actor_name(event.actor)),
                "from_status": event.from_status,
                "to_status": event.to_status,
                "reason": event.reason,
            }
            for event in getattr(application, "timeline", [])
        ]
        return TimelineEventSerializer(rows, many=True).data

    @extend_schema_field(UnderwriterQuestionSerializer(many=True))
    def get_questions(self, application):
        return UnderwriterQuestionSerializer(
            getattr(application, "underwriter_questions", []), many=True
        ).data

    @extend_schema_field(QuoteSummarySerializer(many=True))
    def get_quotes(self, application):
        return QuoteSummarySerializer(getattr(application, "visible_quotes", []), many=True).data

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_policy(self, application):
        return self.context.get("policy_id")


class CoverSerializer(serializers.Serializer):
    assets = serializers.ListField(
        child=Id(),
        help_text=_("Ids of the firm's IP assets to insure (see /assets/)."),
    )
    limits = serializers.DictField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2),
        help_text=_("Limit per rating section code, one of the limits on offer."),
    )
    deductible = serializers.CharField(
        allow_blank=True, default="", help_text=_("Option code of the deductible table.")
    )
    riders = serializers.ListField(child=serializers.CharField(), default=list)
    wished_start = serializers.DateField(help_text=_("From today up to 180 days ahead."))


class AnswersSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.JSONField(),
        help_text=_(
            "Answer per question code (see questionnaires/): option codes, numbers, booleans, "
            "text, lists for multiple choice."
        ),
    )
    complete = serializers.BooleanField(
        default=True,
        help_text=_("False keeps the answers as they are, unchecked, without completing the step."),
    )


class QuestionOptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = BilingualTextSerializer()


class ShowIfSerializer(serializers.Serializer):
    question = serializers.CharField()
    equals = serializers.JSONField()


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["choice", "multi", "number", "integer", "boolean", "text", "date"]
    )
    label = BilingualTextSerializer()
    help = BilingualTextSerializer(required=False)
    group = BilingualTextSerializer(required=False)
    options = QuestionOptionSerializer(many=True, required=False)
    min = NumberField(required=False)
    max = NumberField(required=False)
    unit = BilingualTextSerializer(required=False)
    required = serializers.BooleanField(default=True)
    show_if = ShowIfSerializer(
        required=False, help_text=_("Asked (and then required) only when the answer matches.")
    )


class ValuationTargetSerializer(serializers.Serializer):
    asset = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    done = serializers.BooleanField()
    answers = serializers.DictField(child=serializers.JSONField())


class QuestionnaireSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    questions = QuestionSerializer(many=True)


class ValuationQuestionnaireSerializer(QuestionnaireSerializer):
    assets = ValuationTargetSerializer(
        many=True, help_text=_("The insured patents to answer it for, one by one.")
    )


class RiskQuestionnaireSerializer(QuestionnaireSerializer):
    done = serializers.BooleanField()
    answers = serializers.DictField(child=serializers.JSONField())


class QuestionnairesSerializer(serializers.Serializer):
    steps = StepSerializer(many=True)
    valuation = ValuationQuestionnaireSerializer(allow_null=True)
    risk = RiskQuestionnaireSerializer(allow_null=True)


class SubmitSerializer(serializers.Serializer):
    declaration = serializers.BooleanField(
        help_text=_("True: the answers are true and complete (Insurance Law art. 16).")
    )


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="", max_length=1000)


class QuestionAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)


# --- Quotes, the exclusion notice and the acknowledgement ------------------------------------


class SpecialExclusionSerializer(serializers.Serializer):
    title = BilingualTextSerializer()
    text = BilingualTextSerializer()
    explanation = BilingualTextSerializer()


class QuoteSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    limits = serializers.DictField(child=Figure())
    riders = serializers.ListField(source="rider_codes", child=serializers.CharField())
    sum_insured = Money()
    technical_premium = Money()
    adjustment_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    premium = Money()
    currency = serializers.SerializerMethodField()
    breakdown = PremiumBreakdownSerializer()
    special_exclusions = serializers.SerializerMethodField()
    can_accept = serializers.SerializerMethodField()
    policy = serializers.IntegerField(source="policy.pk", allow_null=True, read_only=True)

    class Meta:
        model = Quote
        fields = [
            "id",
            "number",
            "application",
            "status",
            "status_label",
            "limits",
            "deductible",
            "riders",
            "sum_insured",
            "technical_premium",
            "adjustment_percent",
            "premium",
            "currency",
            "breakdown",
            "special_exclusions",
            "valid_until",
            "can_accept",
            "pdf_status",
            "policy",
            "created_at",
        ]

    def get_currency(self, quote) -> str:
        return "CNY"

    @extend_schema_field(SpecialExclusionSerializer(many=True))
    def get_special_exclusions(self, quote):
        return [
            {key: bilingual(item.get(key)) for key in ("title", "text", "explanation")}
            for item in quote.special_exclusions or []
        ]

    def get_can_accept(self, quote) -> bool:
        """Offered, still valid and its application quoted: the notice may be acknowledged."""
        return (
            quote.status == QuoteStatus.OFFERED
            and quote.application.status == ApplicationStatus.QUOTED
            and quote.valid_until >= timezone.localdate()
        )


class NoticeItemSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("Tick this key in the acknowledgement."))
    kind = serializers.ChoiceField(choices=["clause", "rider", "special"])
    source = BilingualTextSerializer(help_text=_("The wording the exclusion comes from."))
    title = BilingualTextSerializer()
    text = BilingualTextSerializer()
    explanation = BilingualTextSerializer()


class InstalmentPlanSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amounts = serializers.ListField(child=Money())


class ExclusionNoticeSerializer(serializers.Serializer):
    """Every exclusion of the quote, the exact text shown and a signed token recording when it
    was shown (Insurance Law art. 17)."""

    quote = serializers.IntegerField()
    quote_number = serializers.CharField()
    notice_version = serializers.CharField()
    clause_version = serializers.IntegerField()
    items = NoticeItemSerializer(many=True)
    text = serializers.CharField(help_text=_("The exact text acknowledged, both languages."))
    text_sha256 = serializers.CharField(help_text=_("SHA-256 of text; send it back."))
    token = serializers.CharField(
        help_text=_("Send it back with the acknowledgement; valid for 24 hours.")
    )
    min_seconds = serializers.IntegerField(
        help_text=_("The least time between this response and the acknowledgement.")
    )
    max_instalments = serializers.IntegerField()
    instalment_plans = InstalmentPlanSerializer(many=True)


class AcknowledgementSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=500)
    text_sha256 = serializers.CharField(max_length=64)
    ticks = serializers.DictField(
        child=serializers.BooleanField(),
        help_text=_("true for the key of every item of the notice."),
    )
    confirmed = serializers.BooleanField(help_text=_("The notice is confirmed as a whole."))
    instalments = serializers.IntegerField(min_value=1, max_value=12, default=1)


# --- Policies ---------------------------------------------------------------------------------


class InstalmentSerializer(serializers.ModelSerializer):
    amount = Money()

    class Meta:
        model = Instalment
        fields = ["sequence", "due_date", "amount", "status", "paid_at"]


class PaymentSerializer(serializers.ModelSerializer):
    amount = Money()
    instalment = serializers.IntegerField(source="instalment.sequence", allow_null=True)

    class Meta:
        model = Payment
        fields = ["id", "instalment", "amount", "method", "reference", "received_at"]


class PolicyDocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = PolicyDocument
        fields = ["version", "status", "sha256", "ready_at"]


class AcknowledgementRecordSerializer(serializers.Serializer):
    confirmed_at = serializers.DateTimeField()
    shown_at = serializers.DateTimeField()
    dwell_seconds = serializers.IntegerField()
    notice_version = serializers.CharField()
    text_sha256 = serializers.CharField()
    channel = serializers.CharField()
    items = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))


class PolicySerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    product = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    firm = serializers.IntegerField(source="firm_id")
    firm_name = serializers.CharField(source="firm.name")
    premium = Money()
    sum_insured = Money()
    remaining_sum_insured = Money()
    next_due = serializers.SerializerMethodField()
    document = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = [
            "id",
            "number",
            "status",
            "status_label",
            "product",
            "product_name",
            "firm",
            "firm_name",
            "start_date",
            "end_date",
            "premium",
            "sum_insured",
            "remaining_sum_insured",
            "next_due",
            "document",
            "created_at",
        ]

    @staticmethod
    def _next_due(policy):
        due = getattr(policy, "due_instalments", None)
        if due is None:
            due = list(policy.instalments.filter(status="due").order_by("sequence")[:1])
        payable = policy.status in (
            PolicyStatus.AWAITING_PAYMENT,
            PolicyStatus.ISSUED,
            PolicyStatus.IN_FORCE,
        )
        return due[0] if due and payable else None

    @staticmethod
    def _document(policy):
        documents = getattr(policy, "current_documents", None)
        if documents is None:
            documents = list(policy.documents.filter(is_current=True))
        return documents[0] if documents else None

    @extend_schema_field(InstalmentSerializer(allow_null=True))
    def get_next_due(self, policy):
        instalment = self._next_due(policy)
        return None if instalment is None else InstalmentSerializer(instalment).data

    @extend_schema_field(PolicyDocumentSerializer(allow_null=True))
    def get_document(self, policy):
        """The current document; download it from document/ once its status is ready."""
        document = self._document(policy)
        return None if document is None else PolicyDocumentSerializer(document).data

    @functools.cached_property
    def _status_labels(self) -> dict:
        # The child of a list serializer is one instance for every row: once per list.
        return choice_labels(Policy, "status")

    def to_representation(self, policy):
        """The fields above, written out (see portal/api.py, "List rows")."""
        instalment = self._next_due(policy)
        document = self._document(policy)
        return {
            "id": policy.id,
            "number": policy.number,
            "status": policy.status,
            "status_label": row_label(self._status_labels, policy.status),
            "product": policy.product.code,
            "product_name": policy.product.name,
            "firm": policy.firm_id,
            "firm_name": policy.firm.name,
            "start_date": row_date(policy.start_date),
            "end_date": row_date(policy.end_date),
            "premium": row_decimal(policy.premium, 16, 2),
            "sum_insured": row_decimal(policy.sum_insured, 16, 2),
            "remaining_sum_insured": row_decimal(policy.remaining_sum_insured, 16, 2),
            "next_due": None
            if instalment is None
            else {
                "sequence": instalment.sequence,
                "due_date": row_date(instalment.due_date),
                "amount": row_decimal(instalment.amount, 16, 2),
                "status": instalment.status,
                "paid_at": row_datetime(instalment.paid_at),
            },
            "document": None
            if document is None
            else {
                "version": document.version,
                "status": document.status,
                "sha256": document.sha256,
                "ready_at": row_datetime(document.ready_at),
            },
            "created_at": row_datetime(policy.created_at),
        }


class PolicyDetailSerializer(PolicySerializer):
    quote = serializers.IntegerField(source="quote_id")
    quote_number = serializers.CharField(source="quote.number")
    application = serializers.IntegerField(source="application_id")
    clause_version = ClauseVersionRefSerializer()
    terms = serializers.DictField(
        child=serializers.JSONField(),
        help_text=_(
            "As bound: insured rights, limits, deductible, riders, insurers, exclusions and "
            "the premium breakdown."
        ),
    )
    instalments = InstalmentSerializer(many=True)
    payments = serializers.SerializerMethodField()
    acknowledgement = AcknowledgementRecordSerializer()

    class Meta(PolicySerializer.Meta):
        fields = [
            *PolicySerializer.Meta.fields,
            "verification_code",
            "version",
            "issued_at",
            "quote",
            "quote_number",
            "application",
            "clause_version",
            "terms",
            "instalments",
            "payments",
            "acknowledgement",
        ]

    # One policy, mostly nested: DRF's own field by field walk.
    to_representation = serializers.ModelSerializer.to_representation

    @extend_schema_field(PaymentSerializer(many=True))
    def get_payments(self, policy):
        payments = policy.payments.select_related("instalment").order_by("received_at", "id")
        return PaymentSerializer(payments, many=True).data


class PolicyFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PolicyStatus.choices, required=False)
    firm = Id(required=False)
    ordering = serializers.ChoiceField(
        choices=["created", "-created", "start", "-start", "end", "-end"], required=False
    )


class PaySerializer(serializers.Serializer):
    instalment = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_(
            "The sequence of the instalment you mean to pay; refused when another one is due "
            "first. Empty: the next one due."
        ),
    )


class PaymentResultSerializer(serializers.Serializer):
    payment = PaymentSerializer()
    policy = PolicyDetailSerializer()


# --- Public verification ----------------------------------------------------------------------


class VerifyQuerySerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40, help_text=_("The policy number."))
    code = serializers.CharField(max_length=20, help_text=_("The verification code."))


class VerifiedPolicySerializer(serializers.Serializer):
    number = serializers.CharField()
    product = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["valid", "not_started", "expired", "cancelled", "lapsed"]
    )
    status_label = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    firm = serializers.CharField()


class VerifyResultSerializer(serializers.Serializer):
    found = serializers.BooleanField(
        help_text=_("False for any mismatch of number and code, without saying which.")
    )
    policy = VerifiedPolicySerializer(allow_null=True)


# --- Catalogue filters ------------------------------------------------------------------------


class ProductFilterSerializer(serializers.Serializer):
    ip_type = serializers.ChoiceField(choices=AssetKind.choices, required=False)
    liability_class = serializers.ChoiceField(choices=LiabilityClass.choices, required=False)
    function_class = serializers.ChoiceField(choices=FunctionClass.choices, required=False)
    insurer = serializers.CharField(required=False, help_text=_("Insurer code."))
    ordering = serializers.ChoiceField(choices=["code", "-code", "name", "-name"], required=False)


class RiderFilterSerializer(serializers.Serializer):
    product = serializers.CharField(
        required=False, help_text=_("Only riders that can be added to this product code.")
    )
