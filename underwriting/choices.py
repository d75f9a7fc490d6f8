from django.db import models
from django.utils.translation import gettext_lazy as _


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
