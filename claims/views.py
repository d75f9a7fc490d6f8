"""The applicant's claims, under /app/claims/: the list, reporting a claim on a policy, the claim
page (timeline, what is missing, documents, the insurer's deadlines, amounts, letters), uploading
and downloading documents, withdrawing, and asking to restore a policy's sum insured.

Reads go through ``claims.selectors`` (another firm's claim answers 404), writes through
``claims.services``.
"""

import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from claims import deadlines as statutory
from claims import selectors, services
from claims.choices import (
    CLAIM_ACCEPTS_DOCUMENTS,
    CLAIM_TRANSITIONS,
    ClaimDocumentStatus,
    ClaimPaymentKind,
    ClaimStatus,
    EventKind,
    LetterKind,
    LetterStatus,
    ReinstatementStatus,
)
from claims.forms import (
    ClaimDocumentForm,
    ClaimNotifyForm,
    ReinstatementForm,
    WithdrawForm,
    item_label,
    right_label,
)
from portal.errors import DomainError
from portal.files import stored_file_response
from underwriting.choices import PolicyStatus
from underwriting.models import pick_language
from underwriting.views_app import firm_member_required

PAGE_SIZE = 25
# Seconds between two looks at documents still being checked (the htmx poll of the documents).
POLL_SECONDS = 2
DOCUMENTS_WORKING = {ClaimDocumentStatus.PENDING, ClaimDocumentStatus.PROCESSING}
WITHDRAWABLE = {
    status for status, targets in CLAIM_TRANSITIONS.items() if ClaimStatus.WITHDRAWN in targets
}
# The service restores cover only on these (claims.services.reinstatement_request).
REINSTATABLE = {PolicyStatus.ISSUED, PolicyStatus.IN_FORCE}
DEADLINE_LABELS = dict(services.DEADLINE_LABELS)
ZERO = Decimal("0.00")


def _claim_url(claim, anchor: str = "") -> str:
    url = reverse("claims:detail", kwargs={"pk": claim.pk})
    return f"{url}#{anchor}" if anchor else url


def _money(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (ArithmeticError, ValueError, TypeError):
        return str(value)


# --- List -------------------------------------------------------------------------------------


@firm_member_required
@require_GET
def claim_list(request):
    """The active firm's claims, newest first: the same queries for 2 or 2,000 claims."""
    page = Paginator(selectors.claims_of_firm(request.firm), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    today = timezone.localdate()
    for claim in page.object_list:
        claim.missing_count = (
            len(services.outstanding_items(claim)) if claim.status in CLAIM_ACCEPTS_DOCUMENTS else 0
        )
        claim.next_label = DEADLINE_LABELS.get(claim.next_deadline_kind, "")
        claim.next_overdue = bool(claim.next_deadline_on and claim.next_deadline_on < today)
    return render(request, "claims/list.html", {"page": page})


# --- Reporting a claim ------------------------------------------------------------------------


@firm_member_required
@require_GET
def claim_new(request):
    """Which policy the claim is under: ``?policy=<pk>`` goes straight to its form."""
    wanted = request.GET.get("policy", "")
    # ASCII digits that fit an id: "²".isdigit() is true, and <id:> cannot reverse 20 digits.
    if re.fullmatch(r"[0-9]{1,18}", wanted):
        return redirect("claims:notify", policy_pk=int(wanted))
    policies = list(selectors.claimable_policies(request.firm, services.CLAIMABLE_POLICY_STATUSES))
    return render(request, "claims/new.html", {"policies": policies})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def claim_notify(request, policy_pk):
    policy = selectors.policy_for_user(request.user, policy_pk)
    if policy.status not in services.CLAIMABLE_POLICY_STATUSES:
        messages.info(
            request,
            gettext("Claims can be reported only on a policy in force or one that has expired."),
        )
        return redirect("policies:detail", pk=policy.pk)
    form = ClaimNotifyForm(request.POST if request.method == "POST" else None, policy=policy)
    if request.method == "POST" and form.is_valid():
        try:
            claim = services.claim_notify(
                policy=policy, actor=request.user, **form.service_arguments()
            )
        except DomainError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                gettext(
                    "Claim %(number)s was reported. Upload the documents listed below; the "
                    "insurer will tell you if anything else is needed."
                )
                % {"number": claim.number},
            )
            return redirect(_claim_url(claim))
    return render(request, "claims/notify.html", {"policy": policy, "form": form})


# --- The claim page ---------------------------------------------------------------------------


def _documents_context(claim) -> dict:
    """What is missing and the checklist with the documents uploaded for each item."""
    documents = list(claim.documents.all())
    accepts = claim.status in CLAIM_ACCEPTS_DOCUMENTS
    checklist = services.checklist(claim)
    missing = services.outstanding_items(claim) if accepts else []
    missing_codes = {item["code"] for item in missing}
    requested_codes = {item["code"] for item in missing if item.get("requested")}
    codes = {item["code"] for item in checklist}
    by_code = defaultdict(list)
    for document in documents:
        by_code[document.code if document.code in codes else services.OTHER_DOCUMENT].append(
            document
        )
    rows = [
        {
            "code": item["code"],
            "label": item_label(item),
            "required": bool(item.get("required")),
            "missing": item["code"] in missing_codes,
            "requested": item["code"] in requested_codes,
            "documents": by_code.get(item["code"], []),
        }
        for item in checklist
    ]
    return {
        "claim": claim,
        "accepts_documents": accepts,
        "missing": [
            {
                "code": item["code"],
                "label": item_label(item),
                "note": item.get("note") or "",
                "requested": bool(item.get("requested")),
            }
            for item in missing
        ],
        "checklist_rows": rows,
        "documents_working": any(d.status in DOCUMENTS_WORKING for d in documents),
        "poll_seconds": POLL_SECONDS,
    }


def _deadlines(claim, today) -> list[dict]:
    """The insurer's statutory deadlines. A withdrawn claim owes nothing more, so only the
    deadlines already met are kept."""
    rows = []
    for deadline in services.claim_deadlines(claim):
        if claim.status == ClaimStatus.WITHDRAWN and deadline.done_on is None:
            continue
        kind = str(deadline.kind)
        rows.append(
            {
                "kind": kind,
                "label": DEADLINE_LABELS.get(kind, kind),
                "start": deadline.start,
                "due": deadline.due,
                "done_on": deadline.done_on,
                "status": str(deadline.status(today)),
                "days_left": deadline.days_left(today),
                "days_late": -deadline.days_left(today),
            }
        )
    return rows


STATUS_EVENT_TEXT = {
    "notified": gettext_lazy("Claim reported."),
    "documents_requested": gettext_lazy("The insurer needs more documents."),
    "documents_complete": gettext_lazy(
        "The insurer has every document it needs; the period to decide on cover started."
    ),
    "decided_accept": gettext_lazy("The claim is covered."),
    "decided_reject": gettext_lazy("The claim is not covered."),
    "settled": gettext_lazy("The amount payable was agreed."),
    "paid": gettext_lazy("The claim is paid in full."),
    "reopened": gettext_lazy("The claim was reopened because of new facts."),
}
LETTER_EVENT_TEXT = {
    LetterKind.REJECTION: gettext_lazy("The rejection letter is ready."),
    LetterKind.SETTLEMENT: gettext_lazy("The settlement letter is ready."),
}


def _event_row(claim, event, letters: dict) -> dict:
    """One public event worded in the reader's language from its code and values."""
    params = event.params or {}
    code = event.code
    row = {
        "at": event.at,
        "code": code or event.kind,
        "text": "",
        "items": [],
        "reason": "",
        "reason_label": "",
        "link": "",
        "link_text": "",
        "tone": "",
    }
    if code == "uploaded":
        row["text"] = gettext("Document uploaded: “%(name)s”.") % {"name": params.get("name", "")}
    elif code == "rejected":
        row["text"] = gettext("Document “%(name)s” was not accepted.") % {
            "name": params.get("name", "")
        }
        row["reason"], row["reason_label"] = event.reason, gettext("Reason")
        row["tone"] = "danger"
    elif code == "request":
        row["text"] = gettext("The insurer asked for these documents:")
        row["items"] = [
            item_label(item) + (f" — {item['note']}" if item.get("note") else "")
            for item in params.get("items") or []
        ]
        row["reason"], row["reason_label"] = event.reason, gettext("New facts")
        row["tone"] = "warning"
    elif code in (f"paid_{ClaimPaymentKind.ADVANCE}", f"paid_{ClaimPaymentKind.FINAL}"):
        template = (
            gettext(
                "Advance payment of CNY %(amount)s made. The policy's remaining sum insured is "
                "now CNY %(remaining)s."
            )
            if code.endswith(ClaimPaymentKind.ADVANCE)
            else gettext(
                "Final payment of CNY %(amount)s made. The policy's remaining sum insured is "
                "now CNY %(remaining)s."
            )
        )
        row["text"] = template % {
            "amount": _money(params.get("amount", "0")),
            "remaining": _money(params.get("remaining", "0")),
        }
        row["tone"] = "success"
    elif code.startswith("letter_"):
        kind = code.removeprefix("letter_")
        row["text"] = str(LETTER_EVENT_TEXT.get(kind, gettext("A letter is ready.")))
        letter = letters.get(params.get("letter"))
        if letter is not None and letter.status == LetterStatus.READY and letter.file:
            row["link"] = reverse(
                "claims:letter_download", kwargs={"pk": claim.pk, "letter_pk": letter.pk}
            )
            row["link_text"] = gettext("Download (PDF)")
    elif code == "recovered":
        row["text"] = gettext(
            "CNY %(amount)s was recovered from the liable party; CNY %(insured)s of it is yours."
        ) % {
            "amount": _money(params.get("amount", "0")),
            "insured": _money(params.get("insured", "0")),
        }
    elif code == "subrogation":
        row["text"] = gettext("The insurer started recovering what it paid from %(party)s.") % {
            "party": params.get("party", "")
        }
    elif code in STATUS_EVENT_TEXT:
        row["text"] = str(STATUS_EVENT_TEXT[code])
        # A request's new facts are shown with its list of documents, just after.
        if event.reason and code != "documents_requested":
            row["reason"] = event.reason
            labels = {"decided_reject": gettext("Reasons"), "reopened": gettext("New facts")}
            row["reason_label"] = labels.get(code, gettext("Note"))
        if code == "documents_complete":
            due = statutory.decision_due(timezone.localdate(event.at))
            row["text"] = gettext(
                "The insurer has every document it needs and decides on cover by %(due)s."
            ) % {"due": due.isoformat()}
        row["tone"] = {"decided_reject": "danger", "decided_accept": "success"}.get(code, "")
    elif event.kind == EventKind.STATUS and event.to_status == ClaimStatus.WITHDRAWN:
        row["code"] = "withdrawn"
        row["text"] = gettext("The claim was withdrawn.")
        row["reason"], row["reason_label"] = event.reason, gettext("Reason")
    elif event.kind == EventKind.STATUS and event.to_status:
        row["text"] = gettext("Status: %(status)s.") % {
            "status": ClaimStatus(event.to_status).label
        }
        row["reason"], row["reason_label"] = event.reason, gettext("Note")
    else:
        row["text"] = str(EventKind(event.kind).label) if event.kind in EventKind.values else ""
    return row


def _timeline(claim) -> list[dict]:
    letters = {letter.pk: letter for letter in claim.letter_list}
    return [_event_row(claim, event, letters) for event in claim.public_events]


def _claim_context(request, claim, *, upload_form=None, withdraw_form=None) -> dict:
    today = timezone.localdate()
    paid = sum((payment.amount for payment in claim.payment_list), ZERO)
    checklist = services.checklist(claim)
    if upload_form is None:
        wanted = request.GET.get("code", "")
        upload_form = ClaimDocumentForm(
            checklist=checklist,
            initial={"code": wanted} if wanted in {i["code"] for i in checklist} else None,
        )
    return {
        **_documents_context(claim),
        "policy": claim.policy,
        "cause_title": pick_language(claim.cause),
        "rights": [right_label(item) for item in claim.rights or []],
        "timeline": _timeline(claim),
        "deadlines": _deadlines(claim, today),
        "paid": paid,
        "letters": [letter for letter in claim.letter_list if letter.status == LetterStatus.READY],
        "letters_preparing": any(
            letter.status != LetterStatus.READY for letter in claim.letter_list
        ),
        "upload_form": upload_form,
        "withdraw_form": withdraw_form or WithdrawForm(),
        "can_withdraw": claim.status in WITHDRAWABLE and not claim.decision,
        "withdraw_open": withdraw_form is not None,
        "can_restore": (
            claim.policy.status == PolicyStatus.IN_FORCE
            and claim.policy.remaining_sum_insured < claim.policy.sum_insured
        ),
    }


def _render_claim(request, claim, **forms):
    return render(request, "claims/detail.html", _claim_context(request, claim, **forms))


@login_required
@require_GET
def claim_detail(request, pk):
    claim = selectors.claim_detail_for_user(request.user, pk)
    return _render_claim(request, claim)


@login_required
@require_GET
def claim_documents_status(request, pk):
    """The documents section alone: what htmx polls while a document is being checked."""
    claim = selectors.claim_for_user(request.user, pk)
    response = render(request, "claims/_documents.html", _documents_context(claim))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def claim_document_upload(request, pk):
    claim = selectors.claim_for_user(request.user, pk)
    if claim.status not in CLAIM_ACCEPTS_DOCUMENTS:
        messages.error(request, gettext("This claim no longer takes documents."))
        return redirect(_claim_url(claim))
    form = ClaimDocumentForm(request.POST, request.FILES, checklist=services.checklist(claim))
    if form.is_valid():
        try:
            document = services.claim_document_upload(
                claim=claim,
                actor=request.user,
                code=form.cleaned_data["code"],
                uploaded_file=form.cleaned_data["file"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                gettext("“%(name)s” was uploaded. It is being checked; this takes a moment.")
                % {"name": document.original_name},
            )
            return redirect(_claim_url(claim, "documents"))
    return _render_claim(request, selectors.with_page_details(claim), upload_form=form)


@login_required
@require_POST
def claim_withdraw(request, pk):
    claim = selectors.claim_for_user(request.user, pk)
    if claim.status not in WITHDRAWABLE or claim.decision:
        messages.info(request, gettext("This claim can no longer be withdrawn."))
        return redirect(_claim_url(claim))
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _render_claim(request, selectors.with_page_details(claim), withdraw_form=form)
    try:
        services.claim_withdraw(claim=claim, actor=request.user, reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, gettext("Claim %(number)s was withdrawn.") % {"number": claim.number}
        )
    return redirect(_claim_url(claim))


# --- Files ------------------------------------------------------------------------------------


@login_required
@require_GET
def document_download(request, pk, document_pk):
    document = selectors.claim_document_for_user(request.user, pk, document_pk)
    return stored_file_response(
        document.file.name,
        filename=document.original_name or f"{document.code}.{document.extension}",
        content_type=document.content_type,
        attachment=True,
    )


@login_required
@require_GET
def document_preview(request, pk, document_pk):
    """The PNG preview of the first page (made by the background check), shown inline."""
    document = selectors.claim_document_for_user(request.user, pk, document_pk)
    stem = (document.original_name or document.code).rsplit(".", 1)[0]
    return stored_file_response(
        document.preview.name,
        filename=f"{stem}-preview.png",
        content_type="image/png",
        attachment=False,
    )


@login_required
@require_GET
def letter_download(request, pk, letter_pk):
    letter = selectors.claim_letter_for_user(request.user, pk, letter_pk)
    return stored_file_response(
        letter.file.name,
        filename=f"{letter.reference}.pdf",
        content_type="application/pdf",
        attachment=True,
    )


# --- Restoring the sum insured ----------------------------------------------------------------


def _reinstatement_state(policy) -> dict:
    requests = list(selectors.reinstatements_of_policy(policy))
    gap = policy.sum_insured - policy.remaining_sum_insured
    open_request = next((r for r in requests if r.status == ReinstatementStatus.REQUESTED), None)
    return {
        "policy": policy,
        "gap": gap,
        "requests": requests,
        "open_request": open_request,
        "can_request": policy.status in REINSTATABLE and gap > 0 and open_request is None,
        "effective": timezone.localdate() + timedelta(days=1),
    }


def _quote(policy, form):
    """(premium, error message) for a valid form."""
    try:
        return services.reinstatement_quote(policy, form.cleaned_data["amount"]), ""
    except DomainError as error:
        return None, error.message


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def reinstatement(request, policy_pk):
    """What restoring the eroded sum insured costs (the pro-rata premium), and the request."""
    policy = selectors.policy_for_user(request.user, policy_pk)
    state = _reinstatement_state(policy)
    premium = None
    if request.method == "POST":
        form = ReinstatementForm(request.POST, gap=state["gap"])
        if not state["can_request"]:
            messages.info(
                request, gettext("The sum insured of this policy cannot be restored now.")
            )
            return redirect("claims:reinstate", policy_pk=policy.pk)
        if form.is_valid():
            premium, message = _quote(policy, form)
            if message:
                form.add_error("amount", message)
            elif request.POST.get("action") == "request":
                try:
                    requested = services.reinstatement_request(
                        policy=policy, actor=request.user, amount=form.cleaned_data["amount"]
                    )
                except DomainError as error:
                    form.add_error(None, error.message)
                else:
                    messages.success(
                        request,
                        gettext(
                            "Your request to restore CNY %(amount)s of cover was sent. The "
                            "premium of CNY %(premium)s is due once the insurer approves it."
                        )
                        % {
                            "amount": _money(requested.amount),
                            "premium": _money(requested.premium),
                        },
                    )
                    return redirect("claims:reinstate", policy_pk=policy.pk)
    else:
        form = ReinstatementForm(gap=state["gap"])
        if state["can_request"]:
            try:
                premium = services.reinstatement_quote(policy, state["gap"])
            except DomainError:
                premium = None
    return render(request, "claims/reinstate.html", {**state, "form": form, "premium": premium})


@login_required
@require_GET
def reinstatement_quote(request, policy_pk):
    """The premium for the amount typed so far (htmx); nothing is stored."""
    policy = selectors.policy_for_user(request.user, policy_pk)
    state = _reinstatement_state(policy)
    form = ReinstatementForm(request.GET, gap=state["gap"])
    premium, message = None, ""
    if form.is_valid():
        premium, message = _quote(policy, form)
    else:
        message = " ".join(str(error) for error in form.errors.get("amount", []))
    response = render(
        request,
        "claims/_reinstatement_quote.html",
        {**state, "premium": premium, "quote_error": message},
    )
    response["Cache-Control"] = "no-store"
    return response
