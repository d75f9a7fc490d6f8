"""Claims: the notification, its documents and the insurer's requests for them, assessments,
decisions, letters, payments, subrogation and recoveries, and reinstatement of the sum insured."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from claims.choices import (
    ClaimDocumentStatus,
    ClaimPaymentKind,
    ClaimStatus,
    Decision,
    EventKind,
    LetterKind,
    LetterStatus,
    ReinstatementStatus,
)
from portal.models import Firm
from underwriting.models import Policy

MONEY = {"max_digits": 14, "decimal_places": 2}


class ClaimNumberSequence(models.Model):
    """The last claim number of a year, locked while a number is taken (no repeats, no gaps)."""

    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class Claim(models.Model):
    number = models.CharField(_("claim number"), max_length=30, unique=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="claims")
    # Copied from the policy so that every applicant query scopes by firm without a join.
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="claims")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reported by"),
    )
    incident_date = models.DateField(_("date of the incident"))
    learned_on = models.DateField(_("date you learned of it"), null=True, blank=True)
    cause_number = models.PositiveSmallIntegerField(_("covered cause"))
    # The cause and rights as the clause and the policy named them when the claim was made.
    cause = models.JSONField(_("cause as worded in the clause"), default=dict)
    rights = models.JSONField(_("insured rights concerned"), default=list)
    description = models.TextField(_("what happened"))
    amount_claimed = models.DecimalField(_("amount claimed"), **MONEY)
    notified_at = models.DateTimeField(_("reported"))

    status = models.CharField(
        _("status"), max_length=20, choices=ClaimStatus.choices, default=ClaimStatus.NOTIFIED
    )
    status_changed_at = models.DateTimeField(_("status changed"), auto_now_add=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims_handled",
        verbose_name=_("claims handler"),
    )
    reserve = models.DecimalField(_("reserve"), null=True, blank=True, **MONEY)

    # The facts the statutory deadlines run from (claims/deadlines.py).
    documents_complete_on = models.DateField(_("documents complete"), null=True, blank=True)
    # Required checklist items the handler waived (the insurer holds them already, say).
    waived_documents = models.JSONField(_("documents waived"), default=list, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, blank=True)
    decided_on = models.DateField(_("decided"), null=True, blank=True)
    decision_reasons = models.TextField(_("reasons"), blank=True)
    rejection_clauses = models.JSONField(_("clauses relied on"), default=list, blank=True)
    rejection_notice_sent_on = models.DateField(_("rejection notice sent"), null=True, blank=True)
    amount_agreed = models.DecimalField(_("amount agreed"), null=True, blank=True, **MONEY)
    amount_agreed_on = models.DateField(_("amount agreed on"), null=True, blank=True)
    advance_paid_on = models.DateField(_("advance paid"), null=True, blank=True)
    paid_on = models.DateField(_("paid in full"), null=True, blank=True)
    # Kept in step by the services, so that the dashboard orders and filters in the database.
    next_deadline_on = models.DateField(_("next deadline"), null=True, blank=True)
    next_deadline_kind = models.CharField(max_length=20, blank=True)
    deadline_warned_on = models.DateField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["deadline_warned_on"])

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-notified_at"]
        permissions = [("assess_claim", _("Can assess, decide and pay claims"))]
        indexes = [
            models.Index(fields=["firm", "-notified_at"], name="claim_firm_recent"),
            models.Index(fields=["status", "next_deadline_on"], name="claim_status_deadline"),
            models.Index(fields=["handler", "next_deadline_on"], name="claim_handler_deadline"),
            # The handlers' dashboard and the admin list: nearest deadline first.
            models.Index(fields=["next_deadline_on", "notified_at", "id"], name="claim_deadlines"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_claimed__gte=0), name="claim_amount_claimed_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(reserve__isnull=True) | Q(reserve__gte=0), name="claim_reserve_gte_0"
            ),
        ]

    def __str__(self):
        return self.number


class ClaimEvent(models.Model):
    """The claim's timeline: ``public`` events are shown to the applicant, others to staff only."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, choices=ClaimStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ClaimStatus.choices, blank=True)
    # A stable code plus values, so that the page can word it in the reader's language.
    code = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    public = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("claim event")
        verbose_name_plural = _("claim events")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.claim} {self.kind} {self.code}"


class DocumentRequest(models.Model):
    """A notice to the insured listing every document still missing (Insurance Law art. 22).

    The first request must be complete; a later one is lawful only for documents that new facts
    made necessary, and records what those facts are.
    """

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="document_requests")
    sequence = models.PositiveSmallIntegerField()
    items = models.JSONField(_("documents requested"), default=list)
    new_facts = models.TextField(_("new facts that make them necessary"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"))

    class Meta:
        verbose_name = _("document request")
        verbose_name_plural = _("document requests")
        ordering = ["claim_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "sequence"], name="document_request_sequence"),
            models.CheckConstraint(
                condition=Q(sequence=1) | ~Q(new_facts=""), name="document_request_later_has_facts"
            ),
        ]

    def __str__(self):
        return f"{self.claim} #{self.sequence}"


class ClaimDocument(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="documents")
    # A code of the clause version's checklist, or "other".
    code = models.CharField(_("document"), max_length=40)
    file = models.FileField(upload_to="claims/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=8)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=ClaimDocumentStatus.choices,
        default=ClaimDocumentStatus.PENDING,
    )
    rejection_reason = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(_("pages"), null=True, blank=True)
    preview = models.FileField(upload_to="claims/", max_length=200, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("claim document")
        verbose_name_plural = _("claim documents")
        ordering = ["claim_id", "uploaded_at", "id"]
        indexes = [models.Index(fields=["status", "uploaded_at"], name="claim_document_status")]

    def __str__(self):
        return f"{self.claim} {self.code} {self.original_name}"


class ClaimAssessment(models.Model):
    """One run of the indemnity calculator: its inputs and every figure, kept as evidence."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="assessments")
    inputs = models.JSONField(default=dict)
    result = models.JSONField(default=dict)
    payable = models.DecimalField(_("payable"), **MONEY)
    note = models.TextField(_("note"), blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.claim} {self.payable}"


class ClaimLetter(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="letters")
    kind = models.CharField(max_length=12, choices=LetterKind.choices)
    reference = models.CharField(max_length=40, unique=True)
    status = models.CharField(
        max_length=10, choices=LetterStatus.choices, default=LetterStatus.QUEUED
    )
    context = models.JSONField(default=dict)
    file = models.FileField(upload_to="claims/", max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("claim letter")
        verbose_name_plural = _("claim letters")
        ordering = ["claim_id", "created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="claim_letter_status")]

    def __str__(self):
        return self.reference


class ClaimPayment(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=10, choices=ClaimPaymentKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    reference = models.CharField(_("bank reference"), max_length=100, unique=True)
    paid_on = models.DateField(_("paid on"))
    remaining_sum_insured_after = models.DecimalField(**MONEY)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("claim payment")
        verbose_name_plural = _("claim payments")
        ordering = ["claim_id", "paid_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_payment_positive"),
        ]

    def __str__(self):
        return f"{self.claim} {self.kind} {self.amount}"


class Subrogation(models.Model):
    """The insurer's action against the liable party after paying (clause art. 33)."""

    claim = models.OneToOneField(Claim, on_delete=models.PROTECT, related_name="subrogation")
    liable_party = models.CharField(_("liable party"), max_length=200)
    basis = models.TextField(_("grounds and steps taken"), blank=True)
    sharing = models.JSONField(_("how recoveries are shared"), default=dict)
    started_on = models.DateField(_("started"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("subrogation")
        verbose_name_plural = _("subrogations")

    def __str__(self):
        return f"{self.claim} → {self.liable_party}"


class Recovery(models.Model):
    subrogation = models.ForeignKey(
        Subrogation, on_delete=models.PROTECT, related_name="recoveries"
    )
    amount = models.DecimalField(_("amount recovered"), **MONEY)
    insurer_part = models.DecimalField(_("to the insurer"), **MONEY)
    insured_part = models.DecimalField(_("to the insured"), **MONEY)
    received_on = models.DateField(_("received"))
    reference = models.CharField(_("reference"), max_length=100, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("recovery")
        verbose_name_plural = _("recoveries")
        ordering = ["subrogation_id", "received_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_positive"),
            models.CheckConstraint(
                condition=Q(amount=models.F("insurer_part") + models.F("insured_part")),
                name="recovery_parts_add_up",
            ),
        ]

    def __str__(self):
        return f"{self.subrogation} {self.amount}"


class Reinstatement(models.Model):
    """The insured asks to restore the sum insured eroded by payments (clause art. 32)."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="reinstatements")
    amount = models.DecimalField(_("amount to restore"), **MONEY)
    premium = models.DecimalField(_("pro-rata premium"), **MONEY)
    effective_date = models.DateField(_("effective"))
    status = models.CharField(
        max_length=10, choices=ReinstatementStatus.choices, default=ReinstatementStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reinstatement of the sum insured")
        verbose_name_plural = _("reinstatements of the sum insured")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reinstatement_positive"),
            # One open request per policy: a second would price the same gap twice.
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(status="requested"),
                name="reinstatement_one_open",
            ),
        ]

    def __str__(self):
        return f"{self.policy} +{self.amount}"
