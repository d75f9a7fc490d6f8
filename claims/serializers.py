"""Serializers of the claims REST API (claims/api.py).

Input serializers check shapes only (types, lengths, that the policy is one of the user's firms);
the services decide what is valid, and their refusals reach the client through
``portal.api.exception_handler``. Output serializers read claims loaded by ``claims.selectors``
(``claim_detail_for_user`` for the detail), so they cost no further queries.
"""

import functools
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from claims import services
from claims.choices import (
    CLAIM_ACCEPTS_DOCUMENTS,
    ClaimDocumentStatus,
    ClaimStatus,
    LetterKind,
    LetterStatus,
)
from claims.forms import item_label, right_label
from claims.models import Claim
from portal.api import choice_labels, row_date, row_datetime, row_decimal, row_label
from portal.api_views import MAX_ID
from portal.models import Membership
from underwriting.models import Policy, pick_language

MONEY = {"max_digits": 14, "decimal_places": 2}
MAX_AMOUNT = Decimal("999999999999.99")
# The largest id a BigAutoField holds: a larger one would overflow the database's integer.
ZERO = Decimal("0.00")
DEADLINE_LABELS = dict(services.DEADLINE_LABELS)


def _absolute(context, url: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


# --- Input ------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class ScopedPolicyField(serializers.PrimaryKeyRelatedField):
    """A policy of one of the requesting user's firms; any other id "does not exist"."""

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return Policy.objects.none()
        firms = Membership.objects.filter(user=user).values("firm_id")
        return Policy.objects.filter(firm_id__in=firms).select_related(
            "clause_version", "firm", "product"
        )


class ClaimNotifySerializer(serializers.Serializer):
    policy = ScopedPolicyField(help_text=gettext_lazy("Id of a policy of one of your firms."))
    incident_date = serializers.DateField()
    learned_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("The day you learned of the incident, if later than the incident."),
    )
    cause_number = serializers.IntegerField(
        min_value=1,
        help_text=gettext_lazy("1-based number of the covered cause in the policy's clause."),
    )
    right_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=500
    )
    description = serializers.CharField(max_length=10000)
    amount_claimed = serializers.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, **MONEY
    )

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "policy": data["policy"],
            "incident_date": data["incident_date"],
            "learned_on": data.get("learned_on"),
            "cause_number": data["cause_number"],
            "right_ids": data.get("right_ids") or [],
            "description": data["description"],
            "amount_claimed": data["amount_claimed"],
        }


class ClaimDocumentUploadSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=40, help_text=gettext_lazy('A code of the claim\'s checklist, or "other".')
    )
    # Empty files reach the service, which refuses them with its own code ("empty").
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class ClaimWithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ClaimListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ClaimStatus.choices, required=False)
    policy = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=gettext_lazy("Policy id.")
    )
    ordering = serializers.ChoiceField(
        choices=["notified_at", "-notified_at"], required=False, default="-notified_at"
    )


# --- Output -----------------------------------------------------------------------------------


class ChecklistItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.SerializerMethodField()
    required = serializers.SerializerMethodField()

    def get_label(self, item) -> str:
        return item_label(item)

    def get_required(self, item) -> bool:
        return bool(item.get("required"))


class OutstandingItemSerializer(ChecklistItemSerializer):
    note = serializers.SerializerMethodField()
    requested = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "True when the insurer asked for it; false for a required checklist item."
        )
    )

    def get_note(self, item) -> str:
        return item.get("note") or ""

    def get_requested(self, item) -> bool:
        return bool(item.get("requested"))


class DeadlineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    start = serializers.DateField()
    due = serializers.DateField()
    done_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["done", "done_late", "overdue", "due_today", "due_soon", "open"],
        help_text=gettext_lazy("Where the deadline stands today."),
    )
    days_left = serializers.IntegerField(
        help_text=gettext_lazy("Negative once the due date has passed.")
    )


class ClaimEventSerializer(serializers.Serializer):
    code = serializers.SerializerMethodField()
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    to_status = serializers.CharField()
    params = serializers.JSONField()
    reason = serializers.CharField()

    def get_code(self, event) -> str:
        return event.code or event.kind


class ClaimDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    original_name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    status = serializers.ChoiceField(choices=ClaimDocumentStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    rejection_reason = serializers.CharField()
    page_count = serializers.IntegerField(allow_null=True)
    uploaded_at = serializers.DateTimeField()
    file_url = serializers.SerializerMethodField(
        help_text=gettext_lazy("Download URL; null for a document the background check rejected.")
    )

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, document) -> str | None:
        if document.status == ClaimDocumentStatus.REJECTED:
            return None
        url = reverse(
            "api:claim-document-file",
            kwargs={"pk": document.claim_id, "document_pk": document.pk},
        )
        return _absolute(self.context, url)


class ClaimLetterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LetterKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    reference = serializers.CharField()
    ready_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, letter) -> str:
        url = reverse(
            "api:claim-letter-file", kwargs={"pk": letter.claim_id, "letter_pk": letter.pk}
        )
        return _absolute(self.context, url)


class ClaimSummarySerializer(serializers.Serializer):
    """A row of the list: what the claims list page shows."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=ClaimStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    policy = serializers.IntegerField(source="policy_id")
    policy_number = serializers.CharField(source="policy.number", allow_null=True)
    incident_date = serializers.DateField()
    amount_claimed = serializers.DecimalField(**MONEY)
    notified_at = serializers.DateTimeField()
    next_deadline_on = serializers.DateField(
        allow_null=True, help_text=gettext_lazy("The insurer's earliest deadline still to be met.")
    )
    next_deadline_kind = serializers.CharField()
    missing_count = serializers.SerializerMethodField(
        help_text=gettext_lazy("How many documents are still missing.")
    )
    url = serializers.SerializerMethodField()

    def get_missing_count(self, claim) -> int:
        if claim.status not in CLAIM_ACCEPTS_DOCUMENTS:
            return 0
        return len(services.outstanding_items(claim))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, claim) -> str:
        return _absolute(self.context, reverse("api:claim-detail", kwargs={"pk": claim.pk}))

    @functools.cached_property
    def _status_labels(self) -> dict:
        # The child of a list serializer is one instance for every row: once per list.
        return choice_labels(Claim, "status")

    def to_representation(self, claim):
        """The fields above, written out (see portal/api.py, "List rows")."""
        return {
            "id": claim.id,
            "number": claim.number,
            "status": claim.status,
            "status_label": row_label(self._status_labels, claim.status),
            "policy": claim.policy_id,
            "policy_number": claim.policy.number,
            "incident_date": row_date(claim.incident_date),
            "amount_claimed": row_decimal(claim.amount_claimed, **MONEY),
            "notified_at": row_datetime(claim.notified_at),
            "next_deadline_on": row_date(claim.next_deadline_on),
            "next_deadline_kind": claim.next_deadline_kind,
            "missing_count": self.get_missing_count(claim),
            "url": f"{self._list_url}{claim.pk}/",
        }

    @functools.cached_property
    def _list_url(self) -> str:
        # A claim's URL is the list's plus its id (claims/api.py): one reverse() for the list.
        return _absolute(self.context, reverse("api:claim-list"))


class ClaimFactsSerializer(serializers.Serializer):
    incident_date = serializers.DateField()
    learned_on = serializers.DateField(allow_null=True)
    cause_number = serializers.IntegerField()
    cause = serializers.SerializerMethodField(
        help_text=gettext_lazy("The cause as the clause words it.")
    )
    rights = serializers.SerializerMethodField(
        help_text=gettext_lazy("The insured rights concerned.")
    )
    description = serializers.CharField()
    notified_at = serializers.DateTimeField()

    def get_cause(self, claim) -> str:
        return pick_language(claim.cause)

    def get_rights(self, claim) -> list[str]:
        return [right_label(item) for item in claim.rights or []]


class ClaimAmountsSerializer(serializers.Serializer):
    claimed = serializers.DecimalField(source="amount_claimed", **MONEY)
    agreed = serializers.DecimalField(source="amount_agreed", allow_null=True, **MONEY)
    paid = serializers.SerializerMethodField()
    policy_sum_insured = serializers.DecimalField(source="policy.sum_insured", **MONEY)
    policy_remaining_sum_insured = serializers.DecimalField(
        source="policy.remaining_sum_insured", **MONEY
    )

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_paid(self, claim) -> str:
        payments = getattr(claim, "payment_list", None)
        if payments is None:
            payments = list(claim.payments.all())
        return f"{sum((payment.amount for payment in payments), ZERO):.2f}"


class ClaimDetailSerializer(ClaimSummarySerializer):
    """Everything the claim page shows. Expects a claim from ``claim_detail_for_user``."""

    decision = serializers.CharField()
    decided_on = serializers.DateField(allow_null=True)
    documents_complete_on = serializers.DateField(allow_null=True)
    facts = ClaimFactsSerializer(source="*")
    amounts = ClaimAmountsSerializer(source="*")
    accepts_documents = serializers.SerializerMethodField()
    outstanding_items = serializers.SerializerMethodField()
    checklist = serializers.SerializerMethodField()
    deadlines = serializers.SerializerMethodField(
        help_text=gettext_lazy("The insurer's statutory deadlines (Insurance Law art. 23-25).")
    )
    timeline = ClaimEventSerializer(many=True, source="public_events")
    documents = ClaimDocumentSerializer(many=True, source="documents.all")
    letters = serializers.SerializerMethodField(help_text=gettext_lazy("Letters that are ready."))

    # One claim, mostly nested: DRF's own field by field walk.
    to_representation = serializers.Serializer.to_representation

    def get_accepts_documents(self, claim) -> bool:
        return claim.status in CLAIM_ACCEPTS_DOCUMENTS

    @extend_schema_field(OutstandingItemSerializer(many=True))
    def get_outstanding_items(self, claim):
        if claim.status not in CLAIM_ACCEPTS_DOCUMENTS:
            return []
        return OutstandingItemSerializer(services.outstanding_items(claim), many=True).data

    @extend_schema_field(ChecklistItemSerializer(many=True))
    def get_checklist(self, claim):
        return ChecklistItemSerializer(services.checklist(claim), many=True).data

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, claim):
        """As on the page: a withdrawn claim owes nothing more, so only met deadlines stay."""
        today = timezone.localdate()
        rows = []
        for deadline in services.claim_deadlines(claim):
            if claim.status == ClaimStatus.WITHDRAWN and deadline.done_on is None:
                continue
            kind = str(deadline.kind)
            rows.append(
                {
                    "kind": kind,
                    "label": str(DEADLINE_LABELS.get(kind, kind)),
                    "start": deadline.start,
                    "due": deadline.due,
                    "done_on": deadline.done_on,
                    "status": str(deadline.status(today)),
                    "days_left": deadline.days_left(today),
                }
            )
        return DeadlineSerializer(rows, many=True).data

    @extend_schema_field(ClaimLetterSerializer(many=True))
    def get_letters(self, claim):
        letters = getattr(claim, "letter_list", None)
        if letters is None:
            letters = list(claim.letters.all())
        ready = [letter for letter in letters if letter.status == LetterStatus.READY]
        return ClaimLetterSerializer(ready, many=True, context=self.context).data
