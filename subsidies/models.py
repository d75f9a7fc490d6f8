"""Premium-subsidy programmes of the authorities, their yearly budgets, the firms' requests with
their documents, eligibility results and timeline, objections during publication, and the
disbursement batches paid by the treasury."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portal.models import Authority, BilingualNameMixin, Firm
from subsidies.choices import BatchStatus, EligibilityOutcome, ProgrammeStatus, RequestStatus
from underwriting.models import Policy

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 5, "decimal_places": 2}
ZERO = Decimal("0.00")


class Programme(BilingualNameMixin):
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="programmes")
    code = models.SlugField(_("code"), max_length=40, unique=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    # Firms registered under this prefix of the administrative region code are eligible
    # ("3202" for all of Wuxi); empty means the authority's own region code.
    region_prefix = models.CharField(_("region code prefix"), max_length=6, blank=True)
    product_codes = models.JSONField(_("eligible products"), default=list, blank=True)
    ip_kinds = models.JSONField(_("eligible IP types"), default=list, blank=True)
    qualifications = models.JSONField(_("eligible firm qualifications"), default=list, blank=True)
    rate_first = models.DecimalField(_("rate, first request (%)"), **RATE)
    rate_renewal = models.DecimalField(_("rate, later requests (%)"), null=True, blank=True, **RATE)
    rate_champion = models.DecimalField(
        _("rate, single champions (%)"), null=True, blank=True, **RATE
    )
    uplift_high_value = models.DecimalField(
        _("uplift for high-value patents (points)"), default=ZERO, **RATE
    )
    cap_per_item = models.DecimalField(_("cap per insured right"), null=True, blank=True, **MONEY)
    cap_per_policy = models.DecimalField(_("cap per policy"), null=True, blank=True, **MONEY)
    cap_per_firm_year = models.DecimalField(
        _("cap per firm per year"), null=True, blank=True, **MONEY
    )
    window_start = models.DateField(_("applications open"))
    window_end = models.DateField(_("applications close"))
    required_documents = models.JSONField(_("required documents"), default=list, blank=True)
    publication_days = models.PositiveSmallIntegerField(_("days of publication"), default=5)
    status = models.CharField(
        _("status"), max_length=10, choices=ProgrammeStatus.choices, default=ProgrammeStatus.OPEN
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("subsidy programme")
        verbose_name_plural = _("subsidy programmes")
        ordering = ["authority_id", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gte=F("window_start")), name="programme_window_order"
            ),
        ]


class Budget(models.Model):
    """A programme's money for one year. Approval reserves (``committed``), disbursement pays
    (``paid``); both only ever change under a row lock, and never beyond ``amount``."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="budgets")
    year = models.PositiveIntegerField(_("year"))
    amount = models.DecimalField(_("annual budget"), **MONEY)
    committed = models.DecimalField(_("reserved by approvals"), default=ZERO, **MONEY)
    paid = models.DecimalField(_("paid out"), default=ZERO, **MONEY)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        ordering = ["programme_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "year"], name="budget_per_year"),
            models.CheckConstraint(
                condition=Q(committed__gte=0) & Q(paid__gte=0), name="budget_non_negative"
            ),
            # The database itself refuses an overspend, whatever code path tried it.
            models.CheckConstraint(
                condition=Q(amount__gte=F("committed") + F("paid")), name="budget_never_overspent"
            ),
        ]

    def __str__(self):
        return f"{self.programme.code} {self.year}"

    @property
    def left(self) -> Decimal:
        return self.amount - self.committed - self.paid


class FirmAllowance(models.Model):
    """What a firm has been granted under a programme in a year, for the per-firm annual cap;
    locked with the budget row when an approval reserves money."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="+")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField()
    granted = models.DecimalField(default=ZERO, **MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "firm", "year"], name="firm_allowance_unique"
            ),
            models.CheckConstraint(condition=Q(granted__gte=0), name="firm_allowance_gte_0"),
        ]

    def __str__(self):
        return f"{self.programme_id}/{self.firm_id}/{self.year}: {self.granted}"


class DisbursementBatch(models.Model):
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="batches")
    number = models.CharField(_("batch number"), max_length=30, unique=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    payment_reference = models.CharField(
        _("treasury payment reference"), max_length=100, blank=True
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("disbursement batch")
        verbose_name_plural = _("disbursement batches")
        ordering = ["-created_at"]
        # The officers' batch list: their authority's, newest first.
        indexes = [models.Index(fields=["authority", "-created_at"], name="batch_authority_recent")]

    def __str__(self):
        return self.number


class SubsidyRequest(models.Model):
    number = models.CharField(_("request number"), max_length=30, unique=True)
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="requests")
    # Copied from the programme, so the officer queue filters on one indexed column.
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="subsidy_requests")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="subsidy_requests")
    year = models.PositiveIntegerField(_("budget year"))
    status = models.CharField(
        _("status"), max_length=15, choices=RequestStatus.choices, default=RequestStatus.DRAFT
    )
    status_changed_at = models.DateTimeField(_("status changed"), auto_now_add=True)
    premium_paid = models.DecimalField(_("premium paid"), **MONEY)
    items = models.PositiveIntegerField(_("insured rights"), default=1)
    renewal = models.BooleanField(_("later request of the firm"), default=False)
    single_champion = models.BooleanField(_("single champion"), default=False)
    high_value = models.BooleanField(_("high-value patents"), default=False)
    rate = models.DecimalField(_("rate (%)"), **RATE)
    expected_amount = models.DecimalField(_("expected amount"), **MONEY)
    approved_amount = models.DecimalField(_("approved amount"), null=True, blank=True, **MONEY)
    clawed_back_amount = models.DecimalField(_("recovered"), null=True, blank=True, **MONEY)
    eligibility = models.JSONField(_("eligibility results"), default=list, blank=True)
    eligibility_outcome = models.CharField(
        max_length=5, choices=EligibilityOutcome.choices, blank=True
    )
    eligibility_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reasons = models.TextField(_("reasons"), blank=True)
    publication_starts = models.DateField(_("published from"), null=True, blank=True)
    publication_ends = models.DateField(_("published until"), null=True, blank=True)
    batch = models.ForeignKey(
        DisbursementBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("subsidy request")
        verbose_name_plural = _("subsidy requests")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["authority", "status", "-submitted_at"], name="subsidy_queue"),
            # The officer queue and its API list the open requests oldest submission first; with
            # the order in the index the first page is read off it instead of sorting them all.
            models.Index(
                fields=["authority", "submitted_at", "id"],
                condition=Q(status__in=["submitted", "under_review"]),
                name="subsidy_open_oldest",
            ),
            models.Index(fields=["firm", "-created_at"], name="subsidy_firm_recent"),
            models.Index(fields=["status", "publication_ends"], name="subsidy_publication"),
            # The queue filtered by programme, oldest submission first.
            models.Index(
                fields=["programme", "status", "-submitted_at"], name="subsidy_programme_queue"
            ),
            # The budget overview counts the year's requests by programme and status.
            models.Index(
                fields=["authority", "year", "programme", "status"], name="subsidy_budget_year"
            ),
        ]
        constraints = [
            # The same policy is never subsidised twice by one programme (withdrawn or
            # rejected requests do not count).
            models.UniqueConstraint(
                fields=["programme", "policy"],
                condition=~Q(status__in=["withdrawn", "rejected"]),
                name="subsidy_once_per_policy",
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gte=0),
                name="subsidy_approved_gte_0",
            ),
        ]

    def __str__(self):
        return self.number


class SubsidyEvent(models.Model):
    """The request's timeline; ``public`` events are shown to the applicant."""

    request = models.ForeignKey(SubsidyRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=15, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(max_length=15, choices=RequestStatus.choices, blank=True)
    code = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    public = models.BooleanField(default=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.request} {self.code}"


class SubsidyDocument(models.Model):
    request = models.ForeignKey(SubsidyRequest, on_delete=models.CASCADE, related_name="documents")
    code = models.CharField(_("document"), max_length=40)
    file = models.FileField(upload_to="subsidies/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=8)
    status = models.CharField(max_length=12, default="pending")
    rejection_reason = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "uploaded_at", "id"]

    def __str__(self):
        return f"{self.request} {self.code} {self.original_name}"


class Objection(models.Model):
    """An objection raised during publication (公示); it puts the request back under review."""

    request = models.ForeignKey(SubsidyRequest, on_delete=models.CASCADE, related_name="objections")
    raised_by = models.CharField(_("raised by"), max_length=200)
    text = models.TextField(_("objection"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["recorded_at"]

    def __str__(self):
        return f"{self.request}: {self.raised_by}"


class RequestNumberSequence(models.Model):
    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"
