"""The officers' subsidy workspace, under /officer/: the queue of their authority's requests with
bulk approval, the request page with every decision, the budgets, and the disbursement batches
with their exports.

Everything is scoped to ``services.officer_authority(request.user)``: another authority's request
or batch answers 404. Every write goes through ``subsidies.services``, which checks the rules,
audits the decision (a SubsidyEvent and simple-history rows) and records the officer as actor.
"""

import re
import zoneinfo
from datetime import timedelta
from decimal import Decimal
from html import escape

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.choices import Qualification
from portal.choices import insured_right_label as right_label
from portal.converters import MAX_ID
from portal.errors import DomainError
from portal.files import bytes_download, stored_file_response
from portal.officer_views import officer_required
from subsidies import amounts, exports, selectors, services
from subsidies.choices import (
    REQUEST_IN_QUEUE,
    REQUEST_TRANSITIONS,
    BatchStatus,
    EligibilityOutcome,
    RequestStatus,
)
from subsidies.models import Budget, DisbursementBatch, Programme, SubsidyRequest
from subsidies.presentation import eligibility_text
from underwriting.models import pick_language
from underwriting.templatetags.catalogue import money

PAGE_SIZE = 25
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")


def _labelled(subsidy_request) -> list:
    """The request's documents, each with the programme's name for its kind of document."""
    names = {
        item["code"]: pick_language(item) for item in subsidy_request.programme.required_documents
    }
    documents = list(subsidy_request.documents.all())
    for document in documents:
        document.label = names.get(document.code) or gettext("Other")
    return documents


def _authority(request):
    authority = services.officer_authority(request.user)
    if authority is None:  # officer_required let only officers in
        raise Http404
    return authority


def _requests_of(authority):
    return SubsidyRequest.objects.filter(authority=authority)


def _request_or_404(request, pk) -> SubsidyRequest:
    return get_object_or_404(
        _requests_of(_authority(request)).select_related(
            "programme", "firm", "policy__product", "batch", "decided_by"
        ),
        pk=pk,
    )


def _batch_or_404(request, pk) -> DisbursementBatch:
    return get_object_or_404(
        DisbursementBatch.objects.filter(authority=_authority(request)).select_related(
            "authority", "created_by"
        ),
        pk=pk,
    )


def _request_url(subsidy_request, anchor: str = "") -> str:
    url = reverse("officer:request", kwargs={"pk": subsidy_request.pk})
    return f"{url}#{anchor}" if anchor else url


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


# --- The queue --------------------------------------------------------------------------------

ALL_STATUSES = "all"


class _PlainSelect(forms.Select):
    """Django's select, written out without the template engine: the queue's filters render
    about twenty options on every visit, and an option template each cost more than the rows."""

    def render(self, name, value, attrs=None, renderer=None):
        wanted = self.format_value(value)
        options = []
        for option_value, label in self.choices:
            selected = str(option_value) in wanted
            if selected:
                wanted = ()  # as Django's: only the first option with the value is selected
            options.append(
                format_html(
                    '\n  <option value="{}"{}>{}</option>\n',
                    option_value,
                    " selected" if selected else "",
                    label,
                )
            )
        # Attributes in their order, as django/forms/widgets/attrs.html writes them.
        written = [
            format_html(" {}", key) if item is True else format_html(' {}="{}"', key, item)
            for key, item in self.build_attrs(self.attrs, attrs).items()
            if item is not False
        ]
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            mark_safe("".join(written)),  # noqa: S308 - parts made by format_html
            mark_safe("".join(options)),  # noqa: S308 - parts made by format_html
        )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, widget=_PlainSelect)
    programme = forms.TypedChoiceField(
        label=gettext_lazy("Programme"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=_PlainSelect,
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("Eligibility"), required=False, widget=_PlainSelect
    )
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("Request number, firm name or USCC"),
    )

    def __init__(self, *args, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", gettext_lazy("Waiting for a decision")),
            (ALL_STATUSES, gettext_lazy("Any status")),
            *RequestStatus.choices,
        ]
        self.fields["programme"].choices = [
            ("", gettext_lazy("All programmes")),
            *((programme.pk, f"{programme.code} · {programme.name}") for programme in programmes),
        ]
        self.fields["outcome"].choices = [
            ("", gettext_lazy("Any result")),
            *EligibilityOutcome.choices,
        ]
        for name, field in self.fields.items():
            css = "form-select form-select-sm" if name != "q" else "form-control form-control-sm"
            field.widget.attrs["class"] = css

    def apply(self, queryset):
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or ""
        if status == ALL_STATUSES:
            pass
        elif status:
            queryset = queryset.filter(status=status)
        else:
            queryset = queryset.filter(status__in=REQUEST_IN_QUEUE)
        if data.get("programme"):
            queryset = queryset.filter(programme_id=data["programme"])
        if data.get("outcome"):
            queryset = queryset.filter(eligibility_outcome=data["outcome"])
        text = (data.get("q") or "").strip()
        if text:
            queryset = queryset.filter(
                Q(number__icontains=text)
                | Q(firm__name_zh__icontains=text)
                | Q(firm__name_en__icontains=text)
                | Q(firm__uscc__icontains=text.upper())
            )
        return queryset


# The queue's badges, as templates/officer/_status_badge.html and _outcome_badge.html colour them
# on the other officer pages.
STATUS_BADGES = {
    RequestStatus.SUBMITTED: "text-bg-info",
    RequestStatus.UNDER_REVIEW: "text-bg-primary",
    RequestStatus.RETURNED: "text-bg-warning",
    RequestStatus.APPROVED: "text-bg-success",
    RequestStatus.PUBLICISED: "text-bg-success",
    RequestStatus.DISBURSED: "text-bg-dark",
    RequestStatus.REJECTED: "text-bg-danger",
    RequestStatus.CLAWED_BACK: "text-bg-danger",
}
QUEUE_TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")

# One row of the queue's table (templates/officer/queue.html). It is written out here because the
# template engine spent about 40 µs a row on its twenty variables, the largest part of the page;
# every text goes through html.escape, which is what the template's autoescape applies.
QUEUE_ROW = """\
      <tr data-request="{pk}">
        <td>{select}</td>
        <td><a href="{url}" class="font-monospace request-number">{number}</a></td>
        <td>{firm}<div class="small text-muted font-monospace">{uscc}</div></td>
        <td class="small">{programme}</td>
        <td class="text-end text-nowrap">{premium_paid}</td>
        <td class="text-end text-nowrap">{expected_amount}</td>
        <td>{outcome}</td>
        <td>{status}</td>
        <td class="text-nowrap small">{submitted}</td>
      </tr>
"""
QUEUE_SELECT = (
    '<input class="form-check-input" type="checkbox" name="request" value="{pk}"'
    ' id="select-{pk}" aria-label="{label}">'
)
QUEUE_OUTCOME = (
    '<span class="badge eligibility-badge {badge}" data-outcome="{outcome}">{label}</span>'
)
QUEUE_STATUS = '<span class="badge subsidy-status {badge}" data-status="{status}">{label}</span>'
QUEUE_NOT_CHECKED = '<span class="text-muted small" data-outcome="">{label}</span>'


class _QueueRows:
    """The queue's value rows as what each cell shows, and as the table's HTML; the labels are
    translated once per page rather than once per row."""

    def __init__(self):
        self.english = (get_language() or "").startswith("en")
        self.statuses = {value: str(label) for value, label in RequestStatus.choices}
        self.outcomes = {value: str(label) for value, label in EligibilityOutcome.choices}
        self.select = gettext("Select %(number)s")
        self.not_checked = QUEUE_NOT_CHECKED.format(label=escape(gettext("Not checked")))
        # One reverse() for the page: the row's id replaces a placeholder id in the URL.
        self.url = reverse("officer:request", kwargs={"pk": MAX_ID})
        self.placeholder = str(MAX_ID)

    def _name(self, row, prefix: str) -> str:
        english = self.english and row[f"{prefix}__name_en"]
        return english or row[f"{prefix}__name_zh"]

    def __call__(self, row: dict) -> dict:
        status, outcome, submitted = row["status"], row["eligibility_outcome"], row["submitted_at"]
        return {
            "pk": row["pk"],
            "number": row["number"],
            "url": self.url.replace(self.placeholder, str(row["pk"])),
            "selectable": status == RequestStatus.UNDER_REVIEW,
            "firm": self._name(row, "firm"),
            "uscc": row["firm__uscc"],
            "programme": self._name(row, "programme"),
            "premium_paid": money(row["premium_paid"]),
            "expected_amount": money(row["expected_amount"]),
            "outcome": outcome,
            "status": status,
            "submitted": (
                dateformat.format(timezone.localtime(submitted, QUEUE_TIMEZONE), "Y-m-d H:i")
                if submitted
                else "—"
            ),
        }

    def html(self, row: dict) -> str:
        pk, number, outcome, status = row["pk"], row["number"], row["outcome"], row["status"]
        return QUEUE_ROW.format(
            pk=pk,
            select=(
                QUEUE_SELECT.format(pk=pk, label=escape(self.select % {"number": number}))
                if row["selectable"]
                else ""
            ),
            url=escape(row["url"]),
            number=escape(number),
            firm=escape(row["firm"]),
            uscc=escape(row["uscc"]),
            programme=escape(row["programme"]),
            premium_paid=row["premium_paid"],
            expected_amount=row["expected_amount"],
            outcome=(
                QUEUE_OUTCOME.format(
                    badge=OUTCOME_BADGES.get(outcome, "text-bg-warning"),
                    outcome=escape(outcome),
                    label=escape(self.outcomes.get(outcome, outcome)),
                )
                if outcome
                else self.not_checked
            ),
            status=QUEUE_STATUS.format(
                badge=STATUS_BADGES.get(status, "text-bg-secondary"),
                status=escape(status),
                label=escape(self.statuses.get(status, status)),
            ),
            submitted=row["submitted"],
        )


@officer_required
@require_GET
def request_queue(request):
    """The authority's requests, oldest submission first: the same queries for 3 or 3,000."""
    authority = _authority(request)
    programmes = list(selectors.officer_queue_programmes(authority).order_by("code"))
    form = QueueFilterForm(request.GET or None, programmes=programmes)
    requests = form.apply(_requests_of(authority)).order_by(
        F("submitted_at").asc(nulls_last=True), "pk"
    )
    paginator = Paginator(selectors.officer_queue_rows(requests), PAGE_SIZE)
    # Counted on the requests alone: the rows' joins to firm and programme would make
    # PostgreSQL join thousands of rows (5 ms instead of 0.3) for the same number.
    paginator.count = requests.count()
    page = paginator.get_page(request.GET.get("page"))
    rows = _QueueRows()
    page.object_list = list(map(rows, page.object_list))
    return render(
        request,
        "officer/queue.html",
        {
            "authority": authority,
            "form": form,
            "page": page,
            # Every text in the rows is escaped by _QueueRows.html.
            "rows_html": mark_safe("".join(map(rows.html, page.object_list))),  # noqa: S308
            "can_bulk_approve": any(row["selectable"] for row in page.object_list),
        },
    )


def _safe_next(request, fallback: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted.startswith(fallback) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


def _ids(values) -> list[int]:
    # ASCII digits only ("²".isdigit() is true but int() refuses it), within the ids' range.
    numbers = {int(value) for value in values if re.fullmatch(r"[0-9]{1,19}", str(value))}
    return sorted(number for number in numbers if number <= MAX_ID)


@officer_required
@require_POST
def request_approve_many(request):
    """Approve the ticked requests at the most each may get; each refusal is reported."""
    authority = _authority(request)
    queue_url = reverse("officer:queue")
    ids = _ids(request.POST.getlist("request"))
    if not ids:
        messages.info(request, gettext("Tick the requests to approve."))
        return redirect(_safe_next(request, queue_url))
    outcome = services.subsidy_approve_many(request_ids=ids, actor=request.user)
    numbers = dict(_requests_of(authority).filter(pk__in=list(outcome)).values_list("pk", "number"))
    approved = {pk: value for pk, value in outcome.items() if isinstance(value, Decimal)}
    refused = {pk: value for pk, value in outcome.items() if pk not in approved}
    if approved:
        total = sum(approved.values(), ZERO)
        messages.success(
            request,
            gettext("%(count)s requests approved, CNY %(total)s in all.")
            % {"count": len(approved), "total": _money(total)},
        )
    for pk, message in sorted(refused.items(), key=lambda item: numbers.get(item[0], "")):
        messages.warning(
            request,
            gettext("%(number)s was not approved: %(message)s")
            % {"number": numbers.get(pk, pk), "message": message},
        )
    if not outcome:
        messages.info(request, gettext("None of the ticked requests can be decided by you."))
    return redirect(_safe_next(request, queue_url))


# --- The request page -------------------------------------------------------------------------


class ApproveForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount to approve (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        help_text=gettext_lazy("The most allowed now; you may lower it, never raise it."),
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01", "min": "0.01"}),
    )


class RejectForm(forms.Form):
    reasons = forms.CharField(
        label=gettext_lazy("Reasons"),
        max_length=4000,
        help_text=gettext_lazy("The firm sees these reasons."),
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class ReturnForm(forms.Form):
    question = forms.CharField(
        label=gettext_lazy("What the firm should add or explain"),
        max_length=4000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class ObjectionForm(forms.Form):
    raised_by = forms.CharField(
        label=gettext_lazy("Raised by"),
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    text = forms.CharField(
        label=gettext_lazy("Objection"),
        max_length=4000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class ClawBackForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount recovered (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01", "min": "0.01"}),
    )
    reason = forms.CharField(
        label=gettext_lazy("Why the subsidy is clawed back"),
        max_length=4000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


ACTION_FORMS = {
    "approve": ApproveForm,
    "reject": RejectForm,
    "return": ReturnForm,
    "objection": ObjectionForm,
    "claw_back": ClawBackForm,
}

LIMIT_LABELS = {
    amounts.BY_RATE: gettext_lazy("Premium paid × rate"),
    amounts.BY_ITEM_CAP: gettext_lazy("Cap per insured right × rights"),
    amounts.BY_POLICY_CAP: gettext_lazy("Cap per policy"),
    amounts.BY_FIRM_YEAR_CAP: gettext_lazy("Left of the firm's annual cap"),
    amounts.BY_BUDGET: gettext_lazy("Left of the programme's budget"),
}

EVENT_LABELS = {
    "created": gettext_lazy("Request created."),
    "uploaded": gettext_lazy("Document uploaded."),
    "submitted": gettext_lazy("Request submitted."),
    "checked": gettext_lazy("Eligibility pre-check done; the request is in the queue."),
    "answer": gettext_lazy("The firm answered."),
    "answered": gettext_lazy("The request is back for review after the firm's answer."),
    "withdrawn": gettext_lazy("The firm withdrew the request."),
    "approved": gettext_lazy("Approved."),
    "reserved": gettext_lazy("Amount reserved in the budget."),
    "rejected": gettext_lazy("Rejected."),
    "returned": gettext_lazy("Returned to the firm for information."),
    "publicised": gettext_lazy("Published for objections."),
    "objection": gettext_lazy("Objection recorded; back under review."),
    "disbursed": gettext_lazy("Paid by the treasury."),
    "clawed_back": gettext_lazy("Subsidy clawed back."),
}

OUTCOME_BADGES = {
    EligibilityOutcome.PASS: "text-bg-success",
    EligibilityOutcome.FAIL: "text-bg-danger",
    EligibilityOutcome.WARN: "text-bg-warning",
}


def _status_label(value) -> str:
    try:
        return str(RequestStatus(value).label)
    except ValueError:
        return str(value or "")


def _can(subsidy_request, target) -> bool:
    return target in REQUEST_TRANSITIONS[RequestStatus(subsidy_request.status)]


def _allowed_actions(subsidy_request) -> set[str]:
    status = subsidy_request.status
    actions = set()
    if status == RequestStatus.UNDER_REVIEW:
        actions |= {"approve", "reject", "return"}
    if status == RequestStatus.APPROVED:
        actions.add("publish")
    # A request already put in a batch waits for the treasury; see the batch page.
    if status in (RequestStatus.APPROVED, RequestStatus.PUBLICISED) and not (
        subsidy_request.batch_id
    ):
        actions.add("objection")
    if status == RequestStatus.DISBURSED and _can(subsidy_request, RequestStatus.CLAWED_BACK):
        actions.add("claw_back")
    return actions


def _breakdown(subsidy_request) -> dict:
    """The figures of ``services._reserve``: what may be approved now, and what limited it."""
    programme = subsidy_request.programme
    budget = services.budget_of(programme, subsidy_request.year)
    used = services.granted_this_year(programme, subsidy_request.firm, subsidy_request.year)
    budget_left = budget.left if budget else ZERO
    result = amounts.subsidy_amount(
        premium_paid=subsidy_request.premium_paid,
        rate=subsidy_request.rate,
        items=subsidy_request.items,
        cap_per_item=programme.cap_per_item,
        cap_per_policy=programme.cap_per_policy,
        cap_per_firm_year=programme.cap_per_firm_year,
        used_this_year=used,
        budget_left=budget_left,
    )
    return {
        "most": result.amount,
        "decided_by": result.decided_by,
        "rows": [
            {
                "code": code,
                "label": LIMIT_LABELS.get(code, code),
                "value": value,
                "decides": code == result.decided_by,
            }
            for code, value in result.limits.items()
        ],
        "budget": budget,
        "budget_left": budget_left,
        "used_this_year": used,
    }


def _timeline(subsidy_request) -> list[dict]:
    rows = []
    for event in subsidy_request.events.select_related("actor").order_by("at", "pk"):
        params = event.params or {}
        details = []
        if params.get("name"):
            details.append(str(params["name"]))
        if params.get("amount"):
            details.append(gettext("CNY %(amount)s") % {"amount": _money(params["amount"])})
        rows.append(
            {
                "at": event.at,
                "code": event.code,
                "text": str(EVENT_LABELS.get(event.code, event.code)),
                "from": _status_label(event.from_status) if event.from_status else "",
                "to": _status_label(event.to_status) if event.to_status else "",
                "actor": event.actor,
                "reason": event.reason,
                "details": details,
                "public": event.public,
            }
        )
    return rows


def _eligibility(subsidy_request) -> list[dict]:
    return [
        {
            "code": result.get("code", ""),
            "outcome": result.get("outcome", ""),
            "label": str(EligibilityOutcome(result["outcome"]).label)
            if result.get("outcome") in EligibilityOutcome.values
            else "",
            "badge": OUTCOME_BADGES.get(result.get("outcome"), "text-bg-secondary"),
            "text": eligibility_text(result),
        }
        for result in subsidy_request.eligibility or []
    ]


def _qualification_labels(firm) -> list[str]:
    labels = dict(Qualification.choices)
    return [str(labels.get(code, code)) for code in firm.qualifications or []]


def _auto_id(action: str) -> str:
    """Element ids of one action's form, apart from the other forms on the page."""
    return f"id_{action}_%s"


def _detail_context(request, subsidy_request, bound: dict | None = None) -> dict:
    bound = bound or {}
    breakdown = _breakdown(subsidy_request)
    policy = subsidy_request.policy
    actions = _allowed_actions(subsidy_request)
    forms_ = {}
    for name, form_class in ACTION_FORMS.items():
        if name in bound:
            forms_[name] = bound[name]
        elif name == "approve":
            forms_[name] = form_class(initial={"amount": breakdown["most"]}, auto_id=_auto_id(name))
        elif name == "claw_back":
            forms_[name] = form_class(
                initial={"amount": subsidy_request.approved_amount}, auto_id=_auto_id(name)
            )
        else:
            forms_[name] = form_class(auto_id=_auto_id(name))
    forms_["approve"].fields["amount"].widget.attrs["max"] = str(breakdown["most"])
    return {
        "subsidy": subsidy_request,
        "firm": subsidy_request.firm,
        "programme": subsidy_request.programme,
        "policy": policy,
        "qualifications": _qualification_labels(subsidy_request.firm),
        "rights": [right_label(item) for item in (policy.terms or {}).get("insured", [])],
        "payments": list(policy.payments.order_by("received_at", "pk")),
        "payments_total": services.premium_paid(policy),
        "documents": _labelled(subsidy_request),
        "eligibility": _eligibility(subsidy_request),
        "outcome_badge": OUTCOME_BADGES.get(subsidy_request.eligibility_outcome, ""),
        "breakdown": breakdown,
        "timeline": _timeline(subsidy_request),
        "objections": list(subsidy_request.objections.select_related("recorded_by")),
        "actions": actions,
        "forms": forms_,
        "open_form": next(iter(bound), ""),
    }


def _render_detail(request, subsidy_request, bound=None, status=200):
    return render(
        request,
        "officer/request_detail.html",
        _detail_context(request, subsidy_request, bound),
        status=status,
    )


@never_cache
@officer_required
@require_GET
def request_detail(request, pk):
    return _render_detail(request, _request_or_404(request, pk))


@officer_required
@require_GET
def document_download(request, pk, doc_pk):
    subsidy_request = _request_or_404(request, pk)
    document = get_object_or_404(subsidy_request.documents, pk=doc_pk)
    return stored_file_response(
        document.file.name,
        filename=document.original_name or f"{document.code}.{document.extension}",
        content_type=document.content_type,
    )


SUCCESS_MESSAGES = {
    "approve": gettext_lazy("%(number)s approved: CNY %(amount)s reserved."),
    "reject": gettext_lazy("%(number)s rejected; the firm was told the reasons."),
    "return": gettext_lazy("%(number)s returned to the firm with your question."),
    "publish": gettext_lazy("%(number)s is published for objections until %(until)s."),
    "objection": gettext_lazy("Objection recorded; %(number)s is back under review."),
    "claw_back": gettext_lazy("%(number)s clawed back: CNY %(amount)s recovered."),
}


def _perform(action: str, subsidy_request, actor, data: dict):
    if action == "approve":
        return services.subsidy_approve(request=subsidy_request, actor=actor, amount=data["amount"])
    if action == "reject":
        return services.subsidy_reject(
            request=subsidy_request, actor=actor, reasons=data["reasons"]
        )
    if action == "return":
        return services.subsidy_return(
            request=subsidy_request, actor=actor, question=data["question"]
        )
    if action == "publish":
        return services.subsidy_publish(request=subsidy_request, actor=actor)
    if action == "objection":
        services.objection_record(
            request=subsidy_request, actor=actor, raised_by=data["raised_by"], text=data["text"]
        )
        return subsidy_request
    if action == "claw_back":
        return services.subsidy_claw_back(
            request=subsidy_request, actor=actor, amount=data["amount"], reason=data["reason"]
        )
    raise Http404


def _action_view(action: str):
    @officer_required
    @require_POST
    def view(request, pk):
        subsidy_request = _request_or_404(request, pk)
        form_class = ACTION_FORMS.get(action)
        form = form_class(request.POST, auto_id=_auto_id(action)) if form_class else None
        if action not in _allowed_actions(subsidy_request):
            messages.error(
                request,
                gettext("This cannot be done while the request is %(status)s.")
                % {"status": subsidy_request.get_status_display()},
            )
            return redirect(_request_url(subsidy_request))
        if form is not None and not form.is_valid():
            return _render_detail(request, subsidy_request, {action: form}, status=400)
        try:
            done = _perform(
                action, subsidy_request, request.user, form.cleaned_data if form else {}
            )
        except DomainError as error:
            messages.error(request, error.message)
            if form is None:
                return redirect(_request_url(subsidy_request))
            # The page again, with what was typed, so nothing has to be written twice.
            return _render_detail(request, _request_or_404(request, pk), {action: form}, status=400)
        done.refresh_from_db()
        messages.success(
            request,
            SUCCESS_MESSAGES[action]
            % {
                "number": done.number,
                "amount": _money(
                    done.clawed_back_amount if action == "claw_back" else done.approved_amount
                ),
                "until": done.publication_ends.isoformat() if done.publication_ends else "",
            },
        )
        return redirect(_request_url(done))

    view.__name__ = f"request_{action}"
    return view


request_approve = _action_view("approve")
request_reject = _action_view("reject")
request_return = _action_view("return")
request_publish = _action_view("publish")
request_objection = _action_view("objection")
request_claw_back = _action_view("claw_back")


# --- Budgets ----------------------------------------------------------------------------------


@officer_required
@require_GET
def budget_overview(request):
    """Each programme's budget for the year, what approvals reserved and what was paid, with
    the year's requests counted by status."""
    authority = _authority(request)
    this_year = timezone.localdate().year
    years = sorted(
        set(Budget.objects.filter(programme__authority=authority).values_list("year", flat=True))
        | {this_year},
        reverse=True,
    )
    wanted = request.GET.get("year", "")
    year = (
        int(wanted) if re.fullmatch(r"[0-9]{1,4}", wanted) and int(wanted) in years else this_year
    )
    programmes = list(Programme.objects.filter(authority=authority).order_by("code"))
    budgets = {
        budget.programme_id: budget
        for budget in Budget.objects.filter(programme__authority=authority, year=year)
    }
    counts = {}
    for row in (
        _requests_of(authority)
        .filter(year=year)
        .order_by()
        .values("programme_id", "status")
        .annotate(n=Count("pk"))
    ):
        counts.setdefault(row["programme_id"], {})[row["status"]] = row["n"]
    rows = []
    for programme in programmes:
        budget = budgets.get(programme.pk)
        by_status = counts.get(programme.pk, {})
        rows.append(
            {
                "programme": programme,
                "budget": budget,
                "used": (budget.committed + budget.paid) if budget else ZERO,
                "statuses": [
                    {"value": value, "label": label, "count": by_status[value]}
                    for value, label in RequestStatus.choices
                    if by_status.get(value)
                ],
                "total_requests": sum(by_status.values()),
            }
        )
    return render(
        request,
        "officer/budget.html",
        {"authority": authority, "rows": rows, "year": year, "years": years},
    )


# --- Disbursement batches ---------------------------------------------------------------------


@officer_required
@require_GET
def batch_list(request):
    authority = _authority(request)
    batches = (
        DisbursementBatch.objects.filter(authority=authority)
        .select_related("created_by")
        .annotate(request_count=Count("requests"), total=Sum("requests__approved_amount"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(batches, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "officer/batches.html",
        {"authority": authority, "page": page, "ready_count": _payable(authority).count()},
    )


def _payable(authority):
    """Published requests whose publication has ended without an objection, not yet batched."""
    return _requests_of(authority).filter(
        status=RequestStatus.PUBLICISED,
        batch__isnull=True,
        publication_ends__lt=timezone.localdate(),
    )


@never_cache
@officer_required
@require_http_methods(["GET", "POST"])
def batch_new(request):
    authority = _authority(request)
    chosen: list[int] = []
    if request.method == "POST":
        chosen = _ids(request.POST.getlist("request"))
        try:
            batch = services.batch_create(actor=request.user, request_ids=chosen)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                gettext("Batch %(number)s was prepared with %(count)s requests.")
                % {"number": batch.number, "count": batch.requests.count()},
            )
            return redirect("officer:batch", pk=batch.pk)
    requests = list(
        _payable(authority)
        .select_related("programme", "firm", "policy")
        .order_by("publication_ends", "pk")
    )
    return render(
        request,
        "officer/batch_new.html",
        {
            "authority": authority,
            "requests": requests,
            "chosen": set(chosen),
            "total": sum((r.approved_amount or ZERO for r in requests), ZERO),
        },
        status=400 if request.method == "POST" else 200,
    )


class BatchPaidForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Treasury payment reference"),
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    paid_on = forms.DateField(
        label=gettext_lazy("Paid on"),
        required=False,
        help_text=gettext_lazy("Leave empty for today."),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
    )

    def clean_paid_on(self):
        paid_on = self.cleaned_data.get("paid_on")
        if paid_on and paid_on > timezone.localdate():
            raise forms.ValidationError(gettext("The payment date cannot be in the future."))
        if paid_on and paid_on < timezone.localdate() - timedelta(days=366):
            raise forms.ValidationError(gettext("The payment date is more than a year ago."))
        return paid_on


def _batch_context(batch, paid_form=None) -> dict:
    requests = list(
        batch.requests.select_related("programme", "firm", "policy").order_by("number", "pk")
    )
    return {
        "batch": batch,
        "requests": requests,
        "total": sum((r.approved_amount or ZERO for r in requests), ZERO),
        "not_payable": [r for r in requests if r.status != RequestStatus.PUBLICISED],
        "paid_form": paid_form or BatchPaidForm(),
        "is_open": batch.status == BatchStatus.OPEN,
    }


@never_cache
@officer_required
@require_GET
def batch_detail(request, pk):
    batch = _batch_or_404(request, pk)
    return render(request, "officer/batch_detail.html", _batch_context(batch))


@officer_required
@require_POST
def batch_paid(request, pk):
    batch = _batch_or_404(request, pk)
    form = BatchPaidForm(request.POST)
    if form.is_valid():
        try:
            services.batch_mark_paid(
                batch=batch,
                actor=request.user,
                reference=form.cleaned_data["reference"],
                paid_on=form.cleaned_data["paid_on"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                gettext("Batch %(number)s is recorded as paid; its requests are paid.")
                % {"number": batch.number},
            )
            return redirect("officer:batch", pk=batch.pk)
    batch.refresh_from_db()
    return render(request, "officer/batch_detail.html", _batch_context(batch, form), status=400)


@officer_required
@require_GET
def batch_export_csv(request, pk):
    batch = _batch_or_404(request, pk)
    return bytes_download(
        exports.batch_csv(batch),
        filename=f"{batch.number}.csv",
        content_type="text/csv; charset=utf-8",
    )


@officer_required
@require_GET
def batch_export_xlsx(request, pk):
    batch = _batch_or_404(request, pk)
    return bytes_download(
        exports.batch_xlsx(batch),
        filename=f"{batch.number}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# --- The summary on the workspace's home page -------------------------------------------------


@officer_required
@require_GET
def summary(request):
    """The counts shown on /officer/ (loaded there by htmx)."""
    authority = _authority(request)
    counts = dict(
        _requests_of(authority)
        .filter(
            status__in=[
                *REQUEST_IN_QUEUE,
                RequestStatus.APPROVED,
                RequestStatus.RETURNED,
            ]
        )
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    response = render(
        request,
        "officer/_summary.html",
        {
            "queue_count": sum(counts.get(status, 0) for status in REQUEST_IN_QUEUE),
            "under_review_count": counts.get(RequestStatus.UNDER_REVIEW, 0),
            "approved_count": counts.get(RequestStatus.APPROVED, 0),
            "returned_count": counts.get(RequestStatus.RETURNED, 0),
            "payable_count": _payable(authority).count(),
            "open_batches": DisbursementBatch.objects.filter(
                authority=authority, status=BatchStatus.OPEN
            ).count(),
        },
    )
    response["Cache-Control"] = "no-store"
    return response
