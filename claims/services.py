"""Every write the claims app knows by name. Views, admin, tasks and the API call these.

Transitions follow ``CLAIM_TRANSITIONS``; each runs in a transaction on a locked row, writes a
timeline event and enqueues its side effects after commit. Whenever a fact that a statutory
deadline runs from changes, ``_refresh_deadline`` stores the next due date on the claim so that
dashboards can order and filter in the database.
"""

import logging
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims import deadlines as statutory
from claims import indemnity, recoveries
from claims.choices import (
    CLAIM_ACCEPTS_DOCUMENTS,
    CLAIM_TRANSITIONS,
    ClaimDocumentStatus,
    ClaimPaymentKind,
    ClaimStatus,
    Decision,
    EventKind,
    LetterKind,
    LetterStatus,
    ReinstatementStatus,
)
from claims.models import (
    Claim,
    ClaimAssessment,
    ClaimDocument,
    ClaimEvent,
    ClaimLetter,
    ClaimNumberSequence,
    ClaimPayment,
    DocumentRequest,
    Recovery,
    Reinstatement,
    Subrogation,
)
from claims.reinstatement import ReinstatementError, reinstatement_premium
from portal import roles
from portal.errors import DomainError, PermissionDenied
from portal.history import acting_as
from portal.notifications import notify
from portal.selectors import firm_users
from portal.services import require_member
from portal.uploads import UploadRejected, store_upload
from underwriting.choices import PolicyStatus
from underwriting.models import Policy
from underwriting.services import policy_sum_insured_erode, policy_sum_insured_restore

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
OTHER_DOCUMENT = "other"
ASSESS_PERMISSION = "claims.assess_claim"
# A reinstatement premium is due this many days after the restoration is approved.
REINSTATEMENT_PREMIUM_DAYS = 15
# Policies that can still carry a claim for an incident inside their period of cover.
CLAIMABLE_POLICY_STATUSES = {PolicyStatus.IN_FORCE, PolicyStatus.EXPIRED}


# --- helpers ----------------------------------------------------------------------------------


def _today() -> date:
    return timezone.localdate()


def _money(value, message) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(message, code="amount") from None
    if not amount.is_finite():
        raise DomainError(message, code="amount")
    return amount


def may_handle_claims(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_staff
        and user.is_active
        and user.has_perm(ASSESS_PERMISSION)
    )


def _require_handler(user) -> None:
    if not may_handle_claims(user):
        raise PermissionDenied(_("Only claims handlers may do this."))


def _lock(claim: Claim) -> Claim:
    return Claim.objects.select_for_update().select_related("policy").get(pk=claim.pk)


def _event(claim: Claim, actor, kind, *, code="", params=None, reason="", public=True, **extra):
    return ClaimEvent.objects.create(
        claim=claim,
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        code=code,
        params=params or {},
        reason=reason,
        public=public,
        **extra,
    )


def _transition(claim: Claim, target: str, actor, *, reason="", fields=(), code="") -> None:
    current = ClaimStatus(claim.status)
    if target not in CLAIM_TRANSITIONS[current]:
        raise DomainError(
            _("The claim is %(status)s and cannot become %(target)s.")
            % {"status": current.label, "target": ClaimStatus(target).label},
            code="transition",
        )
    claim.status = target
    claim.status_changed_at = timezone.now()
    with acting_as(actor if getattr(actor, "pk", None) else None):
        claim.save(update_fields=["status", "status_changed_at", *fields])
    _event(
        claim,
        actor,
        EventKind.STATUS,
        from_status=current,
        to_status=target,
        reason=reason,
        code=code,
    )


def claim_facts(claim: Claim) -> statutory.ClaimFacts:
    return statutory.ClaimFacts(
        notified_on=timezone.localdate(claim.notified_at) if claim.notified_at else None,
        documents_complete_on=claim.documents_complete_on,
        decided_on=claim.decided_on if claim.decision else None,
        decision=claim.decision or None,
        rejection_notice_sent_on=claim.rejection_notice_sent_on,
        amount_agreed_on=claim.amount_agreed_on,
        paid_on=claim.paid_on,
        advance_paid_on=claim.advance_paid_on,
    )


def claim_deadlines(claim: Claim) -> tuple[statutory.Deadline, ...]:
    return statutory.deadlines_for(claim_facts(claim))


def _refresh_deadline(claim: Claim) -> None:
    """Store the earliest deadline still to be met (or clear it) on the claim row."""
    pending = [d for d in claim_deadlines(claim) if d.done_on is None]
    if claim.status == ClaimStatus.WITHDRAWN:
        pending = []
    first = min(pending, key=lambda d: d.due, default=None)
    claim.next_deadline_on = first.due if first else None
    claim.next_deadline_kind = str(first.kind) if first else ""
    Claim.objects.filter(pk=claim.pk).update(
        next_deadline_on=claim.next_deadline_on, next_deadline_kind=claim.next_deadline_kind
    )


def _claim_url(claim: Claim) -> str:
    return f"/app/claims/{claim.pk}/"


def _notify_firm(claim: Claim, title, body="", *, params_for=None, **params) -> None:
    """Tell the firm's members. ``params_for(language)`` adds parameters worded per language,
    such as lists of documents, which one shared parameter set cannot carry."""
    users = firm_users(claim.firm)
    if params_for is None:
        notify(
            users=users,
            title=title,
            body=body,
            params={"number": claim.number, **params},
            url=_claim_url(claim),
            firm=claim.firm,
        )
        return
    for user in users:
        language = user.preferred_language or "zh-hans"
        with translation.override(language):
            extra = params_for(language)
        notify(
            users=[user],
            title=title,
            body=body,
            params={"number": claim.number, **params, **extra},
            url=_claim_url(claim),
            firm=claim.firm,
        )


def _staff_to_warn(handler=None):
    """The handler and the claims supervisors; every claims handler when nobody is assigned."""
    User = get_user_model()
    supervisors = User.objects.filter(
        is_active=True, is_staff=True, groups__name=roles.CLAIMS_SUPERVISOR
    )
    if handler is not None:
        return [handler, *supervisors]
    handlers = User.objects.filter(is_active=True, is_staff=True, groups__name=roles.CLAIMS_HANDLER)
    return [*handlers, *supervisors]


def _enqueue(task, *args) -> None:
    """After commit; a broker outage leaves the row's status for the sweeper to find."""

    def send():
        try:
            task.delay(*args)
        except Exception:  # noqa: BLE001 - the broker may be down; the sweeper retries later
            logger.warning("could not enqueue %s%r", task.name, args)

    transaction.on_commit(send)


def _label(item: dict, language: str) -> str:
    if language.startswith("en"):
        return item.get("en") or item.get("zh") or item.get("code", "")
    return item.get("zh") or item.get("en") or item.get("code", "")


# --- Notification -----------------------------------------------------------------------------


def _next_number(today: date) -> str:
    sequence, _created = ClaimNumberSequence.objects.select_for_update().get_or_create(
        year=today.year
    )
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"CLM-{today.year}-{sequence.last:06d}"


@transaction.atomic
def claim_notify(
    *,
    policy: Policy,
    actor,
    incident_date: date,
    cause_number: int,
    right_ids,
    description: str,
    amount_claimed,
    learned_on: date | None = None,
) -> Claim:
    """The insured reports an incident under ``policy``; the notification time is recorded."""
    require_member(firm=policy.firm, user=actor)
    policy = Policy.objects.select_related("clause_version").get(pk=policy.pk)
    today = _today()
    if policy.status not in CLAIMABLE_POLICY_STATUSES:
        raise DomainError(
            _("Claims can be reported only on a policy in force or one that has expired."),
            code="policy",
        )
    errors = {}
    if not isinstance(incident_date, date):
        errors["incident_date"] = _("Enter the date of the incident.")
    elif incident_date > today:
        errors["incident_date"] = _("The incident date cannot be in the future.")
    elif not policy.start_date <= incident_date <= policy.end_date:
        errors["incident_date"] = _(
            "The incident date must fall within the period of cover, %(start)s to %(end)s."
        ) % {"start": policy.start_date.isoformat(), "end": policy.end_date.isoformat()}
    if learned_on is not None and (
        not isinstance(learned_on, date)
        or not (incident_date if isinstance(incident_date, date) else learned_on)
        <= learned_on
        <= today
    ):
        errors["learned_on"] = _(
            "The date you learned of it must be between the incident and today."
        )
    causes = policy.clause_version.covered_causes or []
    try:
        cause_number = int(cause_number)
    except (TypeError, ValueError):
        cause_number = 0
    if not 1 <= cause_number <= len(causes):
        errors["cause_number"] = _("Choose one of the causes the policy covers.")
    insured = {int(item["id"]): item for item in policy.terms.get("insured", [])}
    try:
        chosen = sorted({int(pk) for pk in right_ids or []})
    except (TypeError, ValueError):
        chosen = [0]
    if insured and (not chosen or any(pk not in insured for pk in chosen)):
        errors["right_ids"] = _("Choose the insured rights concerned.")
    description = (description or "").strip()
    if len(description) < 10:
        errors["description"] = _("Describe what happened in a few sentences.")
    try:
        amount = Decimal(str(amount_claimed)).quantize(CENT)
        if not amount.is_finite() or amount <= 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["amount_claimed"] = _("Enter the amount claimed, more than zero.")
    else:
        if amount >= Decimal("1e12"):
            errors["amount_claimed"] = _("Enter the amount claimed, more than zero.")
    if errors:
        raise ClaimInvalid(errors)

    with acting_as(actor):
        claim = Claim.objects.create(
            number=_next_number(today),
            policy=policy,
            firm=policy.firm,
            reported_by=actor,
            incident_date=incident_date,
            learned_on=learned_on,
            cause_number=cause_number,
            cause=causes[cause_number - 1].get("title", {}),
            rights=[insured[pk] for pk in chosen],
            description=description,
            amount_claimed=amount,
            notified_at=timezone.now(),
        )
    _event(claim, actor, EventKind.STATUS, to_status=ClaimStatus.NOTIFIED, code="notified")
    _notify_firm(
        claim,
        gettext_lazy("Claim %(number)s received"),
        gettext_lazy(
            "We have your claim under policy %(policy)s. Upload the documents on the list; a "
            "claims handler will tell you at once if anything is missing."
        ),
        policy=policy.number,
    )
    notify(
        users=_staff_to_warn(claim.handler),
        title=gettext_lazy("New claim %(number)s under %(policy)s"),
        params={"number": claim.number, "policy": policy.number},
        url=f"/admin/claims/claim/{claim.pk}/change/",
    )
    return claim


class ClaimInvalid(DomainError):
    """Some fields of a claim notification are wrong; ``errors`` maps field → message."""

    def __init__(self, errors: dict):
        super().__init__(_("Some answers need your attention."), code="fields")
        self.errors = errors


@transaction.atomic
def claim_withdraw(*, claim: Claim, actor, reason: str = "") -> Claim:
    require_member(firm=claim.firm, user=actor)
    claim = _lock(claim)
    _transition(
        claim, ClaimStatus.WITHDRAWN, actor, reason=(reason or "").strip(), code="withdrawn"
    )
    _refresh_deadline(claim)
    return claim


# --- Documents --------------------------------------------------------------------------------


def checklist(claim: Claim) -> list[dict]:
    """The clause version's claim documents, plus "other" for anything else."""
    items = list(claim.policy.clause_version.claim_documents or [])
    return [*items, {"code": OTHER_DOCUMENT, "zh": "其他材料", "en": "Other", "required": False}]


def _may_upload(claim: Claim, user) -> bool:
    if may_handle_claims(user):
        return True
    try:
        require_member(firm=claim.firm, user=user)
    except PermissionDenied:
        return False
    return True


def claim_document_upload(*, claim: Claim, actor, code: str, uploaded_file) -> ClaimDocument:
    """Check and store one file for ``claim``; the content check and preview follow in a task.

    The file is streamed to storage before the transaction that records it, so that a large
    upload holds no row lock; a refusal at any step leaves nothing behind.
    """
    if not _may_upload(claim, actor):
        raise PermissionDenied(_("You may not add documents to this claim."))
    if claim.status not in CLAIM_ACCEPTS_DOCUMENTS:
        raise DomainError(_("This claim no longer takes documents."), code="closed")
    codes = {item["code"] for item in checklist(claim)}
    if code not in codes:
        raise DomainError(_("Choose which document this is."), code="code")
    try:
        stored = store_upload(uploaded_file, subdir=f"claims/{claim.firm_id}/{claim.pk}")
    except UploadRejected as refusal:
        raise DomainError(refusal.message, code=refusal.code) from None
    try:
        return _record_document(claim, actor, code, stored)
    except BaseException:
        default_storage.delete(stored.name)
        raise


@transaction.atomic
def _record_document(claim, actor, code, stored) -> ClaimDocument:
    claim = _lock(claim)
    if claim.status not in CLAIM_ACCEPTS_DOCUMENTS:
        raise DomainError(_("This claim no longer takes documents."), code="closed")
    same_claim = (
        claim.documents.filter(sha256=stored.sha256)
        .exclude(status=ClaimDocumentStatus.REJECTED)
        .first()
    )
    if same_claim is not None:
        raise DomainError(
            _("This file was already uploaded to this claim as “%(name)s”.")
            % {"name": same_claim.original_name},
            code="duplicate",
        )
    # The same file in another claim of the firm is allowed (one invoice may serve two claims)
    # but the handler is shown it, since it is also how double claiming looks.
    elsewhere = (
        ClaimDocument.objects.filter(claim__firm_id=claim.firm_id, sha256=stored.sha256)
        .exclude(claim=claim)
        .exclude(status=ClaimDocumentStatus.REJECTED)
        .order_by("uploaded_at")
        .first()
    )
    document = ClaimDocument.objects.create(
        claim=claim,
        code=code,
        file=stored.name,
        original_name=stored.original_name or f"{code}.{stored.extension}",
        size=stored.size,
        sha256=stored.sha256,
        content_type=stored.content_type,
        extension=stored.extension,
        duplicate_of=elsewhere,
        uploaded_by=actor,
    )
    _event(
        claim,
        actor,
        EventKind.DOCUMENT,
        code="uploaded",
        params={"document": document.pk, "name": document.original_name, "code": code},
    )
    from claims.tasks import process_claim_document

    _enqueue(process_claim_document, document.pk)
    return document


def claim_document_process(document_id: int) -> str | None:
    """Re-check a stored document, count its pages and render a preview; idempotent.

    The conditional update claims the work, so two workers never process the same document.
    Returns the final status, or None when there was nothing to do.
    """
    from portal.processing import inspect_stored

    now = timezone.now()
    claimed = ClaimDocument.objects.filter(
        Q(status=ClaimDocumentStatus.PENDING)
        | Q(
            status=ClaimDocumentStatus.PROCESSING,
            processing_started_at__lt=now - timedelta(minutes=STALE_PROCESSING_MINUTES),
        ),
        pk=document_id,
    ).update(status=ClaimDocumentStatus.PROCESSING, processing_started_at=now)
    if not claimed:
        return None
    document = ClaimDocument.objects.select_related("claim", "uploaded_by").get(pk=document_id)
    # The reason is shown to the uploader, so it is worded in their language.
    with translation.override(document.uploaded_by.preferred_language or "zh-hans"):
        result = inspect_stored(document.file.name, expected_extension=document.extension)
    preview_name = ""
    if result.ok and result.preview_png:
        preview_name = default_storage.save(
            f"{document.file.name.rsplit('.', 1)[0]}-preview.png",
            ContentFile(result.preview_png),
        )
    status = ClaimDocumentStatus.READY if result.ok else ClaimDocumentStatus.REJECTED
    with transaction.atomic():
        updated = ClaimDocument.objects.filter(
            pk=document_id, status=ClaimDocumentStatus.PROCESSING
        ).update(
            status=status,
            page_count=result.page_count,
            preview=preview_name,
            rejection_reason=result.reason if not result.ok else "",
            processed_at=timezone.now(),
        )
        if not updated:  # someone else finished it meanwhile
            if preview_name:
                default_storage.delete(preview_name)
            return None
        if not result.ok:
            _event(
                document.claim,
                None,
                EventKind.DOCUMENT,
                code="rejected",
                params={"document": document.pk, "name": document.original_name},
                reason=result.reason,
            )
            notify(
                users=[document.uploaded_by],
                title=gettext_lazy("A document for claim %(number)s could not be accepted"),
                body=gettext_lazy("“%(name)s”: %(reason)s"),
                params={
                    "number": document.claim.number,
                    "name": document.original_name,
                    "reason": result.reason,
                },
                url=_claim_url(document.claim),
                firm=document.claim.firm,
            )
    return status


STALE_PROCESSING_MINUTES = 10
STALE_PENDING_MINUTES = 2


def stale_documents():
    """Documents whose processing message may have been lost: the sweeper sends them again."""
    now = timezone.now()
    return ClaimDocument.objects.filter(
        Q(
            status=ClaimDocumentStatus.PENDING,
            uploaded_at__lt=now - timedelta(minutes=STALE_PENDING_MINUTES),
        )
        | Q(
            status=ClaimDocumentStatus.PROCESSING,
            processing_started_at__lt=now - timedelta(minutes=STALE_PROCESSING_MINUTES),
        )
    ).values_list("pk", flat=True)


def outstanding_items(claim: Claim) -> list[dict]:
    """What is still missing: each requested item and each required checklist item with no
    ready (or still processing) document uploaded for it.

    A requested item is answered by an upload of its code made after the request. "Other"
    documents carry no finer label, so the n-th "other" item of a request is answered by the
    n-th "other" upload after it.
    """
    documents = [d for d in claim.documents.all() if d.status != ClaimDocumentStatus.REJECTED]
    usable = {d.code for d in documents}
    missing, seen = [], set()
    for request in claim.document_requests.all():
        uploads_after: dict[str, int] = {}
        for document in documents:
            if document.uploaded_at >= request.requested_at:
                uploads_after[document.code] = uploads_after.get(document.code, 0) + 1
        others_asked = 0
        for item in request.items:
            if item["code"] == OTHER_DOCUMENT:
                others_asked += 1
                answered = uploads_after.get(OTHER_DOCUMENT, 0) >= others_asked
                key = (OTHER_DOCUMENT, item.get("note", ""))
            else:
                answered = uploads_after.get(item["code"], 0) > 0
                key = item["code"]
            if not answered and key not in seen:
                seen.add(key)
                missing.append({**item, "requested": True})
    waived = set(claim.waived_documents or ())
    for item in checklist(claim):
        if item["code"] in waived:
            continue
        if item.get("required") and item["code"] not in usable and item["code"] not in seen:
            seen.add(item["code"])
            missing.append({**item, "requested": False})
    return missing


@transaction.atomic
def claim_request_documents(*, claim: Claim, actor, items, new_facts: str = "") -> DocumentRequest:
    """Send the insured one notice listing every missing document (Insurance Law art. 22).

    ``items`` are ``{"code": ..., "note": ...}``; a code of the checklist, or ``other`` with a
    note saying what is wanted. Once the insured has been asked, or the documents were judged
    complete, a further request is lawful only for documents that new facts made necessary, and
    ``new_facts`` must say what they are.
    """
    _require_handler(actor)
    claim = _lock(claim)
    labels = {item["code"]: item for item in checklist(claim)}
    cleaned, seen = [], set()
    for item in items or []:
        code = item.get("code")
        note = (item.get("note") or "").strip()[:500]
        if code not in labels:
            raise DomainError(_("Unknown document %(code)s.") % {"code": code}, code="code")
        if code == OTHER_DOCUMENT and not note:
            raise DomainError(_("Say what the other document is."), code="note")
        key = (code, note) if code == OTHER_DOCUMENT else code
        if key in seen:
            continue
        seen.add(key)
        label = labels[code]
        cleaned.append({"code": code, "zh": label["zh"], "en": label["en"], "note": note})
    if not cleaned:
        raise DomainError(_("Choose at least one missing document."), code="empty")
    earlier = claim.document_requests.count()
    new_facts = (new_facts or "").strip()
    if (earlier or claim.documents_complete_on) and not new_facts:
        raise DomainError(
            _(
                "The insured has already been told what is missing. A further request is "
                "allowed only for documents that new facts made necessary: describe those facts."
            ),
            code="once",
        )
    request = DocumentRequest.objects.create(
        claim=claim,
        sequence=earlier + 1,
        items=cleaned,
        new_facts=new_facts if (earlier or claim.documents_complete_on) else "",
        requested_by=actor,
        requested_at=timezone.now(),
    )
    reopened_clock = claim.documents_complete_on
    claim.documents_complete_on = None
    if claim.status == ClaimStatus.DOCUMENTS_REQUESTED:
        # Still waiting for the first list: the new items join it, the status stays.
        with acting_as(actor):
            claim.save(update_fields=["documents_complete_on"])
    else:
        _transition(
            claim,
            ClaimStatus.DOCUMENTS_REQUESTED,
            actor,
            reason=request.new_facts,
            fields=["documents_complete_on"],
            code="documents_requested",
        )
    _event(
        claim,
        actor,
        EventKind.REQUEST,
        code="request",
        params={
            "request": request.pk,
            "sequence": request.sequence,
            "items": cleaned,
            "previous_complete_on": reopened_clock.isoformat() if reopened_clock else None,
        },
        reason=request.new_facts,
    )
    _refresh_deadline(claim)

    def listing(language):
        lines = []
        for position, item in enumerate(cleaned, start=1):
            line = f"{position}. {_label(item, language)}"
            if item["note"]:
                line += f" — {item['note']}"
            lines.append(line)
        return {"items": "\n".join(lines), "count": len(cleaned)}

    _notify_firm(
        claim,
        gettext_lazy("Claim %(number)s: documents needed"),
        gettext_lazy(
            "To assess your claim we need the following documents. Please upload them on the "
            "claim page.\n%(items)s"
        ),
        params_for=listing,
    )
    return request


@transaction.atomic
def claim_documents_complete(*, claim: Claim, actor, waived=(), note: str = "") -> Claim:
    """The handler judges the documents complete; the 30-day decision clock starts today.

    Everything requested must have arrived. A required checklist item may be waived (the insurer
    may hold it already, like its own copy of the policy), and the waiver is recorded.
    """
    _require_handler(actor)
    claim = _lock(claim)
    if claim.documents.filter(
        status__in=[ClaimDocumentStatus.PENDING, ClaimDocumentStatus.PROCESSING]
    ).exists():
        raise DomainError(
            _("Some documents are still being checked; wait until they are ready."),
            code="processing",
        )
    missing = outstanding_items(claim)
    waived = set(waived or ())
    blocking = [item for item in missing if item["requested"] or item["code"] not in waived]
    if blocking:
        names = "、".join(_label(item, translation.get_language() or "zh") for item in blocking)
        raise DomainError(
            _("Still missing: %(items)s. Request them, or waive required items you hold.")
            % {"items": names},
            code="missing",
        )
    claim.documents_complete_on = _today()
    claim.waived_documents = sorted(set(claim.waived_documents or ()) | waived)
    _transition(
        claim,
        ClaimStatus.UNDER_ASSESSMENT,
        actor,
        reason=(note or "").strip(),
        fields=["documents_complete_on", "waived_documents"],
        code="documents_complete",
    )
    if waived:
        _event(
            claim,
            actor,
            EventKind.NOTE,
            code="waived",
            params={"codes": sorted(waived)},
            public=False,
        )
    _refresh_deadline(claim)
    _notify_firm(
        claim,
        gettext_lazy("Claim %(number)s: documents complete"),
        gettext_lazy(
            "We have every document we need. We will decide whether the claim is covered by "
            "%(due)s at the latest."
        ),
        due=statutory.decision_due(claim.documents_complete_on).isoformat(),
    )
    return claim


# --- Handling and assessment ------------------------------------------------------------------


@transaction.atomic
def claim_assign(*, claim: Claim, handler, actor) -> Claim:
    _require_handler(actor)
    if not may_handle_claims(handler):
        raise DomainError(_("Claims can be assigned only to a claims handler."), code="handler")
    claim = _lock(claim)
    previous = claim.handler_id
    claim.handler = handler
    with acting_as(actor):
        claim.save(update_fields=["handler"])
    _event(
        claim,
        actor,
        EventKind.ASSIGNMENT,
        code="assigned",
        params={"from": previous, "to": handler.pk, "name": handler.get_full_name()},
        public=False,
    )
    if handler.pk != getattr(actor, "pk", None):
        notify(
            users=[handler],
            title=gettext_lazy("Claim %(number)s was assigned to you"),
            params={"number": claim.number},
            url=f"/admin/claims/claim/{claim.pk}/change/",
        )
    return claim


@transaction.atomic
def claim_set_reserve(*, claim: Claim, amount, actor, note: str = "") -> Claim:
    _require_handler(actor)
    amount = _money(amount, _("Enter the reserve as an amount."))
    if amount < 0:
        raise DomainError(_("The reserve cannot be negative."), code="amount")
    claim = _lock(claim)
    previous = claim.reserve
    claim.reserve = amount
    with acting_as(actor):
        claim.save(update_fields=["reserve"])
    _event(
        claim,
        actor,
        EventKind.RESERVE,
        code="reserve",
        params={"from": str(previous) if previous is not None else None, "to": str(amount)},
        reason=(note or "").strip(),
        public=False,
    )
    return claim


def paid_on_claim(claim: Claim) -> Decimal:
    return claim.payments.aggregate(total=Sum("amount"))["total"] or ZERO


def advances_paid(claim: Claim) -> Decimal:
    return (
        claim.payments.filter(kind=ClaimPaymentKind.ADVANCE).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )


def assessment_cap(claim: Claim) -> Decimal:
    """What this claim may pay in all: the policy's remaining cover plus what this claim has
    already taken from it (advances)."""
    return claim.policy.remaining_sum_insured + paid_on_claim(claim)


@transaction.atomic
def claim_assess(
    *,
    claim: Claim,
    actor,
    items,
    deductible_amount=ZERO,
    deductible_rate=ZERO,
    recovered=ZERO,
    other_sums_insured=(),
    note: str = "",
) -> ClaimAssessment:
    """Run the indemnity calculator on the handler's figures and keep inputs and result.

    ``items`` are dicts with ``loss``, ``insured_value`` (or None), ``sum_insured``, ``salvage``
    and ``mitigation_costs``.
    """
    _require_handler(actor)
    claim = _lock(claim)
    if claim.status not in (ClaimStatus.UNDER_ASSESSMENT, ClaimStatus.ACCEPTED):
        raise DomainError(
            _("A claim is assessed once its documents are complete, before the amount is agreed."),
            code="status",
        )
    policy = Policy.objects.select_for_update().get(pk=claim.policy_id)
    claim.policy = policy
    cap = assessment_cap(claim)
    try:
        event = indemnity.EventInput(
            items=tuple(
                indemnity.ItemInput(
                    loss=_decimal(item.get("loss")),
                    insured_value=(
                        None
                        if item.get("insured_value") in (None, "")
                        else _decimal(item["insured_value"])
                    ),
                    sum_insured=_decimal(item.get("sum_insured")),
                    salvage=_decimal(item.get("salvage") or 0),
                    mitigation_costs=_decimal(item.get("mitigation_costs") or 0),
                )
                for item in items
            ),
            deductible_amount=_decimal(deductible_amount or 0),
            deductible_rate=_decimal(deductible_rate or 0),
            recovered=_decimal(recovered or 0),
            other_sums_insured=tuple(_decimal(v) for v in other_sums_insured or ()),
            remaining_sum_insured=cap,
        )
        result = indemnity.assess(event)
    except indemnity.IndemnityError as error:
        # The calculator's own wording names the input at fault; it is kept as the detail.
        raise DomainError(
            _("These figures cannot be assessed: %(detail)s") % {"detail": error},
            code="indemnity",
        ) from None
    inputs = {
        "items": [
            {
                "loss": str(i.loss),
                "insured_value": None if i.insured_value is None else str(i.insured_value),
                "sum_insured": str(i.sum_insured),
                "salvage": str(i.salvage),
                "mitigation_costs": str(i.mitigation_costs),
            }
            for i in event.items
        ],
        "deductible_amount": str(event.deductible_amount),
        "deductible_rate": str(event.deductible_rate),
        "recovered": str(event.recovered),
        "other_sums_insured": [str(v) for v in event.other_sums_insured],
        "remaining_sum_insured": str(cap),
    }
    assessment = ClaimAssessment.objects.create(
        claim=claim,
        inputs=inputs,
        result=result.to_dict(),
        payable=result.payable,
        note=(note or "").strip(),
        assessed_by=actor,
    )
    _event(
        claim,
        actor,
        EventKind.ASSESSMENT,
        code="assessed",
        params={"assessment": assessment.pk, "payable": str(result.payable)},
        public=False,
    )
    return assessment


def _decimal(value) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(
            _("“%(value)s” is not an amount.") % {"value": value}, code="amount"
        ) from None
    if not number.is_finite():
        raise DomainError(_("“%(value)s” is not an amount.") % {"value": value}, code="amount")
    return number


@transaction.atomic
def claim_decide(*, claim: Claim, actor, decision: str, reasons: str = "", clauses=()) -> Claim:
    """Covered or not. A rejection needs written reasons and is sent as a letter; the notice
    must go out within 3 days (Insurance Law art. 24)."""
    _require_handler(actor)
    claim = _lock(claim)
    reasons = (reasons or "").strip()
    if decision not in Decision.values:
        raise DomainError(_("Choose covered or not covered."), code="decision")
    exclusions = claim.policy.clause_version.exclusions or []
    clause_refs = []
    for number in clauses or ():
        try:
            number = int(number)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= len(exclusions):
            raise DomainError(_("Choose exclusions of this policy's clause."), code="clauses")
        clause_refs.append({"number": number, "title": exclusions[number - 1].get("title", {})})
    if decision == Decision.REJECT and len(reasons) < 20:
        raise DomainError(
            _("A rejection must state its reasons in writing (at least a full sentence)."),
            code="reasons",
        )
    claim.decision = decision
    claim.decided_on = _today()
    claim.decision_reasons = reasons
    claim.rejection_clauses = clause_refs if decision == Decision.REJECT else []
    target = ClaimStatus.ACCEPTED if decision == Decision.ACCEPT else ClaimStatus.REJECTED
    _transition(
        claim,
        target,
        actor,
        reason=reasons,
        fields=["decision", "decided_on", "decision_reasons", "rejection_clauses"],
        code=f"decided_{decision}",
    )
    _refresh_deadline(claim)
    if decision == Decision.REJECT:
        claim_letter_request(claim=claim, kind=LetterKind.REJECTION)
    else:
        _notify_firm(
            claim,
            gettext_lazy("Claim %(number)s is covered"),
            gettext_lazy("We are settling the amount and will write to you with it."),
        )
    return claim


@transaction.atomic
def claim_settle(*, claim: Claim, actor, amount=None) -> Claim:
    """The amount is agreed (by default the latest assessment's); payment is due in 10 days."""
    _require_handler(actor)
    claim = _lock(claim)
    if claim.status != ClaimStatus.ACCEPTED:
        raise DomainError(_("Only a claim found covered can be settled."), code="status")
    assessment = claim.assessments.order_by("-created_at", "-id").first()
    if assessment is None:
        raise DomainError(_("Record an assessment before agreeing the amount."), code="assessment")
    agreed = assessment.payable if amount in (None, "") else _money(amount, _("Enter the amount."))
    if agreed < 0:
        raise DomainError(_("The amount cannot be negative."), code="amount")
    if agreed > assessment.payable:
        raise DomainError(
            _("The amount cannot exceed the assessed CNY %(payable)s; assess again if needed.")
            % {"payable": f"{assessment.payable:,.2f}"},
            code="amount",
        )
    cap = assessment_cap(claim)
    if agreed > cap:
        raise DomainError(
            _("The amount cannot exceed the remaining sum insured, CNY %(cap)s.")
            % {"cap": f"{cap:,.2f}"},
            code="amount",
        )
    paid = paid_on_claim(claim)
    if agreed < paid:
        raise DomainError(
            _("CNY %(paid)s has already been paid in advance; the agreed amount cannot be less.")
            % {"paid": f"{paid:,.2f}"},
            code="amount",
        )
    today = _today()
    claim.amount_agreed = agreed
    claim.amount_agreed_on = today
    _transition(
        claim,
        ClaimStatus.SETTLED,
        actor,
        fields=["amount_agreed", "amount_agreed_on"],
        code="settled",
    )
    if agreed == paid:
        # The advances already paid it all: nothing is left to pay.
        claim.paid_on = today
        _transition(claim, ClaimStatus.PAID, actor, fields=["paid_on"], code="paid")
    _refresh_deadline(claim)
    claim_letter_request(claim=claim, kind=LetterKind.SETTLEMENT)
    return claim


@transaction.atomic
def claim_payment_record(
    *, claim: Claim, actor, kind: str, amount, reference: str, paid_on: date | None = None
) -> ClaimPayment:
    """An advance (the part already determinable, art. 25) or the final balance. Each payment
    lowers the policy's remaining sum insured by the amount paid (clause art. 32)."""
    _require_handler(actor)
    claim = _lock(claim)
    amount = _money(amount, _("Enter the amount paid."))
    if amount <= 0:
        raise DomainError(_("A payment must be more than zero."), code="amount")
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the bank reference."), code="reference")
    if ClaimPayment.objects.filter(reference=reference).exists():
        raise DomainError(_("A payment with this reference was already recorded."), code="dup")
    paid_on = paid_on or _today()
    if paid_on > _today():
        raise DomainError(_("The payment date cannot be in the future."), code="date")
    paid = paid_on_claim(claim)
    if kind == ClaimPaymentKind.ADVANCE:
        if claim.status not in (ClaimStatus.UNDER_ASSESSMENT, ClaimStatus.ACCEPTED):
            raise DomainError(
                _("Advances are paid while the amount is not yet agreed."), code="status"
            )
    elif kind == ClaimPaymentKind.FINAL:
        if claim.status != ClaimStatus.SETTLED:
            raise DomainError(_("The final payment follows the agreed amount."), code="status")
        balance = claim.amount_agreed - paid
        if amount != balance:
            raise DomainError(
                _("The balance due is CNY %(balance)s.") % {"balance": f"{balance:,.2f}"},
                code="amount",
            )
    else:
        raise DomainError(_("Choose advance or final payment."), code="kind")
    remaining = policy_sum_insured_erode(policy=claim.policy, amount=amount, actor=actor)
    with acting_as(actor):
        payment = ClaimPayment.objects.create(
            claim=claim,
            kind=kind,
            amount=amount,
            reference=reference,
            paid_on=paid_on,
            remaining_sum_insured_after=remaining,
            recorded_by=actor,
        )
    _event(
        claim,
        actor,
        EventKind.PAYMENT,
        code=f"paid_{kind}",
        params={"amount": str(amount), "remaining": str(remaining)},
    )
    if kind == ClaimPaymentKind.ADVANCE:
        if claim.advance_paid_on is None:
            claim.advance_paid_on = paid_on
            with acting_as(actor):
                claim.save(update_fields=["advance_paid_on"])
    else:
        claim.paid_on = paid_on
        _transition(claim, ClaimStatus.PAID, actor, fields=["paid_on"], code="paid")
    _refresh_deadline(claim)
    _notify_firm(
        claim,
        gettext_lazy("Claim %(number)s: CNY %(amount)s paid"),
        gettext_lazy(
            "We have paid CNY %(amount)s. The policy's remaining sum insured is now CNY "
            "%(remaining)s."
        ),
        amount=f"{amount:,.2f}",
        remaining=f"{remaining:,.2f}",
    )
    return payment


@transaction.atomic
def claim_reopen(*, claim: Claim, actor, reason: str) -> Claim:
    """New facts after a rejection or a final payment: back to assessment with a fresh clock."""
    _require_handler(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say which new facts reopen the claim."), code="reason")
    claim = _lock(claim)
    previous = {
        "decision": claim.decision,
        "decided_on": claim.decided_on.isoformat() if claim.decided_on else None,
        "amount_agreed": str(claim.amount_agreed) if claim.amount_agreed is not None else None,
    }
    claim.decision = ""
    claim.decided_on = None
    claim.decision_reasons = ""
    claim.rejection_clauses = []
    claim.rejection_notice_sent_on = None
    claim.amount_agreed = None
    claim.amount_agreed_on = None
    claim.paid_on = None
    claim.documents_complete_on = _today()
    _transition(
        claim,
        ClaimStatus.UNDER_ASSESSMENT,
        actor,
        reason=reason,
        code="reopened",
        fields=[
            "decision",
            "decided_on",
            "decision_reasons",
            "rejection_clauses",
            "rejection_notice_sent_on",
            "amount_agreed",
            "amount_agreed_on",
            "paid_on",
            "documents_complete_on",
        ],
    )
    _event(claim, actor, EventKind.NOTE, code="reopened", params=previous, public=False)
    _refresh_deadline(claim)
    return claim


# --- Letters ----------------------------------------------------------------------------------


def _letter_reference(claim: Claim, kind: str) -> str:
    count = claim.letters.filter(kind=kind).count() + 1
    prefix = {LetterKind.REJECTION: "R", LetterKind.SETTLEMENT: "S"}[kind]
    return f"{claim.number}-{prefix}{count}"


def claim_letter_request(*, claim: Claim, kind: str) -> ClaimLetter:
    """Queue a letter; its context is fixed now, so the letter says what was decided."""
    from claims.letter_context import letter_context
    from claims.tasks import make_claim_letter

    letter = ClaimLetter.objects.create(
        claim=claim,
        kind=kind,
        reference=_letter_reference(claim, kind),
        context=letter_context(claim, kind),
    )
    _enqueue(make_claim_letter, letter.pk)
    return letter


def claim_letter_generate(letter_id: int) -> bool:
    """Render a queued letter; a rejection letter, once ready, is the written notice the law
    requires, so its sending date is recorded and the firm is told."""
    from claims.letter_context import render_letter

    letter = ClaimLetter.objects.select_related("claim").filter(pk=letter_id).first()
    if letter is None or letter.status == LetterStatus.READY:
        return False
    try:
        pdf = render_letter(letter)
    except Exception:
        ClaimLetter.objects.filter(pk=letter_id).update(status=LetterStatus.FAILED)
        raise
    import hashlib

    name = default_storage.save(
        f"claims/{letter.claim.firm_id}/{letter.claim_id}/{letter.reference}.pdf",
        ContentFile(pdf),
    )
    with transaction.atomic():
        updated = (
            ClaimLetter.objects.filter(pk=letter_id)
            .exclude(status=LetterStatus.READY)
            .update(
                status=LetterStatus.READY,
                file=name,
                sha256=hashlib.sha256(pdf).hexdigest(),
                ready_at=timezone.now(),
            )
        )
        if not updated:
            default_storage.delete(name)
            return False
        claim = _lock(letter.claim)
        _event(
            claim,
            None,
            EventKind.LETTER,
            code=f"letter_{letter.kind}",
            params={"letter": letter.pk},
        )
        if letter.kind == LetterKind.REJECTION and claim.status == ClaimStatus.REJECTED:
            if claim.rejection_notice_sent_on is None:
                claim.rejection_notice_sent_on = _today()
                claim.save(update_fields=["rejection_notice_sent_on"])
                _refresh_deadline(claim)
            _notify_firm(
                claim,
                gettext_lazy("Claim %(number)s is not covered"),
                gettext_lazy(
                    "We have decided that the claim is not covered. The letter on the claim page "
                    "gives our reasons and how to ask for a review."
                ),
            )
        elif letter.kind == LetterKind.SETTLEMENT:
            _notify_firm(
                claim,
                gettext_lazy("Claim %(number)s: amount agreed"),
                gettext_lazy(
                    "The settlement letter is on the claim page: CNY %(amount)s, to be paid by "
                    "%(due)s."
                ),
                amount=f"{claim.amount_agreed:,.2f}",
                due=statutory.payment_due(claim.amount_agreed_on).isoformat(),
            )
    return True


def stale_letters(older_than_minutes: int = 5):
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return ClaimLetter.objects.filter(
        status__in=[LetterStatus.QUEUED, LetterStatus.FAILED], created_at__lt=cutoff
    ).values_list("pk", flat=True)


# --- Subrogation and recoveries ---------------------------------------------------------------


@transaction.atomic
def subrogation_start(*, claim: Claim, actor, liable_party: str, basis: str = "") -> Subrogation:
    _require_handler(actor)
    claim = _lock(claim)
    liable_party = (liable_party or "").strip()
    if not liable_party:
        raise DomainError(_("Name the liable party."), code="party")
    if not claim.payments.exists():
        raise DomainError(
            _("Subrogation begins once the insurer has paid (clause art. 33)."), code="unpaid"
        )
    if Subrogation.objects.filter(claim=claim).exists():
        raise DomainError(_("Subrogation was already started for this claim."), code="dup")
    sharing = dict(claim.policy.clause_version.recovery_sharing or {})
    sharing.setdefault("method", recoveries.INSURER_FIRST)
    sharing.setdefault("insurer_percent", "0")
    with acting_as(actor):
        subrogation = Subrogation.objects.create(
            claim=claim,
            liable_party=liable_party[:200],
            basis=(basis or "").strip(),
            sharing=sharing,
            started_on=_today(),
            started_by=actor,
        )
    _event(
        claim,
        actor,
        EventKind.RECOVERY,
        code="subrogation",
        params={"party": subrogation.liable_party},
    )
    return subrogation


def _uninsured_loss(claim: Claim) -> Decimal:
    """The insured's own share of the loss: what was assessed as lost, less what was paid."""
    assessment = claim.assessments.order_by("-created_at", "-id").first()
    if assessment is None:
        return ZERO
    total = sum(
        (
            Decimal(line["loss"]) - Decimal(line["salvage"]) + Decimal(line["mitigation_costs"])
            for line in assessment.result.get("lines", [])
        ),
        ZERO,
    )
    return max(total.quantize(CENT) - paid_on_claim(claim), ZERO)


@transaction.atomic
def recovery_record(
    *, claim: Claim, actor, amount, reference: str, received_on: date | None = None
) -> Recovery:
    _require_handler(actor)
    claim = _lock(claim)
    subrogation = Subrogation.objects.select_for_update().filter(claim=claim).first()
    if subrogation is None:
        raise DomainError(_("Start subrogation before recording recoveries."), code="none")
    amount = _money(amount, _("Enter the amount recovered."))
    if amount <= 0:
        raise DomainError(_("The amount recovered must be more than zero."), code="amount")
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the bank reference."), code="reference")
    if Recovery.objects.filter(reference=reference).exists():
        raise DomainError(_("A recovery with this reference was already recorded."), code="dup")
    received_on = received_on or _today()
    if received_on > _today():
        raise DomainError(_("The date received cannot be in the future."), code="date")
    so_far = subrogation.recoveries.aggregate(
        insurer=Sum("insurer_part"), insured=Sum("insured_part")
    )
    split = recoveries.split_recovery(
        amount,
        method=subrogation.sharing.get("method", recoveries.INSURER_FIRST),
        insurer_paid=paid_on_claim(claim),
        insurer_recovered=so_far["insurer"] or ZERO,
        insured_uninsured_loss=_uninsured_loss(claim),
        insured_recovered=so_far["insured"] or ZERO,
        insurer_percent=Decimal(str(subrogation.sharing.get("insurer_percent") or "0")),
    )
    recovery = Recovery.objects.create(
        subrogation=subrogation,
        amount=amount,
        insurer_part=split.insurer,
        insured_part=split.insured,
        received_on=received_on,
        reference=reference,
        recorded_by=actor,
    )
    _event(
        claim,
        actor,
        EventKind.RECOVERY,
        code="recovered",
        params={
            "amount": str(amount),
            "insurer": str(split.insurer),
            "insured": str(split.insured),
        },
    )
    if split.insured > 0:
        _notify_firm(
            claim,
            gettext_lazy("Claim %(number)s: CNY %(amount)s recovered for you"),
            gettext_lazy(
                "Of CNY %(total)s recovered from the liable party, CNY %(amount)s is yours and "
                "will be paid to you."
            ),
            amount=f"{split.insured:,.2f}",
            total=f"{amount:,.2f}",
        )
    return recovery


# --- Reinstatement of the sum insured (clause art. 32) ----------------------------------------


def reinstatement_quote(policy: Policy, amount, effective: date | None = None) -> Decimal:
    amount = _money(amount, _("Enter the amount to restore."))
    effective = effective or _today() + timedelta(days=1)
    gap = policy.sum_insured - policy.remaining_sum_insured
    if amount <= 0 or amount > gap:
        raise DomainError(
            _("At most CNY %(gap)s can be restored on this policy.") % {"gap": f"{gap:,.2f}"},
            code="amount",
        )
    try:
        return reinstatement_premium(
            annual_premium=policy.premium,
            sum_insured=policy.sum_insured,
            amount=amount,
            start=policy.start_date,
            end=policy.end_date,
            effective=effective,
        )
    except ReinstatementError:
        raise DomainError(
            _("The sum insured can be restored only while the policy runs."), code="period"
        ) from None


@transaction.atomic
def reinstatement_request(*, policy: Policy, actor, amount) -> Reinstatement:
    require_member(firm=policy.firm, user=actor)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status not in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE):
        raise DomainError(_("Only a policy in force can have its sum insured restored."))
    if policy.reinstatements.filter(status=ReinstatementStatus.REQUESTED).exists():
        raise DomainError(_("A request to restore the sum insured is already open."), code="dup")
    effective = _today() + timedelta(days=1)
    premium = reinstatement_quote(policy, amount, effective)
    with acting_as(actor):
        reinstatement = Reinstatement.objects.create(
            policy=policy,
            amount=_money(amount, _("Enter the amount to restore.")),
            premium=premium,
            effective_date=effective,
            requested_by=actor,
        )
    notify(
        users=_staff_to_warn(),
        title=gettext_lazy("Policy %(policy)s: restoration of CNY %(amount)s requested"),
        params={"policy": policy.number, "amount": f"{reinstatement.amount:,.2f}"},
        url=f"/admin/claims/reinstatement/{reinstatement.pk}/change/",
    )
    return reinstatement


@transaction.atomic
def reinstatement_decide(*, reinstatement: Reinstatement, actor, approve: bool) -> Reinstatement:
    _require_handler(actor)
    reinstatement = Reinstatement.objects.select_for_update().get(pk=reinstatement.pk)
    if reinstatement.status != ReinstatementStatus.REQUESTED:
        raise DomainError(_("This request was already decided."), code="decided")
    policy = reinstatement.policy
    if approve:
        policy = policy_sum_insured_restore(
            policy=policy,
            amount=reinstatement.amount,
            premium=reinstatement.premium,
            due_date=_today() + timedelta(days=REINSTATEMENT_PREMIUM_DAYS),
            actor=actor,
        )
    reinstatement.status = ReinstatementStatus.APPROVED if approve else ReinstatementStatus.DECLINED
    reinstatement.decided_by = actor
    reinstatement.decided_at = timezone.now()
    with acting_as(actor):
        reinstatement.save(update_fields=["status", "decided_by", "decided_at"])
    notify(
        users=firm_users(policy.firm),
        title=(
            gettext_lazy("Policy %(policy)s: sum insured restored")
            if approve
            else gettext_lazy("Policy %(policy)s: restoration declined")
        ),
        body=(
            gettext_lazy(
                "CNY %(amount)s of cover is restored; the premium of CNY %(premium)s is due "
                "within %(days)s days."
            )
            if approve
            else ""
        ),
        params={
            "policy": policy.number,
            "amount": f"{reinstatement.amount:,.2f}",
            "premium": f"{reinstatement.premium:,.2f}",
            "days": REINSTATEMENT_PREMIUM_DAYS,
        },
        url=f"/app/policies/{policy.pk}/",
        firm=policy.firm,
    )
    return reinstatement


# --- Deadline warnings ------------------------------------------------------------------------


def deadline_warnings(today: date | None = None, *, soon_days: int = statutory.DEFAULT_SOON_DAYS):
    """Warn handlers (and claims supervisors) once a day about deadlines due soon or overdue."""
    today = today or _today()
    due = (
        Claim.objects.filter(next_deadline_on__lte=today + timedelta(days=soon_days))
        .filter(Q(deadline_warned_on__isnull=True) | Q(deadline_warned_on__lt=today))
        .select_related("handler", "policy")
        .order_by("next_deadline_on")
    )
    warned = 0
    kinds = dict(DEADLINE_LABELS)
    for claim in due[:1000]:
        overdue = claim.next_deadline_on < today
        # The claim is marked and its warning written in one transaction, the mark a conditional
        # update: a run cut off half-way (the database went away) leaves neither, so the next
        # run warns; two runs at once (beat's and a redelivered one) warn once.
        with transaction.atomic():
            claimed = (
                Claim.objects.filter(pk=claim.pk)
                .filter(Q(deadline_warned_on__isnull=True) | Q(deadline_warned_on__lt=today))
                .update(deadline_warned_on=today)
            )
            if not claimed:
                continue
            notify(
                users=_staff_to_warn(claim.handler),
                title=(
                    gettext_lazy("OVERDUE: claim %(number)s, %(kind)s was due %(due)s")
                    if overdue
                    else gettext_lazy("Claim %(number)s: %(kind)s due %(due)s")
                ),
                params={
                    "number": claim.number,
                    "kind": kinds.get(claim.next_deadline_kind, claim.next_deadline_kind),
                    "due": claim.next_deadline_on.isoformat(),
                },
                url=f"/admin/claims/claim/{claim.pk}/change/",
            )
        warned += 1
    return warned


DEADLINE_LABELS = (
    (statutory.Kind.DECISION.value, gettext_lazy("decision on cover")),
    (statutory.Kind.REJECTION_NOTICE.value, gettext_lazy("written rejection notice")),
    (statutory.Kind.PAYMENT.value, gettext_lazy("payment of the agreed amount")),
    (statutory.Kind.ADVANCE_PAYMENT.value, gettext_lazy("advance of the determinable part")),
)
