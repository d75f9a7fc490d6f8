"""Reads of the subsidy pages, scoped and prefetched.

The applicant's reads are scoped to the firms the user is a member of: another firm's request or
document does not exist for the user (404, never 403). Lists cost the same number of queries for
2 or 2,000 rows. The public publication list (公示) reads only what it shows.
"""

from datetime import date

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404

from portal.models import Authority, Membership
from subsidies.choices import ProgrammeStatus, RequestStatus
from subsidies.models import Programme, SubsidyDocument, SubsidyEvent, SubsidyRequest
from underwriting.models import Policy


def _member_firm_ids(user):
    return Membership.objects.filter(user=user).values("firm_id")


def requests_visible_to(user):
    """Every request of every firm the user belongs to (anyone else sees none)."""
    if not getattr(user, "is_authenticated", False):
        return SubsidyRequest.objects.none()
    return SubsidyRequest.objects.filter(firm_id__in=_member_firm_ids(user))


def requests_of_firm(firm):
    """The firm's requests for the list page, newest first."""
    return (
        SubsidyRequest.objects.filter(firm=firm)
        .select_related("programme", "policy")
        .order_by("-created_at", "-id")
    )


def _documents():
    return Prefetch("documents", queryset=SubsidyDocument.objects.order_by("uploaded_at", "id"))


def request_for_user(user, pk: int) -> SubsidyRequest:
    """One request of the user's firms with its programme, policy and documents; 404 otherwise."""
    return get_object_or_404(
        requests_visible_to(user)
        .select_related("programme", "programme__authority", "policy", "policy__product", "firm")
        .prefetch_related(_documents()),
        pk=pk,
    )


def with_page_details(request: SubsidyRequest) -> SubsidyRequest:
    """Load the timeline the request page shows: the public events, and the (internal) record of
    the amount reserved by each approval, which the page prints with the approval."""
    request.timeline_events = list(
        SubsidyEvent.objects.filter(request=request)
        .filter(Q(public=True) | Q(code="reserved"))
        .order_by("at", "id")
    )
    return request


def request_detail_for_user(user, pk: int) -> SubsidyRequest:
    return with_page_details(request_for_user(user, pk))


def document_for_user(user, request_pk: int, document_pk: int) -> SubsidyDocument:
    """A document of a request of the user's firms; 404 otherwise."""
    return get_object_or_404(
        SubsidyDocument.objects.select_related("request")
        .filter(request__firm_id__in=_member_firm_ids(user), request_id=request_pk)
        .exclude(status="rejected"),
        pk=document_pk,
    )


def policy_for_user(user, pk: int) -> Policy:
    """A policy of the user's firms, to apply for a subsidy on; 404 otherwise."""
    if not getattr(user, "is_authenticated", False):
        queryset = Policy.objects.none()
    else:
        queryset = Policy.objects.filter(firm_id__in=_member_firm_ids(user))
    return get_object_or_404(queryset.select_related("product", "firm"), pk=pk)


def programme_by_code(code: str) -> Programme:
    return get_object_or_404(Programme.objects.select_related("authority"), code=code)


# The columns of the officer's queue page; its API list reads a few more (officer_request_list).
# Neither reads the eligibility results or the programme's and firm's JSON rules: decoding them
# for every row cost more than the rest of the row.
OFFICER_QUEUE_COLUMNS = (
    "pk",
    "number",
    "status",
    "premium_paid",
    "expected_amount",
    "eligibility_outcome",
    "submitted_at",
    "firm__name_zh",
    "firm__name_en",
    "firm__uscc",
    "programme__name_zh",
    "programme__name_en",
)


def officer_queue_rows(queryset):
    """The queue page's rows (already scoped and filtered by the caller) as dicts."""
    return queryset.values(*OFFICER_QUEUE_COLUMNS)


def officer_request_list(authority):
    """The authority's requests for the officers' API list, with the columns its rows show
    (``OfficerRequestSummarySerializer``) and nothing else."""
    return (
        SubsidyRequest.objects.filter(authority=authority)
        .select_related("programme", "firm", "policy__product")
        .only(
            "id",
            "number",
            "status",
            "year",
            "premium_paid",
            "expected_amount",
            "approved_amount",
            "eligibility_outcome",
            "submitted_at",
            "batch_id",
            "programme__code",
            "firm__name_zh",
            "firm__name_en",
            "firm__uscc",
            "firm__region_code",
            "policy__number",
            "policy__product__code",
        )
    )


def officer_queue_programmes(authority):
    """The authority's programmes for the queue's filter: what the choice shows."""
    return Programme.objects.filter(authority=authority).only("id", "code", "name_zh", "name_en")


def requests_of_policy(policy):
    """The requests on one policy (already scoped by the caller), newest first."""
    return (
        SubsidyRequest.objects.filter(policy=policy)
        .select_related("programme")
        .order_by("-created_at", "-id")
    )


def latest_question(request: SubsidyRequest) -> SubsidyEvent | None:
    """The officer's question: the reason of the latest "returned" event."""
    return (
        SubsidyEvent.objects.filter(request=request, code="returned").order_by("-at", "-id").first()
    )


def open_programmes(today: date, limit: int = 10):
    """Programmes taking applications today, closing soonest first."""
    return (
        Programme.objects.filter(
            status=ProgrammeStatus.OPEN, window_start__lte=today, window_end__gte=today
        )
        .select_related("authority")
        .order_by("window_end", "code")[:limit]
    )


# --- The public publication list (公示) --------------------------------------------------------


def publicised(today: date, authority_id: int | None = None):
    """Requests published for objections today. Only the columns the public page shows are read:
    nothing else about the firm or its policy leaves the database."""
    queryset = SubsidyRequest.objects.filter(
        status=RequestStatus.PUBLICISED, publication_ends__gte=today
    )
    if authority_id is not None:
        queryset = queryset.filter(authority_id=authority_id)
    return (
        queryset.select_related("firm", "programme", "authority")
        .only(
            "id",
            "number",
            "approved_amount",
            "publication_starts",
            "publication_ends",
            "firm__id",
            "firm__name_zh",
            "firm__name_en",
            "programme__id",
            "programme__name_zh",
            "programme__name_en",
            "authority__id",
            "authority__name_zh",
            "authority__name_en",
        )
        .order_by("-publication_starts", "authority_id", "number")
    )


def publication_authorities():
    """The authorities that run programmes, for the publication list's filter."""
    return Authority.objects.filter(programmes__isnull=False).distinct().order_by("region_code")
