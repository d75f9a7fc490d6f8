from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("programme status", "Draft")
    OPEN = "open", pgettext_lazy("programme status", "Open")
    CLOSED = "closed", pgettext_lazy("programme status", "Closed")


class RequestStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("subsidy status", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("subsidy status", "Submitted")
    UNDER_REVIEW = "under_review", pgettext_lazy("subsidy status", "Under review")
    RETURNED = "returned", pgettext_lazy("subsidy status", "Returned for information")
    APPROVED = "approved", pgettext_lazy("subsidy status", "Approved")
    REJECTED = "rejected", pgettext_lazy("subsidy status", "Rejected")
    PUBLICISED = "publicised", pgettext_lazy("subsidy status", "Published for objections")
    DISBURSED = "disbursed", pgettext_lazy("subsidy status", "Paid")
    CLAWED_BACK = "clawed_back", pgettext_lazy("subsidy status", "Clawed back")
    WITHDRAWN = "withdrawn", pgettext_lazy("subsidy status", "Withdrawn")


# One transition table; services consult it and nothing else. An objection during publication
# sends the request back under review (its reservation is released until it is approved again).
REQUEST_TRANSITIONS = {
    RequestStatus.DRAFT: {RequestStatus.SUBMITTED, RequestStatus.WITHDRAWN},
    RequestStatus.SUBMITTED: {RequestStatus.UNDER_REVIEW, RequestStatus.WITHDRAWN},
    RequestStatus.UNDER_REVIEW: {
        RequestStatus.APPROVED,
        RequestStatus.REJECTED,
        RequestStatus.RETURNED,
    },
    RequestStatus.RETURNED: {RequestStatus.UNDER_REVIEW, RequestStatus.WITHDRAWN},
    RequestStatus.APPROVED: {RequestStatus.PUBLICISED, RequestStatus.UNDER_REVIEW},
    RequestStatus.PUBLICISED: {RequestStatus.DISBURSED, RequestStatus.UNDER_REVIEW},
    RequestStatus.REJECTED: set(),
    RequestStatus.DISBURSED: {RequestStatus.CLAWED_BACK},
    RequestStatus.CLAWED_BACK: set(),
    RequestStatus.WITHDRAWN: set(),
}
# Statuses that hold money in the budget ledger (reserved or paid).
REQUEST_HOLDS_BUDGET = {
    RequestStatus.APPROVED,
    RequestStatus.PUBLICISED,
    RequestStatus.DISBURSED,
}
# The officer's queue: what is waiting for an officer's decision.
REQUEST_IN_QUEUE = {RequestStatus.SUBMITTED, RequestStatus.UNDER_REVIEW}


class BatchStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("batch status", "Being prepared")
    PAID = "paid", pgettext_lazy("batch status", "Paid by the treasury")


class EligibilityOutcome(models.TextChoices):
    PASS = "pass", _("Met")
    FAIL = "fail", _("Not met")
    WARN = "warn", _("Check by hand")
