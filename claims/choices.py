from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ClaimStatus(models.TextChoices):
    NOTIFIED = "notified", _("Reported")
    DOCUMENTS_REQUESTED = "documents_requested", _("Documents requested")
    UNDER_ASSESSMENT = "under_assessment", _("Under assessment")
    ACCEPTED = "accepted", _("Covered, amount being settled")
    SETTLED = "settled", _("Amount agreed")
    PAID = "paid", pgettext_lazy("claim status", "Paid")
    REJECTED = "rejected", pgettext_lazy("claim status", "Rejected")
    WITHDRAWN = "withdrawn", pgettext_lazy("claim status", "Withdrawn")


# One transition table; services consult it and nothing else. Reopening (new facts after a
# rejection or a final payment) takes a closed claim back to assessment.
CLAIM_TRANSITIONS = {
    ClaimStatus.NOTIFIED: {
        ClaimStatus.DOCUMENTS_REQUESTED,
        ClaimStatus.UNDER_ASSESSMENT,
        ClaimStatus.WITHDRAWN,
    },
    ClaimStatus.DOCUMENTS_REQUESTED: {ClaimStatus.UNDER_ASSESSMENT, ClaimStatus.WITHDRAWN},
    ClaimStatus.UNDER_ASSESSMENT: {
        ClaimStatus.DOCUMENTS_REQUESTED,
        ClaimStatus.ACCEPTED,
        ClaimStatus.REJECTED,
        ClaimStatus.WITHDRAWN,
    },
    ClaimStatus.ACCEPTED: {ClaimStatus.SETTLED},
    ClaimStatus.SETTLED: {ClaimStatus.PAID},
    ClaimStatus.PAID: {ClaimStatus.UNDER_ASSESSMENT},
    ClaimStatus.REJECTED: {ClaimStatus.UNDER_ASSESSMENT},
    ClaimStatus.WITHDRAWN: set(),
}
# Claims the insurer still has to act on: they appear on the deadline dashboard.
CLAIM_OPEN = {
    ClaimStatus.NOTIFIED,
    ClaimStatus.DOCUMENTS_REQUESTED,
    ClaimStatus.UNDER_ASSESSMENT,
    ClaimStatus.ACCEPTED,
    ClaimStatus.SETTLED,
}
# While documents may still be added by the applicant.
CLAIM_ACCEPTS_DOCUMENTS = {
    ClaimStatus.NOTIFIED,
    ClaimStatus.DOCUMENTS_REQUESTED,
    ClaimStatus.UNDER_ASSESSMENT,
    ClaimStatus.ACCEPTED,
}


class Decision(models.TextChoices):
    ACCEPT = "accept", _("Covered")
    REJECT = "reject", _("Not covered")


class ClaimDocumentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be checked")
    PROCESSING = "processing", _("Being checked")
    READY = "ready", _("Ready")
    REJECTED = "rejected", pgettext_lazy("document status", "Rejected")


class ClaimPaymentKind(models.TextChoices):
    ADVANCE = "advance", _("Advance payment")
    FINAL = "final", _("Final payment")


class LetterKind(models.TextChoices):
    REJECTION = "rejection", _("Rejection letter")
    SETTLEMENT = "settlement", _("Settlement letter")


class LetterStatus(models.TextChoices):
    QUEUED = "queued", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    DOCUMENT = "document", _("Document")
    REQUEST = "request", _("Documents requested")
    ASSIGNMENT = "assignment", _("Assignment")
    RESERVE = "reserve", _("Reserve")
    ASSESSMENT = "assessment", _("Assessment")
    PAYMENT = "payment", _("Payment")
    RECOVERY = "recovery", _("Recovery")
    LETTER = "letter", _("Letter")
    NOTE = "note", _("Note")


class RecoverySharing(models.TextChoices):
    """How money recovered from the liable party is split (clause data, per product)."""

    # Insurance Law art. 60: the insurer's subrogation reaches as far as it paid; what is
    # recovered beyond that belongs to the insured.
    INSURER_FIRST = "insurer_first", _("Insurer first, up to what it paid")
    # The insured's own uninsured loss (deductible, under-insurance) is made good first.
    INSURED_FIRST = "insured_first", _("Insured first, up to its uninsured loss")
    PRO_RATA = "pro_rata", _("In proportion to what each bore")
    PERCENTAGE = "percentage", _("A fixed percentage to the insurer")


class ReinstatementStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
