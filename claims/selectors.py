"""Reads of the applicant's claims, scoped to the firms the user is a member of and prefetched so
that a page costs the same number of queries for 2 or 2,000 rows.

Another firm's claim, document or letter does not exist for the user: lookups answer 404, never
403.
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from claims.choices import ClaimDocumentStatus, LetterStatus, ReinstatementStatus
from claims.models import (
    Claim,
    ClaimDocument,
    ClaimEvent,
    ClaimLetter,
    ClaimPayment,
    DocumentRequest,
    Reinstatement,
)
from portal.models import Membership
from underwriting.models import Policy


def _member_firm_ids(user):
    return Membership.objects.filter(user=user).values("firm_id")


def claims_visible_to(user):
    """Every claim of every firm the user belongs to (staff without a membership see none)."""
    if not getattr(user, "is_authenticated", False):
        return Claim.objects.none()
    return Claim.objects.filter(firm_id__in=_member_firm_ids(user))


def _documents():
    return Prefetch("documents", queryset=ClaimDocument.objects.order_by("uploaded_at", "id"))


def _requests():
    return Prefetch("document_requests", queryset=DocumentRequest.objects.order_by("sequence"))


def claims_of_firm(firm):
    """The firm's claims for the list page, newest first, each with what ``outstanding_items``
    reads (documents, requests, the clause's checklist) already loaded."""
    return (
        Claim.objects.filter(firm=firm)
        .select_related("policy", "policy__clause_version")
        .prefetch_related(
            Prefetch(
                "documents",
                queryset=ClaimDocument.objects.only(
                    "id", "claim_id", "code", "status", "uploaded_at"
                ).order_by("uploaded_at", "id"),
            ),
            _requests(),
        )
        .order_by("-notified_at", "-id")
    )


def claim_for_user(user, pk: int) -> Claim:
    """One claim of the user's firms with its policy, documents and requests; 404 otherwise."""
    return get_object_or_404(
        claims_visible_to(user)
        .select_related("policy", "policy__clause_version", "policy__product", "firm")
        .prefetch_related(_documents(), _requests()),
        pk=pk,
    )


def with_page_details(claim: Claim) -> Claim:
    """Load what the claim page shows besides the claim: public timeline, letters, payments."""
    claim.public_events = list(
        ClaimEvent.objects.filter(claim=claim, public=True).order_by("at", "id")
    )
    claim.letter_list = list(ClaimLetter.objects.filter(claim=claim).order_by("created_at", "id"))
    claim.payment_list = list(ClaimPayment.objects.filter(claim=claim).order_by("paid_on", "id"))
    return claim


def claim_detail_for_user(user, pk: int) -> Claim:
    """The claim with everything its page shows; 404 for anyone else's."""
    return with_page_details(claim_for_user(user, pk))


def claim_document_for_user(user, claim_pk: int, document_pk: int) -> ClaimDocument:
    """A document of a claim of the user's firms that may be served back: a rejected file (the
    background check found it broken or hostile) is not; 404 otherwise."""
    return get_object_or_404(
        ClaimDocument.objects.select_related("claim")
        .filter(claim__firm_id__in=_member_firm_ids(user), claim_id=claim_pk)
        .exclude(status=ClaimDocumentStatus.REJECTED),
        pk=document_pk,
    )


def claim_letter_for_user(user, claim_pk: int, letter_pk: int) -> ClaimLetter:
    """A ready letter of a claim of the user's firms; 404 otherwise."""
    return get_object_or_404(
        ClaimLetter.objects.select_related("claim").filter(
            claim__firm_id__in=_member_firm_ids(user),
            claim_id=claim_pk,
            status=LetterStatus.READY,
        ),
        pk=letter_pk,
    )


def policy_for_user(user, pk: int) -> Policy:
    """A policy of the user's firms, for reporting a claim or restoring its sum insured."""
    if not getattr(user, "is_authenticated", False):
        queryset = Policy.objects.none()
    else:
        queryset = Policy.objects.filter(firm_id__in=_member_firm_ids(user))
    return get_object_or_404(
        queryset.select_related("product", "clause_version", "firm"),
        pk=pk,
    )


def claimable_policies(firm, statuses):
    """The firm's policies a claim can be reported on, for the "report a claim" chooser."""
    return (
        Policy.objects.filter(firm=firm, status__in=list(statuses))
        .select_related("product")
        .order_by("-start_date", "-id")
    )


def claims_of_policy(policy):
    """The claims on one policy (already scoped by the caller), newest first."""
    return Claim.objects.filter(policy=policy).order_by("-notified_at", "-id")


def reinstatements_of_policy(policy):
    return Reinstatement.objects.filter(policy=policy).order_by("-requested_at", "-id")


def open_reinstatement(policy) -> Reinstatement | None:
    return Reinstatement.objects.filter(policy=policy, status=ReinstatementStatus.REQUESTED).first()
