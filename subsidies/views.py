"""The applicant's premium-subsidy requests, under /app/subsidies/: the list, applying under a
programme for a paid policy, the request page (status, timeline, the officer's question and the
answer, the required documents, amounts, eligibility results), uploading and downloading
documents, submitting and withdrawing.

Reads go through ``subsidies.selectors`` (another firm's request answers 404), writes through
``subsidies.services``.
"""

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

from portal.errors import DomainError
from portal.files import stored_file_response
from subsidies import selectors, services
from subsidies.choices import REQUEST_TRANSITIONS, EligibilityOutcome, RequestStatus
from subsidies.forms import (
    OTHER_DOCUMENT,
    AnswerForm,
    ApplyForm,
    SubsidyDocumentForm,
    WithdrawForm,
    document_label,
)
from subsidies.presentation import eligibility_text
from subsidies.templatetags.subsidy_tags import offer_rows
from underwriting.models import pick_language
from underwriting.views_app import firm_member_required

PAGE_SIZE = 25
WITHDRAWABLE = {
    status for status, targets in REQUEST_TRANSITIONS.items() if RequestStatus.WITHDRAWN in targets
}


def _request_url(subsidy, anchor: str = "") -> str:
    url = reverse("subsidies:detail", kwargs={"pk": subsidy.pk})
    return f"{url}#{anchor}" if anchor else url


def _money(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (ArithmeticError, ValueError, TypeError):
        return str(value)


# --- List -------------------------------------------------------------------------------------


@firm_member_required
@require_GET
def request_list(request):
    """The active firm's requests, newest first: the same queries for 2 or 2,000 requests."""
    page = Paginator(selectors.requests_of_firm(request.firm), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "subsidies/list.html", {"page": page})


# --- Applying ---------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def request_apply(request, policy_pk, programme_code):
    """GET shows what the policy may get under the programme; POST creates the draft request."""
    policy = selectors.policy_for_user(request.user, policy_pk)
    programme = selectors.programme_by_code(programme_code)
    offer = next(
        (row for row in offer_rows(policy) if row["programme"].pk == programme.pk),
        None,
    )
    if offer is None:
        messages.info(
            request, gettext("This programme is not taking applications for this policy now.")
        )
        return redirect("policies:detail", pk=policy.pk)
    if offer["request"] is not None:
        return redirect(_request_url(offer["request"]))
    form = ApplyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            subsidy = services.subsidy_request_create(
                policy=policy,
                programme=programme,
                actor=request.user,
                high_value=form.cleaned_data["high_value"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                gettext(
                    "Request %(number)s was created. Upload the documents listed below, then "
                    "submit it."
                )
                % {"number": subsidy.number},
            )
            return redirect(_request_url(subsidy))
    return render(
        request,
        "subsidies/apply.html",
        {
            "policy": policy,
            "programme": programme,
            "offer": offer,
            "form": form,
            "paid_in_full": services.premium_paid_in_full(policy),
            "description": pick_language(
                {"zh": programme.description_zh, "en": programme.description_en}
            ),
            "documents": [document_label(d) for d in programme.required_documents],
        },
    )


# --- The request page -------------------------------------------------------------------------


def _documents_context(subsidy) -> dict:
    """The checklist of the programme's required documents with the files uploaded for each."""
    documents = list(subsidy.documents.all())
    required = subsidy.programme.required_documents or []
    codes = {item["code"] for item in required}
    by_code = defaultdict(list)
    for document in documents:
        by_code[document.code if document.code in codes else OTHER_DOCUMENT].append(document)
    rows = [
        {
            "code": item["code"],
            "label": document_label(item),
            "required": True,
            "missing": not by_code.get(item["code"]),
            "documents": by_code.get(item["code"], []),
        }
        for item in required
    ]
    rows.append(
        {
            "code": OTHER_DOCUMENT,
            "label": gettext("Other documents"),
            "required": False,
            "missing": False,
            "documents": by_code.get(OTHER_DOCUMENT, []),
        }
    )
    accepts = subsidy.status in services.APPLICANT_OPEN
    return {
        "accepts_documents": accepts,
        "checklist_rows": rows,
        "missing": [row["label"] for row in rows if row["missing"]] if accepts else [],
    }


STATUS_EVENT_TEXT = {
    "created": gettext_lazy("Request created as a draft."),
    "submitted": gettext_lazy("Request submitted."),
    "checked": gettext_lazy(
        "The automatic eligibility check is done. The request is with the authority's officers."
    ),
    "returned": gettext_lazy("The officer asks for more information."),
    "answered": gettext_lazy("The request is back under review."),
    "rejected": gettext_lazy("The subsidy was not granted."),
    "objection": gettext_lazy(
        "An objection was raised during publication. The request is back under review."
    ),
    "withdrawn": gettext_lazy("You withdrew the request."),
}


def _publication_end(subsidy, event, is_latest: bool):
    """The last day of publication for a "publicised" event: the request's own dates for the
    latest one, computed as the service does for one that an objection interrupted."""
    if is_latest and subsidy.publication_ends:
        return subsidy.publication_ends
    days = max(subsidy.programme.publication_days, 1)
    return timezone.localdate(event.at) + timedelta(days=days - 1)


def _timeline(subsidy) -> list[dict]:
    """The public events, each worded in the reader's language from its code and values."""
    events = subsidy.timeline_events
    last_publicised = next((e.pk for e in reversed(events) if e.code == "publicised"), None)
    rows = []
    last_approval = None
    for event in events:
        params = event.params or {}
        code = event.code
        if code == "reserved":
            # Internal: the amount an approval reserved, printed with the approval.
            if last_approval is not None and not last_approval["amount"]:
                last_approval["amount"] = params.get("amount", "")
                last_approval["text"] = gettext("Approved: CNY %(amount)s.") % {
                    "amount": _money(last_approval["amount"])
                }
            continue
        if not event.public:
            continue
        row = {"at": event.at, "code": code, "text": "", "reason": "", "reason_label": ""}
        row["tone"] = ""
        row["amount"] = ""
        if code == "uploaded":
            row["text"] = gettext("Document uploaded: “%(name)s”.") % {
                "name": params.get("name", "")
            }
        elif code == "answer":
            row["text"] = gettext("You answered the officer.")
            row["reason"], row["reason_label"] = event.reason, gettext("Your answer")
        elif code == "approved":
            row["amount"] = params.get("amount", "")
            row["text"] = (
                gettext("Approved: CNY %(amount)s.") % {"amount": _money(row["amount"])}
                if row["amount"]
                else gettext("Approved.")
            )
            row["tone"] = "success"
            last_approval = row
        elif code == "publicised":
            until = _publication_end(subsidy, event, event.pk == last_publicised)
            row["text"] = gettext(
                "Published for objections (公示) until %(until)s. It is paid after that if "
                "nobody objects."
            ) % {"until": until.isoformat()}
        elif code == "disbursed":
            row["text"] = gettext("Paid: CNY %(amount)s.") % {
                "amount": _money(subsidy.approved_amount or 0)
            }
            row["tone"] = "success"
        elif code == "clawed_back":
            row["text"] = gettext("CNY %(amount)s of the subsidy was clawed back.") % {
                "amount": _money(subsidy.clawed_back_amount or 0)
            }
            row["reason"], row["reason_label"] = event.reason, gettext("Reason")
            row["tone"] = "danger"
        elif code in STATUS_EVENT_TEXT:
            row["text"] = str(STATUS_EVENT_TEXT[code])
            labels = {
                "returned": gettext("Question"),
                "rejected": gettext("Reasons"),
                "objection": gettext("Objection"),
            }
            if event.reason:
                row["reason"] = event.reason
                row["reason_label"] = labels.get(code, gettext("Note"))
            row["tone"] = {"rejected": "danger", "returned": "warning"}.get(code, "")
        elif event.to_status:
            row["text"] = gettext("Status: %(status)s.") % {
                "status": RequestStatus(event.to_status).label
            }
            if event.reason:
                row["reason"], row["reason_label"] = event.reason, gettext("Note")
        else:
            continue
        rows.append(row)
    return rows


def _eligibility(subsidy) -> list[dict]:
    if not subsidy.eligibility_checked_at:
        return []
    rows = []
    for result in subsidy.eligibility or []:
        outcome = result.get("outcome", "")
        rows.append(
            {
                "code": result.get("code", ""),
                "outcome": outcome,
                "outcome_label": (
                    EligibilityOutcome(outcome).label
                    if outcome in EligibilityOutcome.values
                    else outcome
                ),
                "text": eligibility_text(result),
            }
        )
    return rows


def _question(subsidy):
    """The officer's question waiting for an answer: the latest "returned" event's reason."""
    if subsidy.status != RequestStatus.RETURNED:
        return None
    returned = [e for e in subsidy.timeline_events if e.code == "returned"]
    return returned[-1] if returned else None


def _request_context(request, subsidy, *, upload_form=None, answer_form=None, withdraw_form=None):
    required = subsidy.programme.required_documents or []
    if upload_form is None:
        wanted = request.GET.get("code", "")
        known = {item["code"] for item in required} | {OTHER_DOCUMENT}
        upload_form = SubsidyDocumentForm(
            required_documents=required,
            initial={"code": wanted} if wanted in known else None,
        )
    return {
        "subsidy": subsidy,
        "programme": subsidy.programme,
        "policy": subsidy.policy,
        **_documents_context(subsidy),
        "timeline": _timeline(subsidy),
        "eligibility": _eligibility(subsidy),
        "question": _question(subsidy),
        "upload_form": upload_form,
        "answer_form": answer_form or AnswerForm(),
        "withdraw_form": withdraw_form or WithdrawForm(),
        "can_submit": subsidy.status == RequestStatus.DRAFT,
        "can_withdraw": subsidy.status in WITHDRAWABLE,
        "withdraw_open": withdraw_form is not None,
    }


def _render_request(request, subsidy, **forms):
    return render(request, "subsidies/detail.html", _request_context(request, subsidy, **forms))


@login_required
@require_GET
def request_detail(request, pk):
    subsidy = selectors.request_detail_for_user(request.user, pk)
    return _render_request(request, subsidy)


@login_required
@require_POST
def request_document_upload(request, pk):
    subsidy = selectors.request_for_user(request.user, pk)
    if subsidy.status not in services.APPLICANT_OPEN:
        messages.error(request, gettext("This request no longer takes documents."))
        return redirect(_request_url(subsidy))
    form = SubsidyDocumentForm(
        request.POST, request.FILES, required_documents=subsidy.programme.required_documents
    )
    if form.is_valid():
        try:
            document = services.subsidy_document_upload(
                request=subsidy,
                actor=request.user,
                code=form.cleaned_data["code"],
                uploaded_file=form.cleaned_data["file"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                gettext("“%(name)s” was uploaded.") % {"name": document.original_name},
            )
            return redirect(_request_url(subsidy, "documents"))
    return _render_request(request, selectors.with_page_details(subsidy), upload_form=form)


@login_required
@require_POST
def request_submit(request, pk):
    subsidy = selectors.request_for_user(request.user, pk)
    if subsidy.status != RequestStatus.DRAFT:
        messages.info(request, gettext("This request was already submitted."))
        return redirect(_request_url(subsidy))
    try:
        services.subsidy_request_submit(request=subsidy, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            gettext(
                "Request %(number)s was submitted. It is checked automatically, then reviewed by "
                "an officer of %(authority)s."
            )
            % {"number": subsidy.number, "authority": subsidy.programme.authority.name},
        )
    return redirect(_request_url(subsidy))


@login_required
@require_POST
def request_answer(request, pk):
    subsidy = selectors.request_for_user(request.user, pk)
    if subsidy.status != RequestStatus.RETURNED:
        messages.info(request, gettext("No question is waiting for an answer."))
        return redirect(_request_url(subsidy))
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.subsidy_answer(
                request=subsidy, actor=request.user, answer=form.cleaned_data["answer"]
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, gettext("Your answer was sent. The request is back under review.")
            )
            return redirect(_request_url(subsidy))
    return _render_request(request, selectors.with_page_details(subsidy), answer_form=form)


@login_required
@require_POST
def request_withdraw(request, pk):
    subsidy = selectors.request_for_user(request.user, pk)
    if subsidy.status not in WITHDRAWABLE:
        messages.info(request, gettext("This request can no longer be withdrawn."))
        return redirect(_request_url(subsidy))
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _render_request(request, selectors.with_page_details(subsidy), withdraw_form=form)
    try:
        services.subsidy_withdraw(request=subsidy, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, gettext("Request %(number)s was withdrawn.") % {"number": subsidy.number}
        )
    return redirect(_request_url(subsidy))


# --- Files ------------------------------------------------------------------------------------


@login_required
@require_GET
def document_download(request, pk, document_pk):
    """One of the firm's own documents, streamed as an attachment of the type recorded for it."""
    document = selectors.document_for_user(request.user, pk, document_pk)
    return stored_file_response(
        document.file.name,
        filename=document.original_name or f"{document.code}.{document.extension}",
        content_type=document.content_type,
    )
