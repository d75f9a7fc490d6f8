from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portal.models import BilingualNameMixin
from underwriting.choices import (
    BuyerParty,
    ClauseStatus,
    FunctionClass,
    LiabilityClass,
    ProductStatus,
)

__all__ = [
    "ClauseVersion",
    "CoefficientOption",
    "CoefficientTable",
    "Insurer",
    "Product",
    "ProductInsurer",
    "PublishedClauseError",
    "RatingSection",
    "Rider",
    "RiderFactor",
    "pick_language",
]


def pick_language(value) -> str:
    """Text of a {"zh": ..., "en": ...} dict in the active language, falling back to Chinese."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    if (get_language() or "").startswith("en") and value.get("en"):
        return value["en"]
    return value.get("zh") or value.get("en") or ""


class PublishedClauseError(Exception):
    """A published clause version, or a rating row belonging to one, was about to change."""


class Insurer(BilingualNameMixin):
    code = models.SlugField(_("code"), max_length=30, unique=True)

    class Meta:
        verbose_name = _("insurer")
        verbose_name_plural = _("insurers")
        ordering = ["code"]


class Product(BilingualNameMixin):
    code = models.CharField(_("code"), max_length=30, unique=True)
    summary_zh = models.TextField(_("summary (Chinese)"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    liability_class = models.CharField(
        _("liability class"), max_length=20, choices=LiabilityClass.choices
    )
    function_class = models.CharField(
        _("function class"), max_length=20, choices=FunctionClass.choices
    )
    ip_types = models.JSONField(_("IP types covered"), default=list)
    # "|patent|trademark|": lets every database filter by IP type with a plain LIKE.
    ip_types_index = models.CharField(max_length=200, editable=False, default="", db_index=True)
    party = models.CharField(_("who buys it"), max_length=20, choices=BuyerParty.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    insurers = models.ManyToManyField(Insurer, through="ProductInsurer", related_name="products")
    position = models.PositiveIntegerField(_("position"), default=0)
    # Loss cover pays for what a right is worth: the sum insured may not exceed this share of
    # the assessed value (empty: no cap).
    value_cap_percent = models.DecimalField(
        _("sum insured cap (percent of assessed value)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    max_instalments = models.PositiveSmallIntegerField(
        _("most instalments allowed"), default=1, help_text=_("1: single payment only.")
    )
    cancellation_fee = models.DecimalField(
        _("cancellation fee before cover starts"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
    )
    lapse_after_days = models.PositiveSmallIntegerField(
        _("days an instalment may stay unpaid before the policy lapses"), default=30
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["position", "code"]

    def save(self, *args, **kwargs):
        self.ip_types_index = "|" + "|".join(sorted(self.ip_types or [])) + "|"
        if kwargs.get("update_fields") is not None and "ip_types" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "ip_types_index"}
        super().save(*args, **kwargs)

    @property
    def summary(self) -> str:
        return pick_language({"zh": self.summary_zh, "en": self.summary_en})


class ProductInsurer(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="insurer_shares")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="+")
    # Percent of the risk written by this insurer when the product is co-insured; blank otherwise.
    share = models.DecimalField(
        _("co-insurance share (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("insurer of a product")
        verbose_name_plural = _("insurers of a product")
        constraints = [
            models.UniqueConstraint(fields=["product", "insurer"], name="product_insurer_unique"),
            models.CheckConstraint(
                condition=Q(share__isnull=True) | (Q(share__gt=0) & Q(share__lte=100)),
                name="product_insurer_share_range",
            ),
        ]

    def __str__(self):
        return f"{self.insurer} {self.share or ''}".strip()


class Rider(BilingualNameMixin):
    code = models.CharField(_("code"), max_length=30, unique=True)
    summary_zh = models.TextField(_("summary (Chinese)"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    main_products = models.ManyToManyField(
        Product, related_name="riders", verbose_name=_("main products")
    )
    insurers = models.ManyToManyField(Insurer, related_name="riders", blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("rider")
        verbose_name_plural = _("riders")
        ordering = ["code"]

    @property
    def summary(self) -> str:
        return pick_language({"zh": self.summary_zh, "en": self.summary_en})


class ClauseVersion(models.Model):
    """The wording a product or rider is sold under. Published versions never change."""

    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="clause_versions"
    )
    rider = models.ForeignKey(
        Rider, null=True, blank=True, on_delete=models.PROTECT, related_name="clause_versions"
    )
    number = models.PositiveIntegerField(_("version number"))
    label = models.CharField(_("label"), max_length=60)
    effective_date = models.DateField(_("effective date"))
    status = models.CharField(
        _("status"), max_length=12, choices=ClauseStatus.choices, default=ClauseStatus.DRAFT
    )
    insured_object = models.JSONField(_("insured object"), default=dict, blank=True)
    covered_causes = models.JSONField(_("covered causes"), default=list, blank=True)
    exclusions = models.JSONField(_("exclusions"), default=list, blank=True)
    obligations = models.JSONField(_("policyholder obligations"), default=list, blank=True)
    claim_documents = models.JSONField(_("claim documents"), default=list, blank=True)
    deductible_rules = models.JSONField(_("deductible rules"), default=dict, blank=True)
    # How money recovered from a liable party is split with the insured (claims/recoveries.py):
    # {"method": "insurer_first" | "insured_first" | "pro_rata" | "percentage",
    #  "insurer_percent": "25"}; empty means the statutory default, insurer first.
    recovery_sharing = models.JSONField(_("recovery sharing"), default=dict, blank=True)
    short_rate_table = models.JSONField(_("short-period rate table (%)"), default=list, blank=True)
    minimum_premium = models.DecimalField(
        _("minimum premium"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    text_sha256 = models.CharField(_("SHA-256 of the wording"), max_length=64, blank=True)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("clause version")
        verbose_name_plural = _("clause versions")
        ordering = ["product_id", "rider_id", "-number"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(product__isnull=False) & Q(rider__isnull=True))
                | (Q(product__isnull=True) & Q(rider__isnull=False)),
                name="clause_for_product_xor_rider",
            ),
            models.UniqueConstraint(
                fields=["product", "number"],
                condition=Q(product__isnull=False),
                name="clause_number_unique_per_product",
            ),
            models.UniqueConstraint(
                fields=["rider", "number"],
                condition=Q(rider__isnull=False),
                name="clause_number_unique_per_rider",
            ),
        ]

    def __str__(self):
        owner = self.product or self.rider
        return f"{owner.code if owner else '?'} {self.label} (v{self.number})"

    def save(self, *args, **kwargs):
        # A guard, not a workflow: published wording is evidence and must never change.
        if self._stored_status() == ClauseStatus.PUBLISHED:
            raise PublishedClauseError(f"{self} is published and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._stored_status() == ClauseStatus.PUBLISHED:
            raise PublishedClauseError(f"{self} is published and cannot be deleted.")
        return super().delete(*args, **kwargs)

    def _stored_status(self):
        if not self.pk:
            return None
        return type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()

    def clean(self):
        if bool(self.product_id) == bool(self.rider_id):
            raise ValidationError(_("A clause version belongs to a product or to a rider."))

    @property
    def owner(self):
        return self.product or self.rider

    @property
    def is_published(self) -> bool:
        return self.status == ClauseStatus.PUBLISHED


class RatingRowMixin(models.Model):
    """Rating rows follow their clause version: editable in draft, frozen once it is published."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self._guard()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._guard()
        return super().delete(*args, **kwargs)

    def _parent_version_id(self):
        return self.clause_version_id

    def _guard(self):
        version_id = self._parent_version_id()
        if (
            version_id
            and ClauseVersion.objects.filter(pk=version_id, status=ClauseStatus.PUBLISHED).exists()
        ):
            raise PublishedClauseError("The rating table of a published clause version is frozen.")


class RatingSection(RatingRowMixin, BilingualNameMixin):
    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.CASCADE, related_name="rating_sections"
    )
    code = models.SlugField(_("code"), max_length=40)
    base_rate = models.DecimalField(_("base rate"), max_digits=9, decimal_places=6)
    per_item = models.BooleanField(
        _("per insured right"), default=False, help_text=_("Multiply by the number of rights.")
    )
    limit_options = models.JSONField(_("limit options"), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rating section")
        verbose_name_plural = _("rating sections")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clause_version", "code"], name="rating_section_code"),
            models.CheckConstraint(condition=Q(base_rate__gte=0), name="rating_section_rate_gte_0"),
        ]

    def __str__(self):
        return f"{self.code} ({self.name})"


class CoefficientTable(RatingRowMixin, BilingualNameMixin):
    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.CASCADE, related_name="coefficient_tables"
    )
    code = models.SlugField(_("code"), max_length=40)
    applies_to = models.JSONField(
        _("sections it applies to"), default=list, blank=True, help_text=_("Empty: every section.")
    )
    input_key = models.CharField(
        _("risk answer that selects the option"), max_length=40, blank=True
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("coefficient table")
        verbose_name_plural = _("coefficient tables")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clause_version", "code"], name="coefficient_table_code"
            )
        ]

    def __str__(self):
        return f"{self.code} ({self.name})"


class CoefficientOption(RatingRowMixin):
    table = models.ForeignKey(CoefficientTable, on_delete=models.CASCADE, related_name="options")
    code = models.SlugField(_("code"), max_length=40)
    label_zh = models.CharField(_("label (Chinese)"), max_length=200)
    label_en = models.CharField(_("label (English)"), max_length=200, blank=True)
    factor = models.DecimalField(_("factor"), max_digits=8, decimal_places=4)
    lower = models.DecimalField(
        _("band lower bound (exclusive)"), max_digits=16, decimal_places=4, null=True, blank=True
    )
    upper = models.DecimalField(
        _("band upper bound (inclusive)"), max_digits=16, decimal_places=4, null=True, blank=True
    )
    is_default = models.BooleanField(_("default"), default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("coefficient option")
        verbose_name_plural = _("coefficient options")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["table", "code"], name="coefficient_option_code"),
            models.CheckConstraint(condition=Q(factor__gt=0), name="coefficient_factor_positive"),
        ]

    def __str__(self):
        return self.label

    def _parent_version_id(self):
        return (
            CoefficientTable.objects.filter(pk=self.table_id)
            .values_list("clause_version_id", flat=True)
            .first()
        )

    @property
    def label(self) -> str:
        return pick_language({"zh": self.label_zh, "en": self.label_en})


class RiderFactor(RatingRowMixin):
    clause_version = models.ForeignKey(
        ClauseVersion, on_delete=models.CASCADE, related_name="rider_factors"
    )
    rider = models.ForeignKey(Rider, on_delete=models.PROTECT, related_name="+")
    factor = models.DecimalField(_("factor on the main premium"), max_digits=8, decimal_places=4)

    class Meta:
        verbose_name = _("rider price factor")
        verbose_name_plural = _("rider price factors")
        constraints = [
            models.UniqueConstraint(fields=["clause_version", "rider"], name="rider_factor_unique"),
            models.CheckConstraint(condition=Q(factor__gt=0), name="rider_factor_positive"),
        ]

    def __str__(self):
        return f"{self.rider.code} × {self.factor}"
