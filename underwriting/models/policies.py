"""Binding: the exclusion notice and its acknowledgement, policies, instalments and payments,
policy documents, endorsements and cancellations."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portal.models import Firm
from underwriting.choices import (
    CancellationParty,
    DocumentStatus,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
)
from underwriting.models.applications import Application, Quote
from underwriting.models.catalogue import ClauseVersion, Product

__all__ = [
    "Acknowledgement",
    "AcknowledgementError",
    "Cancellation",
    "Endorsement",
    "Instalment",
    "Payment",
    "Policy",
    "PolicyDocument",
    "PolicyNumberSequence",
]


class AcknowledgementError(Exception):
    """An acknowledgement record was about to change: it is evidence and never changes."""


class Acknowledgement(models.Model):
    """The applicant's acknowledgement of every exclusion, as shown (Insurance Law art. 17).

    Written once when the applicant confirms the notice; it records what was shown (the page
    version, the clause version and the SHA-256 of the exact text), who confirmed it, from where,
    each tick with its time and how long the notice was on screen.
    """

    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="acknowledgement")
    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    clause_version = models.ForeignKey(ClauseVersion, on_delete=models.PROTECT, related_name="+")
    notice_version = models.CharField(_("notice page version"), max_length=40)
    text_sha256 = models.CharField(_("SHA-256 of the text shown"), max_length=64)
    notice_text = models.TextField(_("text shown"))
    items = models.JSONField(_("items and ticks"), default=list)
    shown_at = models.DateTimeField(_("notice shown"))
    confirmed_at = models.DateTimeField(_("confirmed"))
    dwell_seconds = models.PositiveIntegerField(_("seconds on the notice"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.TextField(_("browser"), blank=True)
    channel = models.CharField(_("channel"), max_length=20, default="portal")

    class Meta:
        verbose_name = _("exclusion acknowledgement")
        verbose_name_plural = _("exclusion acknowledgements")
        ordering = ["-confirmed_at"]

    def __str__(self):
        return f"{self.quote.number} · {self.confirmed_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk and type(self).objects.filter(pk=self.pk).exists():
            raise AcknowledgementError("An acknowledgement is evidence and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AcknowledgementError("An acknowledgement is evidence and cannot be deleted.")


class PolicyNumberSequence(models.Model):
    """The last number issued per product and year, locked while a number is taken, so numbers
    never repeat and never skip, even under concurrent issuance."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "year"], name="policy_sequence_unique")
        ]

    def __str__(self):
        return f"{self.product_id}/{self.year}: {self.last}"


def _verification_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


class Policy(models.Model):
    # Empty until the policy is issued; issued numbers are unique per product code and year.
    number = models.CharField(_("policy number"), max_length=40, unique=True, null=True, blank=True)
    verification_code = models.CharField(
        _("verification code"), max_length=12, default=_verification_code, editable=False
    )
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="policy")
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="policy")
    acknowledgement = models.OneToOneField(
        Acknowledgement, on_delete=models.PROTECT, related_name="policy"
    )
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="policies")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="policies")
    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.PROTECT, related_name="policies"
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=PolicyStatus.choices,
        default=PolicyStatus.AWAITING_PAYMENT,
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    start_date = models.DateField(_("cover starts"))
    end_date = models.DateField(_("cover ends"))
    premium = models.DecimalField(_("annual premium"), max_digits=14, decimal_places=2)
    sum_insured = models.DecimalField(_("sum insured"), max_digits=14, decimal_places=2)
    remaining_sum_insured = models.DecimalField(
        _("remaining sum insured"), max_digits=14, decimal_places=2
    )
    terms = models.JSONField(
        _("terms"),
        default=dict,
        help_text=_("Insured rights, limits, deductible, riders, co-insurers, exclusions."),
    )
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    renewal_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["firm", "-created_at"], name="policy_firm_recent"),
            models.Index(fields=["status", "end_date"], name="policy_status_end"),
            models.Index(fields=["product", "status"], name="policy_product_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="policy_period_order"
            ),
            models.CheckConstraint(condition=Q(premium__gte=0), name="policy_premium_gte_0"),
        ]

    def __str__(self):
        return self.number or _("Policy of %(quote)s") % {"quote": self.quote.number}


class Instalment(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="instalments")
    sequence = models.PositiveSmallIntegerField(_("instalment"))
    due_date = models.DateField(_("due"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    status = models.CharField(
        max_length=12, choices=InstalmentStatus.choices, default=InstalmentStatus.DUE
    )
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        ordering = ["policy_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "sequence"], name="instalment_sequence")
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="instalment_due")]

    def __str__(self):
        return f"{self.policy} #{self.sequence}"


class Payment(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="payments")
    instalment = models.ForeignKey(
        Instalment, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    reference = models.CharField(_("bank or provider reference"), max_length=100)
    received_at = models.DateTimeField(_("received"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_at"]
        constraints = [
            # The same bank or provider reference is never booked twice.
            models.UniqueConstraint(fields=["method", "reference"], name="payment_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self):
        return f"{self.reference} {self.amount}"


def _policy_document_path(document, filename):
    return f"policies/{document.policy.firm_id}/{document.policy_id}-v{document.version}.pdf"


class PolicyDocument(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="documents")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED
    )
    file = models.FileField(upload_to=_policy_document_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("policy document")
        verbose_name_plural = _("policy documents")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_document_version"),
            models.UniqueConstraint(
                fields=["policy"], condition=Q(is_current=True), name="policy_one_current_document"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="policy_document_status")]

    def __str__(self):
        return f"{self.policy} v{self.version}"


class Endorsement(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="endorsements")
    version = models.PositiveIntegerField(_("policy version it creates"))
    effective_date = models.DateField(_("effective"))
    changes = models.JSONField(_("changes"), default=dict)
    previous_terms = models.JSONField(default=dict)
    premium_change = models.DecimalField(
        _("additional (+) or return (−) premium"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("endorsement")
        verbose_name_plural = _("endorsements")
        ordering = ["policy_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="endorsement_version")
        ]

    def __str__(self):
        return f"{self.policy} v{self.version}"


class Cancellation(models.Model):
    policy = models.OneToOneField(Policy, on_delete=models.PROTECT, related_name="cancellation")
    by = models.CharField(_("cancelled by"), max_length=20, choices=CancellationParty.choices)
    requested_at = models.DateTimeField(auto_now_add=True)
    effective_date = models.DateField(_("effective"))
    refund = models.DecimalField(_("refund"), max_digits=14, decimal_places=2)
    kept = models.DecimalField(_("premium kept"), max_digits=14, decimal_places=2)
    explanation = models.JSONField(default=dict)
    reason = models.TextField(_("reason"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("cancellation")
        verbose_name_plural = _("cancellations")

    def __str__(self):
        return f"{self.policy} ({self.get_by_display()})"
