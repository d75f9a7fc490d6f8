from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class LiabilityClass(models.TextChoices):
    EXPENSE = "expense", _("Expense cover")
    LIABILITY = "liability", _("Liability and loss cover")
    FINANCING = "financing", _("Financing cover")


class FunctionClass(models.TextChoices):
    INNOVATION = "innovation", _("Encourages innovation")
    COMMERCIALISATION = "commercialisation", _("Supports commercialisation")
    PROTECTION = "protection", _("Protects against risk")


class BuyerParty(models.TextChoices):
    APPLICANT = "applicant", _("IP applicant")
    AGENT = "agent", _("IP agency")
    VALUER = "valuer", _("Asset valuer")
    RIGHTS_HOLDER = "rights_holder", _("Rights holder")
    LENDER = "lender", _("Lender or borrower in a pledge loan")
    ACCUSED = "accused", _("Firm accused of infringement")
    BOTH = "both", _("Rights holder or accused firm")


class ProductStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ClauseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


# One transition table per stateful model; services consult these and nothing else.
PRODUCT_TRANSITIONS = {
    ProductStatus.DRAFT: {ProductStatus.PUBLISHED},
    ProductStatus.PUBLISHED: {ProductStatus.WITHDRAWN},
    ProductStatus.WITHDRAWN: {ProductStatus.PUBLISHED},
}
CLAUSE_TRANSITIONS = {
    ClauseStatus.DRAFT: {ClauseStatus.PUBLISHED},
    ClauseStatus.PUBLISHED: set(),
}


class QuestionnaireKind(models.TextChoices):
    VALUATION = "valuation", _("Patent valuation")
    RISK = "risk", _("Risk")


class RuleOutcome(models.TextChoices):
    # Ordered by precedence: one decline outweighs any number of referrals.
    DECLINE = "decline", _("Decline")
    REFER = "refer", _("Refer to an underwriter")
    EXCLUDE = "exclude", _("Add a special exclusion")


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    REFERRED = "referred", _("With an underwriter")
    INFO_REQUESTED = "info_requested", _("Question for you")
    QUOTED = "quoted", _("Quoted")
    DECLINED = "declined", _("Declined")
    ACCEPTED = "accepted", _("Quote accepted")
    EXPIRED = "expired", _("Quote expired")
    WITHDRAWN = "withdrawn", pgettext_lazy("application status", "Withdrawn")


APPLICATION_TRANSITIONS = {
    ApplicationStatus.DRAFT: {ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN},
    ApplicationStatus.SUBMITTED: {
        ApplicationStatus.QUOTED,
        ApplicationStatus.REFERRED,
        ApplicationStatus.DECLINED,
    },
    ApplicationStatus.REFERRED: {
        ApplicationStatus.QUOTED,
        ApplicationStatus.DECLINED,
        ApplicationStatus.INFO_REQUESTED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.INFO_REQUESTED: {ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN},
    ApplicationStatus.QUOTED: {
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.EXPIRED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.DECLINED: set(),
    ApplicationStatus.ACCEPTED: set(),
    ApplicationStatus.EXPIRED: set(),
    ApplicationStatus.WITHDRAWN: set(),
}
# Statuses in which the applicant may still change answers.
APPLICATION_EDITABLE = {ApplicationStatus.DRAFT}


class QuoteStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("Awaiting a senior underwriter")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    WITHDRAWN = "withdrawn", pgettext_lazy("quote status", "Withdrawn")
    SUPERSEDED = "superseded", _("Replaced by a later quote")
    REJECTED = "rejected", _("Not approved")


QUOTE_TRANSITIONS = {
    QuoteStatus.PENDING_APPROVAL: {
        QuoteStatus.OFFERED,
        QuoteStatus.REJECTED,
        QuoteStatus.SUPERSEDED,
        QuoteStatus.WITHDRAWN,
    },
    QuoteStatus.OFFERED: {
        QuoteStatus.ACCEPTED,
        QuoteStatus.EXPIRED,
        QuoteStatus.WITHDRAWN,
        QuoteStatus.SUPERSEDED,
    },
    QuoteStatus.ACCEPTED: set(),
    QuoteStatus.EXPIRED: set(),
    QuoteStatus.WITHDRAWN: set(),
    QuoteStatus.SUPERSEDED: set(),
    QuoteStatus.REJECTED: set(),
}


class DocumentStatus(models.TextChoices):
    NONE = "none", _("Not requested")
    QUEUED = "queued", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class PolicyStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    ISSUED = "issued", _("Issued, cover not yet started")
    IN_FORCE = "in_force", _("In force")
    EXPIRED = "expired", pgettext_lazy("policy status", "Expired")
    CANCELLED = "cancelled", _("Cancelled")
    LAPSED = "lapsed", _("Lapsed for non-payment")


POLICY_TRANSITIONS = {
    PolicyStatus.AWAITING_PAYMENT: {PolicyStatus.ISSUED, PolicyStatus.CANCELLED},
    PolicyStatus.ISSUED: {PolicyStatus.IN_FORCE, PolicyStatus.CANCELLED, PolicyStatus.LAPSED},
    PolicyStatus.IN_FORCE: {PolicyStatus.EXPIRED, PolicyStatus.CANCELLED, PolicyStatus.LAPSED},
    PolicyStatus.EXPIRED: set(),
    PolicyStatus.CANCELLED: set(),
    PolicyStatus.LAPSED: set(),
}


class InstalmentStatus(models.TextChoices):
    DUE = "due", _("Due")
    PAID = "paid", _("Paid")
    WAIVED = "waived", _("No longer due")


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    SANDBOX = "sandbox", _("Sandbox payment provider")


class CancellationParty(models.TextChoices):
    POLICYHOLDER = "policyholder", _("Policyholder")
    INSURER = "insurer", _("Insurer")
