"""Every write the subsidies app knows by name. Views, the officer workspace, tasks and the API
call these.

Money moves only through ``_reserve`` and ``_release``, which lock the programme's budget row and
then the firm's allowance row (always in that order, so two approvals never deadlock) and check
the caps again under the locks: concurrent approvals can never overspend a budget or a firm's
annual cap. The database refuses an overspend as well (``budget_never_overspent``).
"""

import logging
import secrets
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.errors import DomainError, PermissionDenied
from portal.history import acting_as
from portal.notifications import notify
from portal.selectors import firm_users
from portal.services import require_member
from portal.uploads import UploadRejected, store_upload
from subsidies import amounts
from subsidies.choices import (
    REQUEST_HOLDS_BUDGET,
    REQUEST_TRANSITIONS,
    BatchStatus,
    EligibilityOutcome,
    ProgrammeStatus,
    RequestStatus,
)
from subsidies.models import (
    Budget,
    DisbursementBatch,
    FirmAllowance,
    Objection,
    Programme,
    RequestNumberSequence,
    SubsidyDocument,
    SubsidyEvent,
    SubsidyRequest,
)
from underwriting.choices import InstalmentStatus, PolicyStatus
from underwriting.models import Policy

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SUBSIDISABLE_POLICY_STATUSES = {PolicyStatus.ISSUED, PolicyStatus.IN_FORCE, PolicyStatus.EXPIRED}
# A request the firm can still change or take back.
APPLICANT_OPEN = {RequestStatus.DRAFT, RequestStatus.SUBMITTED, RequestStatus.RETURNED}


# --- helpers ----------------------------------------------------------------------------------


def _today() -> date:
    return timezone.localdate()


def officer_authority(user):
    """The authority the user works for, or None."""
    membership = getattr(user, "officer_membership", None) if user.is_authenticated else None
    return membership.authority if membership else None


def _require_officer_of(request_or_authority, user) -> None:
    authority_id = getattr(request_or_authority, "authority_id", None) or getattr(
        request_or_authority, "pk", None
    )
    authority = officer_authority(user)
    if authority is None or authority.pk != authority_id:
        raise PermissionDenied(_("Only officers of the programme's authority may do this."))


def _event(request, actor, *, code="", params=None, reason="", public=True, **extra):
    return SubsidyEvent.objects.create(
        request=request,
        actor=actor if getattr(actor, "pk", None) else None,
        code=code,
        params=params or {},
        reason=reason,
        public=public,
        **extra,
    )


def _transition(request, target, actor, *, reason="", fields=(), code="", params=None) -> None:
    current = RequestStatus(request.status)
    if target not in REQUEST_TRANSITIONS[current]:
        raise DomainError(
            _("The request is %(status)s and cannot become %(target)s.")
            % {"status": current.label, "target": RequestStatus(target).label},
            code="transition",
        )
    request.status = target
    request.status_changed_at = timezone.now()
    with acting_as(actor if getattr(actor, "pk", None) else None):
        request.save(update_fields=["status", "status_changed_at", *fields])
    _event(
        request,
        actor,
        from_status=current,
        to_status=target,
        reason=reason,
        code=code,
        params=params,
    )


def _lock(request) -> SubsidyRequest:
    return (
        SubsidyRequest.objects.select_for_update()
        .select_related("programme", "policy", "firm")
        .get(pk=request.pk)
    )


def _request_url(request) -> str:
    return f"/app/subsidies/{request.pk}/"


def _notify_firm(request, title, body="", **params) -> None:
    notify(
        users=firm_users(request.firm),
        title=title,
        body=body,
        params={"number": request.number, "programme": request.programme.name_zh, **params},
        url=_request_url(request),
        firm=request.firm,
    )


def _money(value, message) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "")).quantize(CENT)
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(message, code="amount") from None
    if not amount.is_finite() or amount < 0:
        raise DomainError(message, code="amount")
    return amount


# --- What a policy may get --------------------------------------------------------------------


def premium_paid(policy: Policy) -> Decimal:
    return policy.payments.aggregate(total=Sum("amount"))["total"] or ZERO


def premium_paid_in_full(policy: Policy) -> bool:
    return not policy.instalments.filter(status=InstalmentStatus.DUE).exists() and (
        premium_paid(policy) > 0
    )


def rates_of(programme: Programme) -> amounts.Rates:
    return amounts.Rates(
        first=programme.rate_first,
        renewal=programme.rate_renewal,
        champion=programme.rate_champion,
        uplift_high_value=programme.uplift_high_value,
    )


def budget_of(programme: Programme, year: int) -> Budget | None:
    return Budget.objects.filter(programme=programme, year=year).first()


def granted_this_year(programme: Programme, firm, year: int) -> Decimal:
    allowance = FirmAllowance.objects.filter(programme=programme, firm=firm, year=year).first()
    return allowance.granted if allowance else ZERO


def _is_renewal(programme, firm, policy) -> bool:
    return (
        SubsidyRequest.objects.filter(programme=programme, firm=firm)
        .exclude(policy=policy)
        .exclude(status__in=[RequestStatus.WITHDRAWN, RequestStatus.REJECTED, RequestStatus.DRAFT])
        .exists()
    )


def _is_single_champion(firm) -> bool:
    return "single_champion" in (firm.qualifications or [])


def _rate(programme: Programme, firm, *, renewal: bool, high_value: bool):
    return amounts.rate_for(
        rates_of(programme),
        renewal=renewal,
        single_champion=_is_single_champion(firm),
        high_value=high_value,
    )


def estimate(
    programme: Programme,
    policy: Policy,
    *,
    high_value: bool = False,
    year: int | None = None,
    renewal: bool | None = None,
) -> amounts.Amount:
    """The amount the firm can expect today: min(premium paid × rate, each cap, budget left)."""
    year = year or _today().year
    firm = policy.firm
    if renewal is None:
        renewal = _is_renewal(programme, firm, policy)
    rate = _rate(programme, firm, renewal=renewal, high_value=high_value)
    budget = budget_of(programme, year)
    return amounts.subsidy_amount(
        premium_paid=premium_paid(policy),
        rate=rate,
        items=max(len(policy.terms.get("insured", [])), 1),
        cap_per_item=programme.cap_per_item,
        cap_per_policy=programme.cap_per_policy,
        cap_per_firm_year=programme.cap_per_firm_year,
        used_this_year=granted_this_year(programme, firm, year),
        budget_left=budget.left if budget else ZERO,
    )


def _quick_fit(programme: Programme, policy: Policy) -> bool:
    """Whether the programme is worth showing for the policy at all (the full check is the
    eligibility task's)."""
    firm = policy.firm
    prefix = programme.region_prefix or programme.authority.region_code
    if not firm.region_code.startswith(prefix.rstrip("0") or prefix):
        return False
    return not (programme.product_codes and policy.product.code not in programme.product_codes)


def programmes_for_policy(policy: Policy, today: date | None = None) -> list[dict]:
    """Open programmes that may subsidise the policy, each with the expected amount."""
    today = today or _today()
    if policy.status not in SUBSIDISABLE_POLICY_STATUSES:
        return []
    found = []
    programmes = Programme.objects.filter(
        status=ProgrammeStatus.OPEN, window_start__lte=today, window_end__gte=today
    ).select_related("authority")
    for programme in programmes:
        if not _quick_fit(programme, policy):
            continue
        existing = (
            SubsidyRequest.objects.filter(programme=programme, policy=policy)
            .exclude(status__in=[RequestStatus.WITHDRAWN, RequestStatus.REJECTED])
            .first()
        )
        found.append(
            {"programme": programme, "estimate": estimate(programme, policy), "request": existing}
        )
    return found


# --- The applicant ----------------------------------------------------------------------------


def _next_number(today: date) -> str:
    sequence, _created = RequestNumberSequence.objects.select_for_update().get_or_create(
        year=today.year
    )
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"SUB-{today.year}-{sequence.last:06d}"


@transaction.atomic
def subsidy_request_create(
    *, policy: Policy, programme: Programme, actor, high_value: bool = False
) -> SubsidyRequest:
    require_member(firm=policy.firm, user=actor)
    policy = Policy.objects.select_related("product", "firm").get(pk=policy.pk)
    today = _today()
    if policy.status not in SUBSIDISABLE_POLICY_STATUSES:
        raise DomainError(_("Only an issued policy can be subsidised."), code="policy")
    if programme.status != ProgrammeStatus.OPEN or not (
        programme.window_start <= today <= programme.window_end
    ):
        raise DomainError(_("This programme is not taking applications now."), code="window")
    if not premium_paid_in_full(policy):
        raise DomainError(
            _("The premium must be paid in full before a subsidy is requested."), code="unpaid"
        )
    renewal = _is_renewal(programme, policy.firm, policy)
    expected = estimate(programme, policy, high_value=high_value, year=today.year, renewal=renewal)
    try:
        with transaction.atomic(), acting_as(actor):
            request = SubsidyRequest.objects.create(
                number=_next_number(today),
                programme=programme,
                authority_id=programme.authority_id,
                policy=policy,
                firm=policy.firm,
                year=today.year,
                premium_paid=premium_paid(policy),
                items=max(len(policy.terms.get("insured", [])), 1),
                renewal=renewal,
                single_champion=_is_single_champion(policy.firm),
                high_value=high_value,
                rate=_rate(programme, policy.firm, renewal=renewal, high_value=high_value),
                expected_amount=expected.amount,
                created_by=actor,
            )
    except IntegrityError:
        raise DomainError(
            _("This policy already has a request under this programme."), code="duplicate"
        ) from None
    _event(request, actor, to_status=RequestStatus.DRAFT, code="created")
    return request


def subsidy_document_upload(*, request: SubsidyRequest, actor, code: str, uploaded_file):
    require_member(firm=request.firm, user=actor)
    if request.status not in APPLICANT_OPEN:
        raise DomainError(_("This request no longer takes documents."), code="closed")
    codes = {d["code"] for d in request.programme.required_documents} | {"other"}
    if code not in codes:
        raise DomainError(_("Choose which document this is."), code="code")
    try:
        stored = store_upload(uploaded_file, subdir=f"subsidies/{request.firm_id}/{request.pk}")
    except UploadRejected as refusal:
        raise DomainError(refusal.message, code=refusal.code) from None
    if request.documents.filter(sha256=stored.sha256).exists():
        from django.core.files.storage import default_storage

        default_storage.delete(stored.name)
        raise DomainError(_("This file was already uploaded to this request."), code="duplicate")
    document = SubsidyDocument.objects.create(
        request=request,
        code=code,
        file=stored.name,
        original_name=stored.original_name or f"{code}.{stored.extension}",
        size=stored.size,
        sha256=stored.sha256,
        content_type=stored.content_type,
        extension=stored.extension,
        status="ready",
        uploaded_by=actor,
    )
    _event(request, actor, code="uploaded", params={"name": document.original_name})
    return document


def _document_label(document: dict) -> str:
    english = (translation.get_language() or "").startswith("en")
    label = document.get("en") if english else document.get("zh")
    return label or document.get("zh") or document.get("en") or document["code"]


def missing_documents(request: SubsidyRequest) -> list[dict]:
    have = set(request.documents.values_list("code", flat=True))
    return [d for d in request.programme.required_documents if d["code"] not in have]


@transaction.atomic
def subsidy_request_submit(*, request: SubsidyRequest, actor) -> SubsidyRequest:
    require_member(firm=request.firm, user=actor)
    request = _lock(request)
    programme = request.programme
    today = _today()
    if request.status == RequestStatus.DRAFT and not (
        programme.status == ProgrammeStatus.OPEN
        and programme.window_start <= today <= programme.window_end
    ):
        raise DomainError(_("This programme is not taking applications now."), code="window")
    missing = missing_documents(request)
    if missing:
        raise DomainError(
            _("Upload these documents first: %(items)s")
            % {"items": "、".join(_document_label(d) for d in missing)},
            code="documents",
        )
    if request.status == RequestStatus.RETURNED:
        _transition(request, RequestStatus.UNDER_REVIEW, actor, code="answered")
        _notify_officers(request, gettext_lazy("Request %(number)s was answered"))
        return request
    request.submitted_at = timezone.now()
    _transition(request, RequestStatus.SUBMITTED, actor, fields=["submitted_at"], code="submitted")
    from subsidies.tasks import check_eligibility

    transaction.on_commit(lambda: _enqueue(check_eligibility, request.pk))
    return request


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - the sweeper finds requests still "submitted"
        logger.warning("could not enqueue %s%r", task.name, args)


@transaction.atomic
def subsidy_answer(*, request: SubsidyRequest, actor, answer: str) -> SubsidyRequest:
    """The applicant answers the officer's question and sends the request back for review."""
    answer = (answer or "").strip()
    if not answer:
        raise DomainError(_("Write your answer."), code="answer")
    require_member(firm=request.firm, user=actor)
    request = _lock(request)
    if request.status != RequestStatus.RETURNED:
        raise DomainError(_("No question is waiting for an answer."), code="status")
    _event(request, actor, code="answer", reason=answer)
    return subsidy_request_submit(request=request, actor=actor)


@transaction.atomic
def subsidy_withdraw(*, request: SubsidyRequest, actor) -> SubsidyRequest:
    require_member(firm=request.firm, user=actor)
    request = _lock(request)
    _transition(request, RequestStatus.WITHDRAWN, actor, code="withdrawn")
    return request


# --- Eligibility pre-check (a task) -----------------------------------------------------------


def _result(code: str, outcome: str, **params) -> dict:
    return {"code": code, "outcome": outcome, "params": params}


def eligibility_results(request: SubsidyRequest) -> list[dict]:
    programme, policy, firm = request.programme, request.policy, request.firm
    results = []
    prefix = programme.region_prefix or programme.authority.region_code
    in_region = firm.region_code.startswith(prefix.rstrip("0") or prefix)
    results.append(
        _result(
            "region",
            EligibilityOutcome.PASS if in_region else EligibilityOutcome.FAIL,
            firm_region=firm.region_code,
            programme_region=prefix,
        )
    )
    if programme.qualifications:
        held = sorted(set(firm.qualifications or []) & set(programme.qualifications))
        results.append(
            _result(
                "qualification",
                EligibilityOutcome.PASS if held else EligibilityOutcome.FAIL,
                held=held,
                wanted=list(programme.qualifications),
            )
        )
    if programme.product_codes:
        results.append(
            _result(
                "product",
                EligibilityOutcome.PASS
                if policy.product.code in programme.product_codes
                else EligibilityOutcome.FAIL,
                product=policy.product.code,
            )
        )
    if programme.ip_kinds:
        kinds = sorted({item.get("kind") for item in policy.terms.get("insured", [])})
        outside = [kind for kind in kinds if kind not in programme.ip_kinds]
        results.append(
            _result(
                "ip_kinds",
                EligibilityOutcome.FAIL if outside else EligibilityOutcome.PASS,
                kinds=kinds,
                outside=outside,
            )
        )
    paid_in_full = premium_paid_in_full(policy)
    results.append(
        _result(
            "paid_in_full",
            EligibilityOutcome.PASS if paid_in_full else EligibilityOutcome.FAIL,
            paid=str(premium_paid(policy)),
            premium=str(policy.premium),
        )
    )
    others = (
        SubsidyRequest.objects.filter(policy=policy)
        .exclude(pk=request.pk)
        .filter(status__in=[*REQUEST_HOLDS_BUDGET, RequestStatus.UNDER_REVIEW])
        .values_list("number", flat=True)
    )
    others = list(others)
    results.append(
        _result(
            "not_twice",
            EligibilityOutcome.FAIL if others else EligibilityOutcome.PASS,
            others=others,
        )
    )
    if programme.cap_per_firm_year is not None:
        used = granted_this_year(programme, firm, request.year)
        left = max(programme.cap_per_firm_year - used, ZERO)
        results.append(
            _result(
                "firm_cap",
                EligibilityOutcome.PASS if left > 0 else EligibilityOutcome.FAIL,
                used=str(used),
                cap=str(programme.cap_per_firm_year),
                left=str(left),
            )
        )
    budget = budget_of(programme, request.year)
    left = budget.left if budget else ZERO
    results.append(
        _result(
            "budget",
            EligibilityOutcome.PASS if left > 0 else EligibilityOutcome.FAIL,
            left=str(left),
        )
    )
    if request.high_value:
        results.append(_result("high_value", EligibilityOutcome.WARN))
    return results


def eligibility_check(request_id: int) -> bool:
    """Run the pre-check and put a submitted request in the officers' queue; idempotent."""
    with transaction.atomic():
        request = (
            SubsidyRequest.objects.select_for_update()
            .select_related("programme__authority", "policy__product", "firm")
            .filter(pk=request_id)
            .first()
        )
        if request is None or request.status != RequestStatus.SUBMITTED:
            return False
        results = eligibility_results(request)
        outcomes = {r["outcome"] for r in results}
        request.eligibility = results
        request.eligibility_outcome = (
            EligibilityOutcome.FAIL
            if EligibilityOutcome.FAIL in outcomes
            else EligibilityOutcome.WARN
            if EligibilityOutcome.WARN in outcomes
            else EligibilityOutcome.PASS
        )
        request.eligibility_checked_at = timezone.now()
        request.save(update_fields=["eligibility", "eligibility_outcome", "eligibility_checked_at"])
        _transition(request, RequestStatus.UNDER_REVIEW, None, code="checked")
    _notify_officers(request, gettext_lazy("New subsidy request %(number)s"))
    return True


def stale_submitted(older_than_minutes: int = 5):
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return SubsidyRequest.objects.filter(
        status=RequestStatus.SUBMITTED, submitted_at__lt=cutoff
    ).values_list("pk", flat=True)


def _notify_officers(request, title) -> None:
    from portal.models import User

    officers = User.objects.filter(officer_membership__authority_id=request.authority_id)
    notify(
        users=list(officers),
        title=title,
        params={"number": request.number},
        url=f"/officer/requests/{request.pk}/",
    )


# --- The budget ledger ------------------------------------------------------------------------


def _locked_budget_and_allowance(request) -> tuple[Budget, FirmAllowance]:
    budget = (
        Budget.objects.select_for_update()
        .filter(programme_id=request.programme_id, year=request.year)
        .first()
    )
    if budget is None:
        raise DomainError(
            _("The programme has no budget for %(year)s.") % {"year": request.year},
            code="budget",
        )
    # Created outside any lock if missing (a unique row, so a race creates it once), then
    # locked like the budget.
    FirmAllowance.objects.bulk_create(
        [
            FirmAllowance(
                programme_id=request.programme_id, firm_id=request.firm_id, year=request.year
            )
        ],
        ignore_conflicts=True,
    )
    allowance = FirmAllowance.objects.select_for_update().get(
        programme_id=request.programme_id, firm_id=request.firm_id, year=request.year
    )
    return budget, allowance


def _reserve(request, wanted: Decimal | None) -> Decimal:
    """Reserve the approved amount under the locks; returns it. ``wanted`` may lower it."""
    budget, allowance = _locked_budget_and_allowance(request)
    programme = request.programme
    most = amounts.subsidy_amount(
        premium_paid=request.premium_paid,
        rate=request.rate,
        items=request.items,
        cap_per_item=programme.cap_per_item,
        cap_per_policy=programme.cap_per_policy,
        cap_per_firm_year=programme.cap_per_firm_year,
        used_this_year=allowance.granted,
        budget_left=budget.left,
    ).amount
    amount = most if wanted is None else wanted
    if amount > most:
        raise DomainError(
            _("At most CNY %(most)s can be approved: the caps and the budget left allow no more.")
            % {"most": f"{most:,.2f}"},
            code="cap",
        )
    if amount <= 0:
        raise DomainError(
            _("Nothing can be approved: the budget or the firm's annual cap is used up."),
            code="exhausted",
        )
    budget.committed += amount
    budget.save(update_fields=["committed"])
    allowance.granted += amount
    allowance.save(update_fields=["granted"])
    return amount


def _release(request, amount: Decimal, *, paid: bool = False) -> None:
    """Give back a reservation (or, with ``paid``, money recovered after payment)."""
    budget, allowance = _locked_budget_and_allowance(request)
    if paid:
        budget.paid -= amount
        budget.save(update_fields=["paid"])
    else:
        budget.committed -= amount
        budget.save(update_fields=["committed"])
    allowance.granted = max(allowance.granted - amount, ZERO)
    allowance.save(update_fields=["granted"])


# --- The officer ------------------------------------------------------------------------------


@transaction.atomic
def subsidy_approve(*, request: SubsidyRequest, actor, amount=None) -> SubsidyRequest:
    _require_officer_of(request, actor)
    request = _lock(request)
    if request.status != RequestStatus.UNDER_REVIEW:
        raise DomainError(_("Only a request under review can be approved."), code="status")
    wanted = None if amount in (None, "") else _money(amount, _("Enter the amount to approve."))
    approved = _reserve(request, wanted)
    request.approved_amount = approved
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.reasons = ""
    _transition(
        request,
        RequestStatus.APPROVED,
        actor,
        fields=["approved_amount", "decided_by", "decided_at", "reasons"],
        code="approved",
        params={"amount": str(approved)},
    )
    _event(request, actor, code="reserved", params={"amount": str(approved)}, public=False)
    _notify_firm(
        request,
        gettext_lazy("Subsidy %(number)s approved: CNY %(amount)s"),
        gettext_lazy(
            "The request under %(programme)s was approved. It will be published for objections "
            "before it is paid."
        ),
        amount=f"{approved:,.2f}",
    )
    return request


def subsidy_approve_many(*, request_ids, actor) -> dict:
    """Approve each selected request in its own transaction, so one refusal (a cap, the budget
    running out) stops nothing else. Returns {id: amount or error message}."""
    authority = officer_authority(actor)
    if authority is None:
        raise PermissionDenied(_("Only officers may approve requests."))
    outcome = {}
    requests = SubsidyRequest.objects.filter(pk__in=list(request_ids), authority=authority)
    for request in requests.order_by("submitted_at", "pk"):
        try:
            approved = subsidy_approve(request=request, actor=actor)
        except DomainError as error:
            outcome[request.pk] = error.message
        else:
            outcome[request.pk] = approved.approved_amount
    return outcome


@transaction.atomic
def subsidy_reject(*, request: SubsidyRequest, actor, reasons: str) -> SubsidyRequest:
    _require_officer_of(request, actor)
    reasons = (reasons or "").strip()
    if len(reasons) < 4:
        raise DomainError(_("A rejection must give its reasons."), code="reasons")
    request = _lock(request)
    request.reasons = reasons
    request.decided_by = actor
    request.decided_at = timezone.now()
    _transition(
        request,
        RequestStatus.REJECTED,
        actor,
        reason=reasons,
        fields=["reasons", "decided_by", "decided_at"],
        code="rejected",
    )
    _notify_firm(
        request,
        gettext_lazy("Subsidy %(number)s not granted"),
        gettext_lazy("Reasons: %(reasons)s"),
        reasons=reasons,
    )
    return request


@transaction.atomic
def subsidy_return(*, request: SubsidyRequest, actor, question: str) -> SubsidyRequest:
    _require_officer_of(request, actor)
    question = (question or "").strip()
    if not question:
        raise DomainError(_("Write what the firm should add or explain."), code="question")
    request = _lock(request)
    _transition(request, RequestStatus.RETURNED, actor, reason=question, code="returned")
    _notify_firm(
        request,
        gettext_lazy("Subsidy %(number)s: the officer asks for more information"),
        "%(question)s",
        question=question,
    )
    return request


@transaction.atomic
def subsidy_publish(*, request: SubsidyRequest, actor, today: date | None = None):
    """Publish an approved request for objections (公示) for the programme's number of days."""
    _require_officer_of(request, actor)
    request = _lock(request)
    today = today or _today()
    request.publication_starts = today
    days = max(request.programme.publication_days, 1)
    request.publication_ends = today + timedelta(days=days - 1)
    _transition(
        request,
        RequestStatus.PUBLICISED,
        actor,
        fields=["publication_starts", "publication_ends"],
        code="publicised",
        params={
            "from": request.publication_starts.isoformat(),
            "until": request.publication_ends.isoformat(),
        },
    )
    _notify_firm(
        request,
        gettext_lazy("Subsidy %(number)s is published until %(until)s"),
        until=request.publication_ends.isoformat(),
    )
    return request


@transaction.atomic
def objection_record(*, request: SubsidyRequest, actor, raised_by: str, text: str) -> Objection:
    """An objection puts the request back under review and releases its reservation until an
    officer approves it again."""
    _require_officer_of(request, actor)
    text = (text or "").strip()
    if not text:
        raise DomainError(_("Write the objection."), code="text")
    request = _lock(request)
    if request.status not in (RequestStatus.APPROVED, RequestStatus.PUBLICISED):
        raise DomainError(_("Objections are taken while a request is published."), code="status")
    if request.batch_id:
        # Once in a treasury batch the publication is over; the batch must not change under it.
        raise DomainError(
            _("This request is already in a disbursement batch; objections are closed."),
            code="batched",
        )
    objection = Objection.objects.create(
        request=request, raised_by=(raised_by or "").strip()[:200], text=text, recorded_by=actor
    )
    _release(request, request.approved_amount)
    request.approved_amount = None
    _transition(
        request,
        RequestStatus.UNDER_REVIEW,
        actor,
        reason=text,
        fields=["approved_amount"],
        code="objection",
    )
    return objection


@transaction.atomic
def batch_create(*, actor, request_ids, today: date | None = None) -> DisbursementBatch:
    authority = officer_authority(actor)
    if authority is None:
        raise PermissionDenied(_("Only officers may prepare batches."))
    today = today or _today()
    requests = list(
        SubsidyRequest.objects.select_for_update()
        .filter(pk__in=list(request_ids), authority=authority)
        .order_by("pk")
    )
    if not requests:
        raise DomainError(_("Choose the requests to pay."), code="empty")
    for request in requests:
        if request.status != RequestStatus.PUBLICISED or request.batch_id:
            raise DomainError(
                _("%(number)s is not a published request waiting for payment.")
                % {"number": request.number},
                code="status",
            )
        if request.publication_ends >= today:
            raise DomainError(
                _("%(number)s is published until %(until)s; it can be paid after that.")
                % {"number": request.number, "until": request.publication_ends.isoformat()},
                code="publication",
            )
    # Numbered from the row's own id, so batches created at the same moment never collide.
    batch = DisbursementBatch.objects.create(
        authority=authority, number=f"BAT-pending-{secrets.token_hex(8)}", created_by=actor
    )
    batch.number = f"BAT-{today.year}-{batch.pk:06d}"
    batch.save(update_fields=["number"])
    SubsidyRequest.objects.filter(pk__in=[r.pk for r in requests]).update(batch=batch)
    return batch


@transaction.atomic
def batch_mark_paid(
    *, batch: DisbursementBatch, actor, reference: str, paid_on: date | None = None
) -> DisbursementBatch:
    _require_officer_of(batch.authority, actor)
    batch = DisbursementBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != BatchStatus.OPEN:
        raise DomainError(_("This batch was already paid."), code="status")
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the treasury's payment reference."), code="reference")
    batch.status = BatchStatus.PAID
    batch.payment_reference = reference
    batch.paid_on = paid_on or _today()
    with acting_as(actor):
        batch.save(update_fields=["status", "payment_reference", "paid_on"])
    requests = list(batch.requests.select_for_update().select_related("programme", "firm"))
    stray = [r.number for r in requests if r.status != RequestStatus.PUBLICISED]
    if stray:
        raise DomainError(
            _("These requests are no longer waiting for payment: %(numbers)s")
            % {"numbers": ", ".join(stray)},
            code="status",
        )
    for request in requests:
        budget = Budget.objects.select_for_update().get(
            programme_id=request.programme_id, year=request.year
        )
        budget.committed -= request.approved_amount
        budget.paid += request.approved_amount
        budget.save(update_fields=["committed", "paid"])
        _transition(
            request,
            RequestStatus.DISBURSED,
            actor,
            code="disbursed",
            params={"amount": str(request.approved_amount), "batch": batch.number},
        )
        _notify_firm(
            request,
            gettext_lazy("Subsidy %(number)s paid: CNY %(amount)s"),
            amount=f"{request.approved_amount:,.2f}",
        )
    return batch


@transaction.atomic
def subsidy_claw_back(*, request: SubsidyRequest, actor, amount, reason: str) -> SubsidyRequest:
    """Record money recovered from a recipient who obtained it dishonestly; it returns to the
    budget."""
    _require_officer_of(request, actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the subsidy is clawed back."), code="reason")
    request = _lock(request)
    if request.status != RequestStatus.DISBURSED:
        raise DomainError(_("Only a paid subsidy can be clawed back."), code="status")
    recovered = _money(amount, _("Enter the amount recovered."))
    if not ZERO < recovered <= request.approved_amount:
        raise DomainError(
            _("The amount recovered must be more than zero and at most the amount paid."),
            code="amount",
        )
    request.clawed_back_amount = recovered
    _transition(
        request,
        RequestStatus.CLAWED_BACK,
        actor,
        reason=reason,
        fields=["clawed_back_amount"],
        code="clawed_back",
        params={"amount": str(recovered)},
    )
    _release(request, recovered, paid=True)
    _notify_firm(
        request,
        gettext_lazy("Subsidy %(number)s: CNY %(amount)s clawed back"),
        "%(reason)s",
        amount=f"{recovered:,.2f}",
        reason=reason,
    )
    return request
