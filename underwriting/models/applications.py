"""Applications for cover: questionnaires and rules as data, answers, referrals and quotes."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portal.models import Firm, IPAsset
from underwriting.choices import (
    ApplicationStatus,
    ClauseStatus,
    DocumentStatus,
    QuestionnaireKind,
    QuoteStatus,
    RuleOutcome,
)
from underwriting.models.catalogue import ClauseVersion, Product, PublishedClauseError

__all__ = [
    "Application",
    "ApplicationAsset",
    "ApplicationEvent",
    "Questionnaire",
    "Quote",
    "UnderwriterAuthority",
    "UnderwriterQuestion",
    "UnderwritingRule",
]

ZERO = Decimal("0.00")


class Questionnaire(models.Model):
    """The questions asked under one clause version. The questions are data:

    ``[{"code", "kind": choice|multi|number|integer|boolean|text, "label": {zh, en},
    "help": {zh, en}, "options": [{"code", "label": {zh, en}}], "min", "max", "unit",
    "required", "group": {zh, en}, "rating": {"input": key} | {"table": code},
    "show_if": {"question": code, "equals": value}}, ...]``

    A questionnaire of a published clause version never changes, like the wording it belongs to.
    """

    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.CASCADE, related_name="questionnaires"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=QuestionnaireKind.choices)
    questions = models.JSONField(_("questions"), default=list)
    sha256 = models.CharField(_("SHA-256 of the questions"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        constraints = [
            models.UniqueConstraint(fields=["clause_version", "kind"], name="questionnaire_kind")
        ]

    def __str__(self):
        return f"{self.clause_version} · {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if (
            self.pk
            and ClauseVersion.objects.filter(
                pk=self.clause_version_id, status=ClauseStatus.PUBLISHED
            ).exists()
        ):
            raise PublishedClauseError("The questionnaire of a published clause version is frozen.")
        super().save(*args, **kwargs)


class UnderwritingRule(models.Model):
    """A condition on the application's facts that refers, declines or adds an exclusion.

    ``conditions`` is a list that must all hold: ``[{"fact": "sales_usa", "op": "eq",
    "value": true}, ...]``; the facts and operators are listed in ``underwriting.rules``.
    """

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="underwriting_rules"
    )
    code = models.SlugField(_("code"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    conditions = models.JSONField(_("conditions"), default=list)
    outcome = models.CharField(_("outcome"), max_length=10, choices=RuleOutcome.choices)
    reason_zh = models.TextField(_("reason (Chinese)"))
    reason_en = models.TextField(_("reason (English)"), blank=True)
    exclusion = models.JSONField(
        _("special exclusion"),
        default=dict,
        blank=True,
        help_text=_("For the exclusion outcome: title, text and explanation in zh and en."),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("underwriting rule")
        verbose_name_plural = _("underwriting rules")
        ordering = ["product_id", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="underwriting_rule_code")
        ]

    def __str__(self):
        return f"{self.product.code}: {self.code}"


class UnderwriterAuthority(models.Model):
    """How far an underwriter may go alone; above it a senior underwriter approves the quote."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="underwriting_authority"
    )
    max_sum_insured = models.DecimalField(
        _("largest sum insured they may quote"), max_digits=14, decimal_places=2
    )
    max_adjustment_percent = models.DecimalField(
        _("largest loading or discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("25.00"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("underwriting authority")
        verbose_name_plural = _("underwriting authorities")

    def __str__(self):
        return f"{self.user} ≤ {self.max_sum_insured}"


class Application(models.Model):
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="applications")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="applications")
    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.PROTECT, related_name="applications"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
    )
    status_changed_at = models.DateTimeField(_("status changed"), auto_now_add=True)
    # The furthest step of the form the applicant has completed, so resuming lands there.
    completed_steps = models.JSONField(default=list, blank=True)
    limits = models.JSONField(_("limits"), default=dict, blank=True)
    deductible = models.CharField(_("deductible"), max_length=40, blank=True)
    rider_codes = models.JSONField(_("riders"), default=list, blank=True)
    wished_start = models.DateField(_("wished start date"), null=True, blank=True)
    cover_inputs = models.JSONField(default=dict, blank=True)
    risk_answers = models.JSONField(_("risk answers"), default=dict, blank=True)
    sum_insured = models.DecimalField(
        _("sum insured"), max_digits=14, decimal_places=2, default=ZERO
    )
    declared_at = models.DateTimeField(_("declared"), null=True, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    frozen_answers = models.JSONField(default=dict, blank=True)
    answers_sha256 = models.CharField(_("SHA-256 of the answers"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    valuation = models.JSONField(default=dict, blank=True)
    rating = models.JSONField(default=dict, blank=True)
    rule_results = models.JSONField(default=list, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_applications",
        verbose_name=_("underwriter"),
    )
    renewal_of = models.ForeignKey(
        "underwriting.Policy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renewals",
        verbose_name=_("renewal of"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at"]
        indexes = [
            # The referral queue: by status, oldest first; and by product.
            models.Index(fields=["status", "status_changed_at"], name="application_queue"),
            models.Index(fields=["product", "status"], name="application_product_status"),
            models.Index(fields=["firm", "-created_at"], name="application_firm_recent"),
            models.Index(fields=["assigned_to", "status"], name="application_assignee"),
            # The applicant's list, the dashboard card and the API: newest activity first.
            models.Index(fields=["firm", "-updated_at", "-id"], name="application_firm_updated"),
            # The referral queue unfiltered (and its age filter): latest change first.
            models.Index(fields=["-status_changed_at", "-id"], name="application_changed"),
        ]

    def __str__(self):
        return self.reference

    @property
    def reference(self) -> str:
        year = self.created_at.year if self.created_at else ""
        return f"AP{year}-{self.pk or 0:06d}"

    @property
    def is_editable(self) -> bool:
        return self.status == ApplicationStatus.DRAFT


class ApplicationAsset(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="insured_assets"
    )
    asset = models.ForeignKey(IPAsset, on_delete=models.PROTECT, related_name="+")
    valuation_answers = models.JSONField(default=dict, blank=True)
    valuation = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("insured right")
        verbose_name_plural = _("insured rights")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "asset"], name="application_asset")
        ]

    def __str__(self):
        return str(self.asset)


class ApplicationEvent(models.Model):
    """The timeline: every status change, question and answer, with who and why."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=20, choices=ApplicationStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ApplicationStatus.choices, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name = _("application event")
        verbose_name_plural = _("application events")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.application} {self.from_status}→{self.to_status}"


class UnderwriterQuestion(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(_("question"))
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("question to the applicant")
        verbose_name_plural = _("questions to the applicant")
        ordering = ["asked_at", "id"]

    def __str__(self):
        return self.text[:60]


def _quote_pdf_path(quote, filename):
    return f"quotes/{quote.application.firm_id}/{quote.number}.pdf"


class Quote(models.Model):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="quotes")
    number = models.CharField(_("quote number"), max_length=30, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.OFFERED
    )
    limits = models.JSONField(_("limits"), default=dict)
    deductible = models.CharField(_("deductible"), max_length=40, blank=True)
    rider_codes = models.JSONField(_("riders"), default=list, blank=True)
    sum_insured = models.DecimalField(_("sum insured"), max_digits=14, decimal_places=2)
    breakdown = models.JSONField(_("premium breakdown"), default=dict)
    technical_premium = models.DecimalField(
        _("premium from the rating table"), max_digits=14, decimal_places=2
    )
    adjustment_percent = models.DecimalField(
        _("loading (+) or discount (−) in %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
    )
    premium = models.DecimalField(_("premium"), max_digits=14, decimal_places=2)
    special_exclusions = models.JSONField(_("special exclusions"), default=list, blank=True)
    valid_until = models.DateField(_("valid until"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty when the portal quoted automatically."),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    pdf = models.FileField(_("quote PDF"), upload_to=_quote_pdf_path, blank=True)
    pdf_status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.NONE
    )
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-created_at"]
        permissions = [("approve_quote", _("Can approve quotes above an underwriter's authority"))]
        indexes = [
            models.Index(fields=["status", "valid_until"], name="quote_expiry"),
            models.Index(fields=["pdf_status"], name="quote_pdf_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(premium__gte=0), name="quote_premium_gte_0"),
            # At most one live quote per application: accepting one must be unambiguous.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(status__in=["pending_approval", "offered", "accepted"]),
                name="quote_one_live_per_application",
            ),
        ]

    def __str__(self):
        return self.number
