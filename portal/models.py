import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from stdnum.cn import uscc

from portal import ipnumbers
from portal.choices import (
    AssetKind,
    AuthorityLevel,
    FirmSize,
    Industry,
    LegalStatus,
    MembershipRole,
    PatentType,
    WorkKind,
)


class UserManager(DjangoUserManager):
    def _create_user_object(self, username, email, password, **extra_fields):
        email = self.normalize_email(email)
        user = self.model(email=email, **extra_fields)
        user.password = ""
        if password is not None:
            user.set_password(password)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        user = self._create_user_object(None, email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_staff = models.BooleanField(
        _("insurer staff"),
        default=False,
        help_text=_("Staff work in the insurer's administration site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name or self.email.split("@")[0]

    @property
    def is_officer(self) -> bool:
        # Every request asks (the MFA middleware, the navigation); an officer's pages then want
        # the authority too, so the membership is read once with it and kept on the user. That
        # someone is no officer is kept in the cache between requests (portal.access_cache).
        related = type(self).officer_membership.related
        if not related.is_cached(self):
            from portal import access_cache

            membership = None
            if self.pk and not access_cache.known_not_officer(self.pk):
                membership = (
                    OfficerMembership.objects.select_related("authority")
                    .filter(user_id=self.pk)
                    .first()
                )
                if membership is None:
                    access_cache.remember_not_officer(self.pk)
            related.set_cached_value(self, membership)
            if membership is not None:
                related.field.set_cached_value(membership, self)
        return related.get_cached_value(self) is not None


def validate_uscc(value):
    if not uscc.is_valid(value):
        raise ValidationError(
            _(
                "“%(value)s” is not a valid Unified Social Credit Code "
                "(18 characters with a check character)."
            ),
            params={"value": value},
            code="invalid_uscc",
        )


def validate_region_code(value):
    if not ipnumbers.is_region_code(value):
        raise ValidationError(
            _("Enter a six-digit administrative division code, for example 320200 for Wuxi."),
            code="invalid_region",
        )


def bilingual_name(name_zh: str, name_en: str) -> str:
    """The name to show in the active language: the English one in English when there is one,
    else the Chinese. Also for names read as plain columns (the referral queue's firms)."""
    if (get_language() or "").startswith("en") and name_en:
        return name_en
    return name_zh


class BilingualNameMixin(models.Model):
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return bilingual_name(self.name_zh, self.name_en)


class Firm(BilingualNameMixin):
    uscc = models.CharField(
        _("Unified Social Credit Code"), max_length=18, unique=True, validators=[validate_uscc]
    )
    address = models.CharField(_("registered address"), max_length=300, blank=True)
    region_code = models.CharField(
        _("administrative region code"), max_length=6, validators=[validate_region_code]
    )
    industry = models.CharField(_("industry"), max_length=40, choices=Industry.choices)
    size = models.CharField(_("size"), max_length=20, choices=FirmSize.choices)
    qualifications = models.JSONField(_("qualifications"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("firm")
        verbose_name_plural = _("firms")
        ordering = ["name_zh"]

    def save(self, *args, **kwargs):
        self.uscc = uscc.compact(self.uscc)
        super().save(*args, **kwargs)


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        _("role"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "firm"], name="membership_unique_user_firm")
        ]

    def __str__(self):
        return f"{self.user} @ {self.firm} ({self.get_role_display()})"

    @property
    def is_owner(self) -> bool:
        return self.role == MembershipRole.OWNER


def _invitation_token():
    return secrets.token_urlsafe(32)


def _invitation_expiry():
    return timezone.now() + timedelta(days=14)


class Invitation(models.Model):
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(
        _("role"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self):
        return f"{self.email} → {self.firm}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class Authority(BilingualNameMixin):
    """A government body that runs premium-subsidy programmes for its region."""

    region_code = models.CharField(
        _("administrative region code"), max_length=6, validators=[validate_region_code]
    )
    level = models.CharField(_("level"), max_length=10, choices=AuthorityLevel.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("authority")
        verbose_name_plural = _("authorities")
        ordering = ["region_code", "name_zh"]


class OfficerMembership(models.Model):
    """An officer works for exactly one authority."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="officer_membership")
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="officers")
    title = models.CharField(_("title"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("officer membership")
        verbose_name_plural = _("officer memberships")

    def __str__(self):
        return f"{self.user} ({self.authority})"


class IPAsset(models.Model):
    """One IP right of a firm. Kind-specific fields stay blank for the kinds they do not fit."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="ip_assets")
    kind = models.CharField(_("kind"), max_length=30, choices=AssetKind.choices)
    number = models.CharField(_("application or registration number"), max_length=60, blank=True)
    title = models.CharField(_("title or name"), max_length=300)
    patent_type = models.CharField(
        _("patent type"), max_length=20, choices=PatentType.choices, blank=True
    )
    filing_date = models.DateField(_("filing date"), null=True, blank=True)
    grant_date = models.DateField(_("grant or registration date"), null=True, blank=True)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    claim_count = models.PositiveSmallIntegerField(_("number of claims"), null=True, blank=True)
    legal_status = models.CharField(
        _("legal status"), max_length=20, choices=LegalStatus.choices, default=LegalStatus.GRANTED
    )
    family_countries = models.JSONField(_("countries of the family"), default=list, blank=True)
    licences_granted = models.PositiveIntegerField(_("licences granted"), default=0)
    nice_classes = models.JSONField(_("Nice classes"), default=list, blank=True)
    work_kind = models.CharField(
        _("kind of work"), max_length=20, choices=WorkKind.choices, blank=True
    )
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("IP asset")
        verbose_name_plural = _("IP assets")
        ordering = ["kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "kind", "number"],
                condition=~Q(number=""),
                name="ipasset_unique_number_per_firm",
            )
        ]
        indexes = [
            models.Index(fields=["firm", "kind"]),
            # The dashboard's "expiring soon" card: the firm's rights by expiry date.
            models.Index(fields=["firm", "expiry_date"], name="ipasset_firm_expiry"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number or ''} {self.title}".strip()

    @property
    def is_in_force(self) -> bool:
        if self.legal_status != LegalStatus.GRANTED:
            return False
        return self.expiry_date is None or self.expiry_date >= timezone.localdate()

    @property
    def remaining_years(self):
        if not self.expiry_date:
            return None
        days = (self.expiry_date - timezone.localdate()).days
        return max(days, 0) / 365.25


class OutboxEmail(models.Model):
    """A copy of every mail sent in development, shown on the dev outbox page."""

    to = models.TextField()
    subject = models.CharField(max_length=500)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")

    def __str__(self):
        return self.subject


class Notification(models.Model):
    """An in-app message to one user; the same event is also mailed (see portal.notifications)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    firm = models.ForeignKey(
        Firm, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox")
        ]

    def __str__(self):
        return self.title


class IdempotencyKey(models.Model):
    """The first response to a create sent with an ``Idempotency-Key``, kept to answer retries
    (portal/api.py)."""

    KEY_MAX = 100

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=KEY_MAX)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key}"
