"""Reads of the applicant's workspace: applications, quotes and policies, scoped to the firms the
user is a member of and prefetched so that a page costs the same number of queries for 3 or 3,000
rows.

Another firm's application, quote or policy does not exist for the user: lookups answer 404, never
403.
"""

import pickle

from django.db.models import OuterRef, Prefetch, Subquery, prefetch_related_objects
from django.shortcuts import get_object_or_404

from portal.models import IPAsset, Membership
from underwriting.choices import (
    ApplicationStatus,
    ClauseStatus,
    DocumentStatus,
    InstalmentStatus,
    ProductStatus,
    QuoteStatus,
)
from underwriting.models import (
    Application,
    ApplicationAsset,
    ApplicationEvent,
    ClauseVersion,
    CoefficientTable,
    Instalment,
    Policy,
    PolicyDocument,
    Product,
    Quote,
    Rider,
    RiderFactor,
    UnderwriterQuestion,
)

# Quotes the applicant sees: a quote waiting for a senior underwriter's approval, or one the
# senior underwriter did not approve, is the insurer's internal business.
VISIBLE_QUOTE_STATUSES = (
    QuoteStatus.OFFERED,
    QuoteStatus.ACCEPTED,
    QuoteStatus.EXPIRED,
    QuoteStatus.WITHDRAWN,
    QuoteStatus.SUPERSEDED,
)
LIVE_QUOTE_STATUSES = (QuoteStatus.OFFERED, QuoteStatus.ACCEPTED)


def _member_firm_ids(user):
    return Membership.objects.filter(user=user).values("firm_id")


def applications_visible_to(user):
    """Every application of every firm the user belongs to (staff and officers included: without
    a membership they see none)."""
    if not getattr(user, "is_authenticated", False):
        return Application.objects.none()
    return Application.objects.filter(firm_id__in=_member_firm_ids(user))


# What a row of the application list shows: reference (id and year), product, status, sum insured,
# last change, and the premium of its live quote.
APPLICATION_LIST_COLUMNS = (
    "id",
    "firm_id",
    "status",
    "sum_insured",
    "created_at",
    "updated_at",
    "product__name_zh",
    "product__name_en",
)


def live_quotes_of_row():
    """An application's offered or accepted quotes, newest first, for a subquery on the
    applications being read (``OuterRef("pk")``): the list page and the API list take the first."""
    return Quote.objects.filter(
        application=OuterRef("pk"), status__in=LIVE_QUOTE_STATUSES
    ).order_by("-created_at", "-id")


def applications_of_firm(firm):
    """The firm's applications for the list page, newest activity first, each with
    ``live_premium``: the premium of its latest offered or accepted quote, None without one.
    Only the columns a row shows are read; the quote comes with the row, not as another query."""
    return (
        Application.objects.filter(firm=firm)
        .select_related("product")
        .only(*APPLICATION_LIST_COLUMNS)
        .annotate(live_premium=Subquery(live_quotes_of_row().values("premium")[:1]))
        .order_by("-updated_at", "-id")
    )


def _rider_factors_prefetch(prefix: str = "clause_version__") -> Prefetch:
    return Prefetch(
        f"{prefix}rider_factors",
        queryset=RiderFactor.objects.filter(rider__status=ProductStatus.PUBLISHED)
        .select_related("rider")
        .order_by("rider__code"),
    )


def _clause_prefetches(prefix: str = "clause_version__") -> list:
    return [
        f"{prefix}rating_sections",
        f"{prefix}questionnaires",
        Prefetch(
            f"{prefix}coefficient_tables",
            queryset=CoefficientTable.objects.prefetch_related("options"),
        ),
        _rider_factors_prefetch(prefix),
    ]


# A published wording never changes: the admin shows its sections, tables and questionnaires
# read-only. So a process reads them once and afterwards hands each request its own copy (a
# pickle round trip, since a page may annotate what it is given), which costs a fraction of the
# three to four queries and the model instances they build. Rider factors stay a query: a rider
# can be withdrawn while the wording stays. Keyed by publication time too, so a test database that
# reuses an id never meets an earlier wording's rows.
WORDING_PARTS = ("rating_sections", "questionnaires", "coefficient_tables")
_WORDING_LOOKUPS = {
    "rating_sections": "rating_sections",
    "questionnaires": "questionnaires",
    "coefficient_tables": Prefetch(
        "coefficient_tables", queryset=CoefficientTable.objects.prefetch_related("options")
    ),
}
_WORDING_CACHE: dict[tuple, bytes] = {}
_WORDING_CACHE_SIZE = 256


def attach_wording(clause: ClauseVersion, parts: tuple[str, ...] = WORDING_PARTS) -> None:
    """Gives ``clause`` its prefetched rating sections, questionnaires and coefficient tables
    (with their options), the parts named, from the process's copy when it is published."""
    missing = tuple(
        part for part in parts if part not in getattr(clause, "_prefetched_objects_cache", {})
    )
    if not missing:
        return
    if clause.status != ClauseStatus.PUBLISHED or clause.published_at is None:
        prefetch_related_objects([clause], *(_WORDING_LOOKUPS[part] for part in missing))
        return
    key = (clause.pk, clause.published_at, missing)
    blob = _WORDING_CACHE.get(key)
    if blob is None:
        prefetch_related_objects([clause], *(_WORDING_LOOKUPS[part] for part in missing))
        rows = {part: list(getattr(clause, part).all()) for part in missing}
        _WORDING_CACHE[key] = _pickle_without_parent(rows)
        if len(_WORDING_CACHE) > _WORDING_CACHE_SIZE:
            _WORDING_CACHE.pop(next(iter(_WORDING_CACHE)))
        return
    prefetched = clause.__dict__.setdefault("_prefetched_objects_cache", {})
    # The blob was pickled by this process from its own database rows, never from input.
    for part, items in pickle.loads(blob).items():  # noqa: S301
        for item in items:
            item._state.fields_cache["clause_version"] = clause
        queryset = getattr(clause, part).all()
        queryset._result_cache = items
        queryset._prefetch_done = True
        prefetched[part] = queryset


def _pickle_without_parent(rows: dict[str, list]) -> bytes:
    # Each row caches the wording it belongs to; the copy leaves it out (the next request's
    # wording is put back) rather than carrying a second wording with all its JSON.
    parents = []
    for items in rows.values():
        for item in items:
            parents.append((item, item._state.fields_cache.pop("clause_version", None)))
    try:
        return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for item, parent in parents:
            if parent is not None:
                item._state.fields_cache["clause_version"] = parent


# The wording's texts (its JSON fields), which the application's own pages never show: the policy
# and the quote carry what the applicant reads.
WORDING_TEXTS = tuple(
    f"clause_version__{field.name}"
    for field in ClauseVersion._meta.concrete_fields
    if field.get_internal_type() == "JSONField"
)
QUESTIONNAIRE_PAGE_DEFERRED = ("frozen_answers", "valuation", "rating", *WORDING_TEXTS)
# The application page with its record kept rendered (views_app.application_detail) shows of its
# policy only the number and of the declarer only the name; the wording is read only when the
# record is rendered. Without the wording's join and the two wide rows PostgreSQL plans the
# query in half the time and Python builds the row in half the time.
APPLICATION_PAGE_COLUMNS = (
    *(field.name for field in Application._meta.concrete_fields),
    *(f"product__{field.name}" for field in Product._meta.concrete_fields),
    "declared_by__full_name",
    "declared_by__email",
    "policy__number",
)
TIMELINE_COLUMNS = (
    *(field.name for field in ApplicationEvent._meta.concrete_fields),
    "actor__full_name",
    "actor__email",
    "actor__is_staff",
)


def application_for_user(
    user,
    pk: int,
    *,
    rating_tables: bool = True,
    with_policy: bool = False,
    with_record: bool = True,
    firm_ids=None,
) -> Application:
    """One application of the user's firms, with its wording's rating tables and questionnaires
    and its insured rights; 404 for anyone else's. ``rating_tables=False`` leaves out the
    rating sections, coefficient tables and rider factors for a page that only shows a
    questionnaire; ``with_policy`` joins its policy, if any (see policy_of_application);
    ``with_record=False`` leaves out the insured rights and the wording, for
    load_application_record to read when needed. ``firm_ids``: the user's firms as the
    request already read them (``request.memberships``), which spares the query a subquery."""
    if rating_tables:
        related = ["product", "clause_version", "firm", "declared_by"]
    else:
        # A questionnaire page shows neither the firm nor who declared, reads neither the
        # application's snapshots nor the wording's texts (tens of kilobytes of JSON), and each
        # join left out is less for PostgreSQL to plan.
        related = ["product", "clause_version"]
    if with_policy:
        # The application page: its policy, but not its firm (the page is the firm's own).
        related = ["product", "clause_version", "declared_by", "policy"]
    if firm_ids is None:
        queryset = applications_visible_to(user)
    else:
        queryset = Application.objects.filter(firm_id__in=firm_ids)
    if with_policy and not with_record:
        queryset = queryset.select_related("product", "declared_by", "policy").only(
            *APPLICATION_PAGE_COLUMNS
        )
    else:
        queryset = queryset.select_related(*related)
    if not rating_tables:
        queryset = queryset.defer(*QUESTIONNAIRE_PAGE_DEFERRED)
    elif with_policy and with_record:
        queryset = queryset.defer(*WORDING_TEXTS)
    application = get_object_or_404(queryset, pk=pk)
    if with_record:
        load_application_record(application, rating_tables=rating_tables)
    return application


def load_application_record(application: Application, *, rating_tables: bool = True) -> None:
    """The application's insured rights and its wording's questionnaires (and, with
    ``rating_tables``, rating sections, coefficient tables and rider factors)."""
    prefetch_related_objects(
        [application],
        *([_rider_factors_prefetch()] if rating_tables else []),
        Prefetch(
            "insured_assets",
            queryset=ApplicationAsset.objects.select_related("asset").order_by("position", "id"),
        ),
    )
    attach_wording(
        application.clause_version, WORDING_PARTS if rating_tables else ("questionnaires",)
    )


def application_detail_for_user(
    user, pk: int, *, with_record: bool = True, firm_ids=None
) -> Application:
    """The application with everything its detail page shows: timeline, questions, quotes.
    ``with_record=False`` leaves the insured rights and the wording to load_application_record,
    for a page that may have the record's rendering already (views_app.application_detail);
    ``firm_ids`` as for application_for_user."""
    application = application_for_user(
        user, pk, with_policy=True, with_record=with_record, firm_ids=firm_ids
    )
    # Of each actor the timeline shows a name or, for staff, their role (views_app._actor_name).
    application.timeline = list(
        ApplicationEvent.objects.filter(application=application)
        .select_related("actor")
        .only(*TIMELINE_COLUMNS)
        .order_by("at", "id")
    )
    # A question is only ever asked together with the move to "information requested"
    # (services.application_ask), so an application that never went there has none to read.
    if any(event.to_status == ApplicationStatus.INFO_REQUESTED for event in application.timeline):
        application.underwriter_questions = list(
            UnderwriterQuestion.objects.filter(application=application).order_by("asked_at", "id")
        )
    else:
        application.underwriter_questions = []
    application.visible_quotes = list(
        Quote.objects.filter(application=application, status__in=VISIBLE_QUOTE_STATUSES).order_by(
            "-created_at", "-id"
        )
    )
    return application


def quote_for_user(user, application_pk: int, quote_pk: int) -> Quote:
    """A quote the applicant may see, of an application of the user's firms; 404 otherwise."""
    return get_object_or_404(
        Quote.objects.select_related("application", "application__firm").filter(
            application__firm_id__in=_member_firm_ids(user),
            application_id=application_pk,
            status__in=VISIBLE_QUOTE_STATUSES,
        ),
        pk=quote_pk,
    )


def question_for_application(application: Application, question_pk: int) -> UnderwriterQuestion:
    return get_object_or_404(
        UnderwriterQuestion.objects.filter(application=application), pk=question_pk
    )


def insurable_assets(application: Application):
    """The firm's rights of the kinds the product covers, for the cover step."""
    kinds = list(application.product.ip_types or [])
    return IPAsset.objects.filter(firm_id=application.firm_id, kind__in=kinds).order_by(
        "kind", "number", "id"
    )


# --- Policies ---------------------------------------------------------------------------------


def _due_instalments():
    return Prefetch(
        "instalments",
        queryset=Instalment.objects.filter(status=InstalmentStatus.DUE).order_by("sequence"),
        to_attr="due_instalments",
    )


def _current_documents():
    return Prefetch(
        "documents",
        queryset=PolicyDocument.objects.filter(is_current=True),
        to_attr="current_documents",
    )


def policies_visible_to(user):
    """Every policy of every firm the user belongs to."""
    if not getattr(user, "is_authenticated", False):
        return Policy.objects.none()
    return Policy.objects.filter(firm_id__in=_member_firm_ids(user))


def policies_of_firm(firm):
    """The firm's policies for the list page and the dashboard, newest first, each with its
    instalments still due and its current document: the same queries for 3 or 3,000 rows."""
    return (
        Policy.objects.filter(firm=firm)
        .select_related("product")
        .prefetch_related(_due_instalments(), _current_documents())
        .defer("terms")
        .order_by("-created_at", "-id")
    )


def policy_for_user(user, pk: int) -> Policy:
    """One policy of the user's firms with what its page shows; 404 for anyone else's."""
    return get_object_or_404(
        policies_visible_to(user)
        .select_related(
            "product",
            "firm",
            "quote",
            "application",
            "clause_version",
            "acknowledgement",
            "acknowledgement__user",
        )
        .prefetch_related(
            _due_instalments(),
            _current_documents(),
            Prefetch("instalments", queryset=Instalment.objects.order_by("sequence")),
            Prefetch("documents", queryset=PolicyDocument.objects.order_by("-version")),
            *_clause_prefetches(),
        ),
        pk=pk,
    )


def policy_document_for_user(user, policy_pk: int, document_pk: int) -> PolicyDocument:
    """A ready document of a policy of the user's firms; 404 otherwise."""
    return get_object_or_404(
        PolicyDocument.objects.select_related("policy").filter(
            policy__firm_id__in=_member_firm_ids(user),
            policy_id=policy_pk,
            status=DocumentStatus.READY,
        ),
        pk=document_pk,
    )


def policy_of_application(application: Application) -> Policy | None:
    """The application's policy or None; no query when the application was read with it."""
    try:
        return application.policy
    except Policy.DoesNotExist:
        return None


def riders_by_code(codes) -> dict:
    return {rider.code: rider for rider in Rider.objects.filter(code__in=list(codes or ()))}
