"""Claims in the Django admin: the handlers' deadline dashboard, the claim page and its actions.

Nothing here edits a claim directly. The pages read; every button opens a small form whose POST
calls exactly one function of ``claims.services`` (which checks the rules, locks the row, writes
the timeline and notifies), then returns to the claim with a message. Only staff who may handle
claims (``claims.assess_claim``) reach the action pages; others with the view permission read.
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.forms import formset_factory
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from claims import deadlines as statutory
from claims import indemnity, services
from claims.choices import (
    CLAIM_OPEN,
    CLAIM_TRANSITIONS,
    ClaimPaymentKind,
    ClaimStatus,
    Decision,
    EventKind,
    LetterKind,
    LetterStatus,
    RecoverySharing,
    ReinstatementStatus,
)
from claims.models import (
    Claim,
    ClaimDocument,
    ClaimLetter,
    ClaimPayment,
    Recovery,
    Reinstatement,
    Subrogation,
)
from portal.admin_base import HistoryAdmin, ReadOnlyMixin
from portal.errors import DomainError
from portal.files import stored_file_response
from underwriting.models import CoefficientOption, pick_language
from underwriting.templatetags.catalogue import amount, money

ASSESS_CLAIM = services.ASSESS_PERMISSION
VIEW_DOCUMENT = "claims.view_claimdocument"
VIEW_LETTER = "claims.view_claimletter"
# The dashboard's "due soon" flag, in days: the same horizon as the deadline warnings.
SOON_DAYS = statutory.DEFAULT_SOON_DAYS
DASHBOARD_WEEK = 7
OTHER_LINES = 3
ZERO = Decimal("0.00")
# "Not looked up yet", as opposed to None, "looked up and there is none".
UNKNOWN = object()

DEADLINE_STATUS_LABELS = {
    statutory.Status.DONE: _("met"),
    statutory.Status.DONE_LATE: _("met late"),
    statutory.Status.OVERDUE: _("overdue"),
    statutory.Status.DUE_TODAY: _("due today"),
    statutory.Status.DUE_SOON: _("due soon"),
    statutory.Status.OPEN: _("open"),
}
# The badge colour of each status: red for overdue, amber for due today or soon.
DEADLINE_STATUS_FLAGS = {
    statutory.Status.OVERDUE: "overdue",
    statutory.Status.DUE_TODAY: "soon",
    statutory.Status.DUE_SOON: "soon",
    statutory.Status.DONE_LATE: "late",
}


def _require_perm(request, perm: str) -> None:
    """Action pages answer 403 to staff without the permission (underwriters, ...)."""
    if not request.user.has_perm(perm):
        raise Forbidden


def _deadline_label(kind) -> str:
    return str(dict(services.DEADLINE_LABELS).get(str(kind), kind or ""))


def _deadline_flag(due, today) -> str:
    """ "overdue", "soon" (due within SOON_DAYS) or "" for a stored next deadline (no query)."""
    if due is None:
        return ""
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=SOON_DAYS):
        return "soon"
    return ""


def _status_label(status) -> str:
    try:
        return str(ClaimStatus(status).label)
    except ValueError:
        return str(status or "")


def _item_label(item: dict) -> str:
    """A checklist or requested item in the reader's language, with the handler's note."""
    label = pick_language(item) or item.get("code", "")
    note = item.get("note") or ""
    return f"{label} — {note}" if note else label


def _handlers():
    """Active staff who hold ``claims.assess_claim`` through a group, directly, or as superuser:
    the people ``services.may_handle_claims`` accepts."""
    app_label, codename = ASSESS_CLAIM.split(".")
    holds = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    ) | Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(holds | Q(is_superuser=True))
        .distinct()
        .order_by("full_name", "email")
    )


# --- The policy behind the claim --------------------------------------------------------------


def _deductible_option(policy):
    """The coefficient option the policy's deductible code names, in the clause version's table
    selected by ``deductible_rate``; None when the policy has none."""
    code = (policy.terms or {}).get("deductible") or ""
    if not code:
        return None
    return (
        CoefficientOption.objects.filter(
            table__clause_version_id=policy.clause_version_id,
            table__input_key="deductible_rate",
            code=code,
        )
        .order_by("table__position", "position")
        .first()
    )


def _deductible_rate(option) -> Decimal | None:
    """The option's rate in percent. The bands run (lower, upper]: "Deductible 10 %" is the band
    5–10, so the rate is its upper bound; an open band ("above 20 %") has no single rate."""
    if option is None or option.upper is None:
        return None
    # "10", not "10.0000" (nor "1E+1", which normalize() alone would give).
    return Decimal(format(option.upper.normalize(), "f"))


def _limit_rows(policy) -> list[dict]:
    terms = policy.terms or {}
    names = {
        section.get("code"): pick_language(section.get("name"))
        for section in (terms.get("breakdown") or {}).get("sections") or ()
    }
    # PostgreSQL's jsonb does not keep the keys' order, so the sections of the rating breakdown
    # (a list) give it; any limit without a section follows by code.
    position = {code: index for index, code in enumerate(names)}
    rows = []
    for code, value in (terms.get("limits") or {}).items():
        try:
            limit = Decimal(str(value))
        except ArithmeticError:
            continue
        rows.append({"code": code, "name": names.get(code) or code, "limit": limit})
    return sorted(rows, key=lambda row: (position.get(row["code"], len(position)), row["code"]))


def _policy_view(policy) -> dict:
    option = _deductible_option(policy)
    code = (policy.terms or {}).get("deductible") or ""
    return {
        "policy": policy,
        "limits": _limit_rows(policy),
        "deductible": f"{option.label} ({code})" if option else (code or "—"),
        "deductible_rate": _deductible_rate(option),
        "insured": [
            " · ".join(p for p in (item.get("number"), item.get("title")) if p)
            for item in (policy.terms or {}).get("insured") or ()
        ],
    }


# --- The assessment, step by step -------------------------------------------------------------


def _dec(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _percent(value) -> str:
    number = _dec(value)
    if number is None:
        return "—"
    text = format((number * 100).quantize(Decimal("0.0001")).normalize(), "f")
    return f"{text} %"


def assessment_steps(result: dict) -> dict:
    """The calculator's result (``indemnity.Assessment.to_dict()``) as rows to read: one line per
    item, then every step from the assessed amount to the payable one, in the order applied."""
    result = result or {}
    lines = []
    for number, line in enumerate(result.get("lines") or (), start=1):
        lines.append(
            {
                "number": number,
                "loss": line.get("loss"),
                "salvage": line.get("salvage"),
                "loss_after_salvage": line.get("loss_after_salvage"),
                "insured_value": line.get("insured_value"),
                "sum_insured": line.get("sum_insured"),
                "under_insured": line.get("under_insured"),
                "proportion": _percent(line.get("proportion")),
                "proportioned_loss": line.get("proportioned_loss"),
                "cap": line.get("cap"),
                "loss_paid": line.get("loss_paid"),
                "loss_cap_applied": line.get("loss_cap_applied"),
                "mitigation_costs": line.get("mitigation_costs"),
                "mitigation_paid": line.get("mitigation_paid"),
                "mitigation_cap_applied": line.get("mitigation_cap_applied"),
                "total": line.get("total"),
            }
        )
    basis = result.get("deductible_basis")
    if basis == indemnity.DEDUCTIBLE_RATE:
        deductible_text = gettext("%(rate)s %% of the assessed amount") % {
            "rate": format((_dec(result.get("deductible_rate")) or ZERO).normalize(), "f")
        }
    elif basis == indemnity.DEDUCTIBLE_AMOUNT:
        deductible_text = gettext("fixed amount")
    else:
        deductible_text = gettext("none")
    others = [v for v in result.get("other_sums_insured") or ()]
    steps = [
        {"label": gettext("1. Assessed amount (all items)"), "value": result.get("assessed")},
        {
            "label": gettext("2. Deductible, once per event (%(how)s)") % {"how": deductible_text},
            "value": result.get("deductible"),
            "minus": result.get("deductible_applied"),
        },
        {"label": gettext("After the deductible"), "value": result.get("after_deductible")},
        {
            "label": (
                gettext("3. Share under double insurance: %(this)s of %(all)s")
                % {
                    "this": amount(result.get("this_sums_insured")),
                    "all": amount(
                        sum(
                            (_dec(v) or ZERO for v in others),
                            _dec(result.get("this_sums_insured")) or ZERO,
                        )
                    ),
                }
                if others
                else gettext("3. Share under double insurance: none, this policy alone")
            ),
            "note": _percent(result.get("share")),
            "value": result.get("share_amount"),
        },
        {
            "label": gettext("4. Already recovered from the liable party, set off"),
            "value": result.get("recovered"),
            "minus": result.get("recovered_deducted"),
        },
        {"label": gettext("After recoveries"), "value": result.get("after_recovery")},
        {
            "label": gettext("5. Capped at the remaining sum insured"),
            "value": result.get("remaining_sum_insured"),
            "note": gettext("cap applied") if result.get("remaining_cap_applied") else "",
        },
    ]
    return {
        "lines": lines,
        "steps": steps,
        "payable": result.get("payable"),
        "remaining_after": result.get("remaining_sum_insured_after"),
    }


# --- The timeline -----------------------------------------------------------------------------


def _event_text(event, labels: dict) -> str:
    """A timeline event in the reader's language, from its code and values."""
    params = event.params or {}
    code = event.code
    if event.kind == EventKind.STATUS:
        return ""  # the status column says it
    if code == "uploaded":
        return gettext("Document uploaded: %(name)s (%(item)s)") % {
            "name": params.get("name", ""),
            "item": labels.get(params.get("code"), params.get("code", "")),
        }
    if event.kind == EventKind.DOCUMENT and code == "rejected":
        return gettext("Document refused: %(name)s") % {"name": params.get("name", "")}
    if code == "request":
        items = "; ".join(_item_label(item) for item in params.get("items") or ())
        return gettext("Documents requested (request %(n)s): %(items)s") % {
            "n": params.get("sequence", ""),
            "items": items,
        }
    if code == "assigned":
        return gettext("Assigned to %(name)s") % {"name": params.get("name", "")}
    if code == "reserve":
        previous = params.get("from")
        return gettext("Reserve set: CNY %(old)s → CNY %(new)s") % {
            "old": money(previous) if previous is not None else "—",
            "new": money(params.get("to")),
        }
    if code == "assessed":
        return gettext("Assessed: CNY %(payable)s payable") % {
            "payable": money(params.get("payable"))
        }
    if code in ("paid_advance", "paid_final"):
        kind = ClaimPaymentKind(code.removeprefix("paid_")).label
        return gettext("%(kind)s of CNY %(amount)s; remaining sum insured CNY %(remaining)s") % {
            "kind": kind,
            "amount": money(params.get("amount")),
            "remaining": money(params.get("remaining")),
        }
    if code == "subrogation":
        return gettext("Subrogation started against %(party)s") % {"party": params.get("party")}
    if code == "recovered":
        return gettext(
            "Recovered CNY %(amount)s: CNY %(insurer)s to the insurer, CNY %(insured)s to the "
            "insured"
        ) % {
            "amount": money(params.get("amount")),
            "insurer": money(params.get("insurer")),
            "insured": money(params.get("insured")),
        }
    if code == "waived":
        return gettext("Required documents waived: %(items)s") % {
            "items": "; ".join(labels.get(c, c) for c in params.get("codes") or ())
        }
    if event.kind == EventKind.NOTE and code == "reopened":
        return gettext("Reopened; the earlier decision was: %(decision)s") % {
            "decision": params.get("decision") or "—"
        }
    if code.startswith("letter_"):
        kind = code.removeprefix("letter_")
        label = LetterKind(kind).label if kind in LetterKind.values else kind
        return gettext("Letter ready: %(kind)s") % {"kind": label}
    return code


# --- Filters ----------------------------------------------------------------------------------


class HandlerFilter(admin.SimpleListFilter):
    title = _("claims handler")
    parameter_name = "handler"

    def lookups(self, request, model_admin):
        # One query, whatever the number of claims.
        people = [(str(user.pk), str(user)) for user in _handlers()]
        return [("mine", _("Mine")), ("none", _("Unassigned")), *people]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(handler=request.user)
        if value == "none":
            return queryset.filter(handler__isnull=True)
        if value:
            try:
                return queryset.filter(handler_id=int(value))
            except ValueError:
                return queryset.none()
        return queryset

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        if choices:
            choices[0]["display"] = _("Anyone")
        return choices


class DeadlineFilter(admin.SimpleListFilter):
    title = _("next deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Overdue")),
            ("soon", _("Due within %(days)d days") % {"days": SOON_DAYS}),
            ("none", _("No deadline running")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(next_deadline_on__lt=today)
        if self.value() == "soon":
            return queryset.filter(
                next_deadline_on__gte=today,
                next_deadline_on__lte=today + timedelta(days=SOON_DAYS),
            )
        if self.value() == "none":
            return queryset.filter(next_deadline_on__isnull=True)
        return queryset


# --- Forms ------------------------------------------------------------------------------------


MONEY_LIMIT = Decimal("1e12")


class MoneyField(forms.DecimalField):
    """An amount in CNY typed with or without thousands separators ("150,000")."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "size": 16})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace("，", "").replace(" ", "").strip()
        return super().to_python(value)


def _textarea(rows=3):
    return forms.Textarea(attrs={"rows": rows, "cols": 80})


class AssignForm(forms.Form):
    handler = forms.ModelChoiceField(
        label=_("Claims handler"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Staff who may handle claims."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].queryset = _handlers()


class ReserveForm(forms.Form):
    amount = MoneyField(label=_("Reserve (CNY)"))
    note = forms.CharField(label=_("Why (for the timeline)"), required=False, widget=_textarea(2))


class RequestDocumentsForm(forms.Form):
    documents = forms.MultipleChoiceField(
        label=_("Documents missing"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Ticked: what is still missing. Untick what you do not need."),
    )
    new_facts = forms.CharField(
        label=_("New facts that make these documents necessary"),
        required=False,
        widget=_textarea(4),
        help_text=_(
            "The insured has already been told what is missing (or the documents were judged "
            "complete). Insurance Law art. 22 allows one consolidated request: a further one only "
            "for documents that new facts made necessary, and those facts must be stated."
        ),
    )

    def __init__(self, *args, checklist, outstanding, later, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["documents"]
        field.choices = [
            (
                item["code"],
                (
                    gettext("%(document)s (required)") % {"document": _item_label(item)}
                    if item.get("required")
                    else _item_label(item)
                ),
            )
            for item in checklist
            if item["code"] != services.OTHER_DOCUMENT
        ]
        field.initial = [item["code"] for item in outstanding]
        for n in range(1, OTHER_LINES + 1):
            self.fields[f"other_{n}"] = forms.CharField(
                label=_("Other document %(n)d") % {"n": n},
                required=False,
                max_length=500,
                widget=forms.TextInput(attrs={"size": 80}),
            )
        if later:
            self.order_fields(["documents", *self._other_names(), "new_facts"])
        else:
            del self.fields["new_facts"]

    @staticmethod
    def _other_names():
        return [f"other_{n}" for n in range(1, OTHER_LINES + 1)]

    def items(self) -> list[dict]:
        chosen = [{"code": code, "note": ""} for code in self.cleaned_data["documents"]]
        for name in self._other_names():
            text = (self.cleaned_data.get(name) or "").strip()
            if text:
                chosen.append({"code": services.OTHER_DOCUMENT, "note": text})
        return chosen


class DocumentsCompleteForm(forms.Form):
    waived = forms.MultipleChoiceField(
        label=_("Required documents to waive"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Only a required checklist item the insurer already holds (its own copy of the "
            "policy, say) may be waived. Documents you requested cannot be."
        ),
    )
    note = forms.CharField(label=_("Note for the timeline"), required=False, widget=_textarea(2))

    def __init__(self, *args, waivable, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["waived"].choices = [(item["code"], _item_label(item)) for item in waivable]
        if not waivable:
            del self.fields["waived"]


class AssessItemForm(forms.Form):
    """One damaged item or cover section; a row with no loss is not used."""

    section = forms.CharField(
        label=_("Item or cover section"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"size": 20}),
    )
    loss = MoneyField(label=_("Loss (CNY)"), required=False)
    insured_value = MoneyField(
        label=_("Insured value (CNY)"),
        required=False,
        help_text=_("Blank: no insured value (liability, legal or investigation costs)."),
    )
    sum_insured = MoneyField(label=_("Sum insured (CNY)"), required=False)
    salvage = MoneyField(label=_("Salvage (CNY)"), required=False)
    mitigation_costs = MoneyField(label=_("Mitigation costs (CNY)"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("loss") is not None and not data.get("sum_insured"):
            self.add_error("sum_insured", _("Enter the sum insured of this item."))
        return data

    def used(self) -> bool:
        return self.cleaned_data.get("loss") is not None


AssessItemFormSet = formset_factory(AssessItemForm, extra=1, max_num=20, validate_max=True)


class AssessForm(forms.Form):
    deductible_amount = MoneyField(label=_("Deductible, fixed amount (CNY)"), required=False)
    deductible_rate = forms.DecimalField(
        label=_("Deductible rate (%)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=7,
        decimal_places=4,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
        help_text=_("A fixed amount or a rate, not both. Taken once per event."),
    )
    recovered = MoneyField(label=_("Already recovered from the liable party (CNY)"), required=False)
    other_sums_insured = forms.CharField(
        label=_("Other policies' sums insured (CNY)"),
        required=False,
        help_text=_("Double insurance: the sums insured of other policies, separated by commas."),
        widget=forms.TextInput(attrs={"size": 40}),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=_textarea(3))

    def clean_other_sums_insured(self):
        text = self.cleaned_data.get("other_sums_insured") or ""
        values = []
        for part in text.replace("，", ",").replace(";", ",").split(","):
            part = part.strip().replace(" ", "")
            if not part:
                continue
            value = _dec(part)
            # Beyond what a money field holds (14 digits, 2 decimals) quantize() would raise.
            if value is None or not value.is_finite() or not 0 < value < MONEY_LIMIT:
                raise ValidationError(
                    _("“%(value)s” is not a sum insured.") % {"value": part}, code="amount"
                )
            values.append(value.quantize(Decimal("0.01")))
        return values

    def clean(self):
        data = super().clean()
        if (data.get("deductible_amount") or ZERO) > 0 and (data.get("deductible_rate") or 0) > 0:
            raise ValidationError(_("Give either a fixed deductible or a rate, not both."))
        return data


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Is the claim covered?"), choices=Decision.choices, widget=forms.RadioSelect
    )
    reasons = forms.CharField(
        label=_("Reasons"),
        required=False,
        widget=_textarea(6),
        help_text=_(
            "Required for a rejection: the insured receives them in the rejection letter, which "
            "must go out within 3 days (Insurance Law art. 24)."
        ),
    )
    clauses = forms.MultipleChoiceField(
        label=_("Exclusions relied on"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, exclusions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clauses"].choices = [
            (str(number), f"{number}. {pick_language(exclusion.get('title'))}")
            for number, exclusion in enumerate(exclusions, start=1)
        ]


class SettleForm(forms.Form):
    amount = MoneyField(
        label=_("Amount agreed (CNY)"),
        help_text=_("At most the latest assessment's payable amount. Payment is due in 10 days."),
    )


class PaymentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Payment"), choices=ClaimPaymentKind.choices, widget=forms.RadioSelect
    )
    amount = MoneyField(label=_("Amount paid (CNY)"), min_value=Decimal("0.01"))
    reference = forms.CharField(label=_("Bank reference"), max_length=100)
    paid_on = forms.DateField(
        label=_("Paid on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Blank: today."),
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("New facts that reopen the claim"), widget=_textarea(4))


class SubrogationForm(forms.Form):
    liable_party = forms.CharField(label=_("Liable party"), max_length=200)
    basis = forms.CharField(label=_("Grounds and steps taken"), required=False, widget=_textarea(4))


class RecoveryForm(forms.Form):
    amount = MoneyField(label=_("Amount recovered (CNY)"), min_value=Decimal("0.01"))
    reference = forms.CharField(label=_("Bank reference"), max_length=100)
    received_on = forms.DateField(
        label=_("Received on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Blank: today."),
    )


# --- Claims -----------------------------------------------------------------------------------

# The action pages: URL name, button label. Which may be used now is decided by ``_refusal``.
CLAIM_ACTIONS = (
    ("assign", _("Assign")),
    ("reserve", _("Set reserve")),
    ("request_documents", _("Request documents")),
    ("documents_complete", _("Documents complete")),
    ("assess", _("Assess")),
    ("decide", _("Decide on cover")),
    ("settle", _("Agree the amount")),
    ("payment", _("Record a payment")),
    ("reopen", _("Reopen")),
    ("subrogation", _("Start subrogation")),
    ("recovery", _("Record a recovery")),
)


@admin.register(Claim)
class ClaimAdmin(ReadOnlyMixin, HistoryAdmin):
    """The handlers' deadline dashboard and the claim page, read-only; actions on their own
    pages, each calling one service."""

    list_display = [
        "number",
        "policy_number",
        "firm_name",
        "status",
        "handler_name",
        "reserve_display",
        "amount_claimed_display",
        "next_deadline_display",
        "notified_at",
    ]
    list_display_links = ["number"]
    list_filter = [
        "status",
        HandlerFilter,
        DeadlineFilter,
        ("policy__product", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["policy", "firm", "handler"]
    search_fields = ["number", "policy__number", "firm__name_zh", "firm__name_en"]
    search_help_text = _("Claim number, policy number or firm name.")
    actions = []
    change_list_template = "admin/claims/claim_change_list.html"
    change_form_template = "admin/claims/claim_change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "status",
                    "policy_link",
                    "firm_display",
                    "handler_name",
                    "reserve_display",
                    "next_deadline_display",
                ]
            },
        ),
        (
            _("Claim"),
            {
                "fields": [
                    "incident_date",
                    "learned_on",
                    "notified_at",
                    "reported_by",
                    "amount_claimed_display",
                    "status_changed_at",
                ]
            },
        ),
        (
            _("Decision and settlement"),
            {
                "fields": [
                    "documents_complete_on",
                    "decision",
                    "decided_on",
                    "rejection_notice_sent_on",
                    "amount_agreed_display",
                    "amount_agreed_on",
                    "advance_paid_on",
                    "paid_on",
                ]
            },
        ),
    ]
    readonly_fields = [
        "number",
        "status",
        "policy_link",
        "firm_display",
        "handler_name",
        "reserve_display",
        "next_deadline_display",
        "incident_date",
        "learned_on",
        "notified_at",
        "reported_by",
        "amount_claimed_display",
        "status_changed_at",
        "documents_complete_on",
        "decision",
        "decided_on",
        "rejection_notice_sent_on",
        "amount_agreed_display",
        "amount_agreed_on",
        "advance_paid_on",
        "paid_on",
    ]

    # Permissions come from ReadOnlyMixin: read here, act on the action pages.

    # -- the list --

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("policy", "firm", "handler", "reported_by")
        )

    def get_ordering(self, request):
        return [F("next_deadline_on").asc(nulls_last=True), "notified_at", "id"]

    @admin.display(description=_("policy number"), ordering="policy__number")
    def policy_number(self, obj):
        return obj.policy.number or "—"

    @admin.display(description=_("firm"), ordering="firm__name_zh")
    def firm_name(self, obj):
        return obj.firm.name

    @admin.display(description=_("policy"))
    def policy_link(self, obj):
        url = reverse("admin:underwriting_policy_change", args=[obj.policy_id])
        return format_html('<a href="{}">{}</a>', url, obj.policy.number or obj.policy_id)

    @admin.display(description=_("firm"))
    def firm_display(self, obj):
        return f"{obj.firm.name} ({obj.firm.uscc})"

    @admin.display(description=_("claims handler"), ordering="handler__email")
    def handler_name(self, obj):
        return str(obj.handler) if obj.handler_id else "—"

    @admin.display(description=_("reserve (CNY)"), ordering="reserve")
    def reserve_display(self, obj):
        return money(obj.reserve) if obj.reserve is not None else "—"

    @admin.display(description=_("amount claimed (CNY)"), ordering="amount_claimed")
    def amount_claimed_display(self, obj):
        return money(obj.amount_claimed)

    @admin.display(description=_("amount agreed (CNY)"))
    def amount_agreed_display(self, obj):
        return money(obj.amount_agreed) if obj.amount_agreed is not None else "—"

    @admin.display(description=_("next deadline"), ordering="next_deadline_on")
    def next_deadline_display(self, obj):
        due = obj.next_deadline_on
        if due is None:
            return "—"
        text = f"{due:%Y-%m-%d} · {_deadline_label(obj.next_deadline_kind)}"
        flag = _deadline_flag(due, timezone.localdate())
        if flag == "overdue":
            return format_html(
                '{} <span class="claim-badge claim-badge-overdue">{}</span>',
                text,
                gettext("overdue"),
            )
        if flag == "soon":
            return format_html(
                '{} <span class="claim-badge claim-badge-soon">{}</span>', text, gettext("due soon")
            )
        return text

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "dashboard_url": reverse("admin:claims_claim_dashboard"),
        }
        return super().changelist_view(request, extra_context)

    # -- the claim page --

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._detail_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _detail_context(self, request, claim) -> dict:
        today = timezone.localdate()
        checklist = services.checklist(claim)
        labels = {item["code"]: _item_label(item) for item in checklist}
        may_documents = request.user.has_perm(VIEW_DOCUMENT)
        may_letters = request.user.has_perm(VIEW_LETTER)
        documents = []
        for document in claim.documents.select_related("uploaded_by", "duplicate_of__claim"):
            documents.append(
                {
                    "document": document,
                    "label": labels.get(document.code, document.code),
                    "url": (
                        reverse("admin:claims_claim_document", args=[claim.pk, document.pk])
                        if may_documents and document.file
                        else ""
                    ),
                    "preview_url": (
                        reverse("admin:claims_claim_document_preview", args=[claim.pk, document.pk])
                        if may_documents and document.preview
                        else ""
                    ),
                    "duplicate_claim": (
                        document.duplicate_of.claim if document.duplicate_of_id else None
                    ),
                }
            )
        deadlines = []
        for deadline in services.claim_deadlines(claim):
            status = deadline.status(today)
            days_left = deadline.days_left(today) if deadline.done_on is None else None
            deadlines.append(
                {
                    "deadline": deadline,
                    "label": _deadline_label(deadline.kind),
                    "status": DEADLINE_STATUS_LABELS[status],
                    "flag": DEADLINE_STATUS_FLAGS.get(status, ""),
                    "days_left": days_left,
                    "days_late": -days_left if days_left is not None and days_left < 0 else 0,
                }
            )
        assessments = [
            {"assessment": assessment, "steps": assessment_steps(assessment.result)}
            for assessment in claim.assessments.select_related("assessed_by").order_by(
                "-created_at", "-id"
            )
        ]
        subrogation = Subrogation.objects.filter(claim=claim).select_related("started_by").first()
        payments = list(claim.payments.select_related("recorded_by"))
        letters = [
            {
                "letter": letter,
                "url": (
                    reverse("admin:claims_claim_letter", args=[claim.pk, letter.pk])
                    if may_letters and letter.status == LetterStatus.READY and letter.file
                    else ""
                ),
            }
            for letter in claim.letters.all()
        ]
        events = [
            {"event": event, "text": _event_text(event, labels)}
            for event in claim.events.select_related("actor")
        ]
        waived = set(claim.waived_documents or ())
        return {
            "claim": claim,
            "cause": pick_language(claim.cause),
            "rights": [
                " · ".join(p for p in (item.get("number"), item.get("title")) if p)
                for item in claim.rights or ()
            ],
            "policy_view": _policy_view(claim.policy),
            "documents": documents,
            # Still missing, then the required items the handler waived, marked as such.
            "outstanding": [
                {**item, "label": _item_label(item), "waived": False}
                for item in services.outstanding_items(claim)
            ]
            + [
                {**item, "label": _item_label(item), "waived": True, "requested": False}
                for item in services.checklist(claim)
                if item["code"] in waived
            ],
            "document_requests": [
                {"request": request_, "items": [_item_label(i) for i in request_.items]}
                for request_ in claim.document_requests.select_related("requested_by")
            ],
            "deadlines": deadlines,
            "assessments": assessments,
            "payments": payments,
            "paid": sum((p.amount for p in payments), ZERO),
            "subrogation": subrogation,
            "sharing": _sharing_view(subrogation.sharing) if subrogation else None,
            "recoveries": list(subrogation.recoveries.all()) if subrogation else [],
            "letters": letters,
            "events": events,
            "rejection_clauses": [
                f"{ref.get('number')}. {pick_language(ref.get('title'))}"
                for ref in claim.rejection_clauses or ()
            ],
            "claim_actions": self._actions_for(request, claim, payments, subrogation),
            "today": today,
        }

    def _refusal(self, claim, name, *, paid=None, subrogation=UNKNOWN) -> str:
        """Why action ``name`` cannot be used on the claim now, or "" when it can."""
        status = ClaimStatus(claim.status)
        allowed = CLAIM_TRANSITIONS[status]
        now = gettext("This cannot be done while the claim is “%(status)s”.") % {
            "status": status.label
        }
        if name == "assign":
            return now if status == ClaimStatus.WITHDRAWN else ""
        if name == "reserve":
            return "" if status in CLAIM_OPEN else now
        if name == "request_documents":
            # While the insured is still answering, a request for documents that new facts made
            # necessary joins the open one (the service keeps the status).
            ok = (
                ClaimStatus.DOCUMENTS_REQUESTED in allowed
                or status == ClaimStatus.DOCUMENTS_REQUESTED
            )
            return "" if ok else now
        if name == "documents_complete":
            ok = ClaimStatus.UNDER_ASSESSMENT in allowed and status in (
                ClaimStatus.NOTIFIED,
                ClaimStatus.DOCUMENTS_REQUESTED,
            )
            return "" if ok else now
        if name == "assess":
            ok = status in (ClaimStatus.UNDER_ASSESSMENT, ClaimStatus.ACCEPTED)
            return "" if ok else now
        if name == "decide":
            return "" if ClaimStatus.ACCEPTED in allowed else now
        if name == "settle":
            return "" if ClaimStatus.SETTLED in allowed else now
        if name == "payment":
            ok = status in (
                ClaimStatus.UNDER_ASSESSMENT,
                ClaimStatus.ACCEPTED,
                ClaimStatus.SETTLED,
            )
            return "" if ok else now
        if name == "reopen":
            ok = ClaimStatus.UNDER_ASSESSMENT in allowed and status in (
                ClaimStatus.PAID,
                ClaimStatus.REJECTED,
            )
            return "" if ok else now
        if subrogation is UNKNOWN:
            subrogation = Subrogation.objects.filter(claim=claim).first()
        if name == "subrogation":
            if subrogation is not None:
                return gettext("Subrogation was already started for this claim.")
            if paid is None:
                paid = claim.payments.exists()
            if not paid:
                return gettext("Subrogation begins once the insurer has paid (clause art. 33).")
            return ""
        if name == "recovery":
            if subrogation is None:
                return gettext("Start subrogation before recording recoveries.")
            return ""
        return now

    def _actions_for(self, request, claim, payments, subrogation) -> list[dict]:
        """The buttons this user may press now; none without ``claims.assess_claim``."""
        if not services.may_handle_claims(request.user):
            return []
        return [
            {
                "name": name,
                "label": label,
                "url": reverse(f"admin:claims_claim_{name}", args=[claim.pk]),
            }
            for name, label in CLAIM_ACTIONS
            if not self._refusal(claim, name, paid=bool(payments), subrogation=subrogation)
        ]

    # -- URLs --

    def get_urls(self):
        def view(name, func):
            return path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(func),
                name=f"claims_claim_{name}",
            )

        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="claims_claim_dashboard",
            ),
            path(
                "<path:object_id>/documents/<id:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="claims_claim_document",
            ),
            path(
                "<path:object_id>/documents/<id:document_id>/preview/",
                self.admin_site.admin_view(self.document_preview_view),
                name="claims_claim_document_preview",
            ),
            path(
                "<path:object_id>/letters/<id:letter_id>/",
                self.admin_site.admin_view(self.letter_view),
                name="claims_claim_letter",
            ),
            *(view(name, getattr(self, f"{name}_view")) for name, _label in CLAIM_ACTIONS),
            *super().get_urls(),
        ]

    # -- the dashboard --

    def dashboard_view(self, request):
        """Claims with a statutory deadline running, grouped by how close it is."""
        if not self.has_view_permission(request):
            raise Forbidden
        today = timezone.localdate()
        mine = request.GET.get("mine") == "1"
        claims = (
            Claim.objects.filter(next_deadline_on__isnull=False)
            .select_related("policy", "firm", "handler")
            .order_by("next_deadline_on", "notified_at", "id")
        )
        if mine:
            claims = claims.filter(handler=request.user)
        groups = {
            "overdue": {"title": _("Overdue"), "flag": "overdue", "rows": []},
            "today": {"title": _("Due today"), "flag": "soon", "rows": []},
            "week": {
                "title": _("Due within %(days)d days") % {"days": DASHBOARD_WEEK},
                "flag": "",
                "rows": [],
            },
            "later": {"title": _("Later"), "flag": "", "rows": []},
        }
        for claim in claims:
            due = claim.next_deadline_on
            if due < today:
                key = "overdue"
            elif due == today:
                key = "today"
            elif due <= today + timedelta(days=DASHBOARD_WEEK):
                key = "week"
            else:
                key = "later"
            groups[key]["rows"].append(
                {
                    "claim": claim,
                    "kind": _deadline_label(claim.next_deadline_kind),
                    "days_left": (due - today).days,
                    "days_late": (today - due).days,
                    "url": reverse("admin:claims_claim_change", args=[claim.pk]),
                }
            )
        return TemplateResponse(
            request,
            "admin/claims/claim_dashboard.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Claim deadlines"),
                "groups": [{"key": key, **group} for key, group in groups.items()],
                "mine": mine,
                "today": today,
                "changelist_url": reverse("admin:claims_claim_changelist"),
            },
        )

    # -- files --

    def _viewable(self, request, object_id) -> Claim:
        claim = self.get_object(request, unquote(object_id))
        if claim is None:
            raise Http404
        if not self.has_view_permission(request, claim):
            raise Forbidden
        return claim

    @staticmethod
    def _attachment(field, filename, content_type):
        return stored_file_response(field.name, filename=filename, content_type=content_type)

    def document_view(self, request, object_id, document_id):
        """A claim document as uploaded, always as a download (never rendered by the browser)."""
        _require_perm(request, VIEW_DOCUMENT)
        claim = self._viewable(request, object_id)
        document = get_object_or_404(ClaimDocument, pk=document_id, claim=claim)
        if not document.file:
            raise Http404
        return self._attachment(
            document.file,
            document.original_name or f"{document.code}.{document.extension}",
            document.content_type or "application/octet-stream",
        )

    def document_preview_view(self, request, object_id, document_id):
        _require_perm(request, VIEW_DOCUMENT)
        claim = self._viewable(request, object_id)
        document = get_object_or_404(ClaimDocument, pk=document_id, claim=claim)
        if not document.preview:
            raise Http404
        stem = (document.original_name or document.code).rsplit(".", 1)[0]
        return self._attachment(document.preview, f"{stem}-preview.png", "image/png")

    def letter_view(self, request, object_id, letter_id):
        _require_perm(request, VIEW_LETTER)
        claim = self._viewable(request, object_id)
        letter = get_object_or_404(ClaimLetter, pk=letter_id, claim=claim)
        if letter.status != LetterStatus.READY or not letter.file:
            raise Http404
        return self._attachment(letter.file, f"{letter.reference}.pdf", "application/pdf")

    # -- the action pages --

    def _for_action(self, request, object_id) -> Claim:
        """The claim, for staff who may handle claims: 403 for anyone else, 404 if missing."""
        if not services.may_handle_claims(request.user):
            raise Forbidden
        claim = self.get_object(request, unquote(object_id))
        if claim is None:
            raise Http404
        return claim

    def _change_url(self, claim) -> str:
        return reverse("admin:claims_claim_change", args=[claim.pk])

    def _page(self, request, claim, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "claim": claim,
                "policy": claim.policy,
                "cancel_url": self._change_url(claim),
                **context,
            },
        )

    def _action(self, request, object_id, name, *, make_form, call, done, title, button, **context):
        """GET shows the small form; POST calls the service and returns to the claim with a
        message, or shows the service's refusal on the same form."""
        claim = self._for_action(request, object_id)
        refusal = self._refusal(claim, name)
        if refusal:
            messages.warning(request, refusal)
            return redirect(self._change_url(claim))
        data = request.POST if request.method == "POST" else None
        form = make_form(claim, data)
        if data is not None and form.is_valid():
            try:
                result = call(claim, form)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                message = done(claim, result) if callable(done) else done
                messages.success(request, message)
                return redirect(self._change_url(claim))
        extra = context.pop("extra", None)
        if callable(extra):
            context.update(extra(claim))
        return self._page(
            request,
            claim,
            "admin/claims/claim_action.html",
            title=title % {"number": claim.number},
            form=form,
            button=button,
            **context,
        )

    def assign_view(self, request, object_id):
        me = request.method == "POST" and "_me" in request.POST

        def call(claim, form):
            handler = request.user if me else form.cleaned_data.get("handler")
            if handler is None:
                raise DomainError(gettext("Choose a claims handler."))
            return services.claim_assign(claim=claim, handler=handler, actor=request.user)

        return self._action(
            request,
            object_id,
            "assign",
            make_form=lambda claim, data: AssignForm(data, initial={"handler": claim.handler_id}),
            call=call,
            done=lambda claim, result: (
                gettext("%(number)s is assigned to %(name)s.")
                % {"number": claim.number, "name": result.handler}
            ),
            title=_("Assign %(number)s"),
            button=_("Assign"),
            me_button=_("Assign to me"),
            intro=_("The handler is told unless you assign the claim to yourself."),
        )

    def reserve_view(self, request, object_id):
        return self._action(
            request,
            object_id,
            "reserve",
            make_form=lambda claim, data: ReserveForm(data, initial={"amount": claim.reserve}),
            call=lambda claim, form: services.claim_set_reserve(
                claim=claim,
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
                actor=request.user,
            ),
            done=lambda claim, result: (
                gettext("Reserve of %(number)s set to CNY %(amount)s.")
                % {"number": claim.number, "amount": money(result.reserve)}
            ),
            title=_("Reserve for %(number)s"),
            button=_("Set the reserve"),
            intro=_(
                "What the insurer expects to pay on this claim; the applicant does not see it."
            ),
        )

    def request_documents_view(self, request, object_id):
        def make_form(claim, data):
            later = bool(claim.document_requests.exists() or claim.documents_complete_on)
            return RequestDocumentsForm(
                data,
                checklist=services.checklist(claim),
                outstanding=[
                    item
                    for item in services.outstanding_items(claim)
                    if item["code"] != services.OTHER_DOCUMENT
                ],
                later=later,
            )

        def call(claim, form):
            return services.claim_request_documents(
                claim=claim,
                actor=request.user,
                items=form.items(),
                new_facts=form.cleaned_data.get("new_facts") or "",
            )

        def done(claim, result):
            return gettext(
                "The insured was asked for %(count)d documents in one notice (request %(n)d)."
            ) % {"count": len(result.items), "n": result.sequence}

        return self._action(
            request,
            object_id,
            "request_documents",
            make_form=make_form,
            call=call,
            done=done,
            title=_("Request documents for %(number)s"),
            button=_("Send the request"),
            intro=_(
                "Insurance Law art. 22: ask the insured once for every document still missing, "
                "in a single notice. A further request is lawful only for documents that new "
                "facts made necessary, and the notice says what those facts are."
            ),
            extra=lambda claim: {
                "earlier_requests": [
                    {"request": r, "items": [_item_label(i) for i in r.items]}
                    for r in claim.document_requests.all()
                ],
            },
        )

    def documents_complete_view(self, request, object_id):
        def waivable(claim):
            return [
                item
                for item in services.outstanding_items(claim)
                if not item["requested"] and item["code"] != services.OTHER_DOCUMENT
            ]

        return self._action(
            request,
            object_id,
            "documents_complete",
            make_form=lambda claim, data: DocumentsCompleteForm(data, waivable=waivable(claim)),
            call=lambda claim, form: services.claim_documents_complete(
                claim=claim,
                actor=request.user,
                waived=form.cleaned_data.get("waived") or [],
                note=form.cleaned_data["note"],
            ),
            done=lambda claim, result: (
                gettext(
                    "Documents of %(number)s are complete: the decision on cover is due by %(due)s."
                )
                % {
                    "number": claim.number,
                    "due": statutory.decision_due(result.documents_complete_on).isoformat(),
                }
            ),
            title=_("Documents of %(number)s complete"),
            button=_("The documents are complete"),
            intro=_(
                "From today the insurer has 30 days to decide whether the claim is covered "
                "(Insurance Law art. 23)."
            ),
            extra=lambda claim: {
                "outstanding": [
                    {**item, "label": _item_label(item)}
                    for item in services.outstanding_items(claim)
                ]
            },
        )

    def assess_view(self, request, object_id):
        """The indemnity calculator. "Calculate" runs it without saving and shows each step;
        "Save" records the assessment through ``services.claim_assess``."""
        claim = self._for_action(request, object_id)
        refusal = self._refusal(claim, "assess")
        if refusal:
            messages.warning(request, refusal)
            return redirect(self._change_url(claim))
        policy_view = _policy_view(claim.policy)
        posted = request.method == "POST"
        if posted:
            form = AssessForm(request.POST)
            formset = AssessItemFormSet(request.POST, prefix="items")
        else:
            rate = policy_view["deductible_rate"]
            form = AssessForm(initial={"deductible_rate": rate if rate else None})
            initial = [
                {"section": row["name"], "sum_insured": row["limit"]}
                for row in policy_view["limits"]
            ] or [{"sum_insured": claim.policy.sum_insured}]
            formset = AssessItemFormSet(initial=initial, prefix="items")
        preview = None
        cap = services.assessment_cap(claim)
        if posted and form.is_valid() and formset.is_valid():
            items = [item for item in formset if item.used()]
            if not items:
                messages.error(request, gettext("Enter the loss of at least one item."))
            elif "_save" in request.POST:
                try:
                    assessment = services.claim_assess(
                        claim=claim,
                        actor=request.user,
                        items=[_item_arguments(item.cleaned_data) for item in items],
                        deductible_amount=form.cleaned_data["deductible_amount"] or ZERO,
                        deductible_rate=form.cleaned_data["deductible_rate"] or ZERO,
                        recovered=form.cleaned_data["recovered"] or ZERO,
                        other_sums_insured=form.cleaned_data["other_sums_insured"],
                        note=form.cleaned_data["note"],
                    )
                except DomainError as error:
                    messages.error(request, error.message)
                else:
                    messages.success(
                        request,
                        gettext("Assessment of %(number)s saved: CNY %(payable)s payable.")
                        % {"number": claim.number, "payable": money(assessment.payable)},
                    )
                    return redirect(self._change_url(claim))
            else:
                try:
                    result = indemnity.assess(
                        indemnity.EventInput(
                            items=tuple(
                                indemnity.ItemInput(**_item_arguments(item.cleaned_data, raw=True))
                                for item in items
                            ),
                            deductible_amount=form.cleaned_data["deductible_amount"] or ZERO,
                            deductible_rate=form.cleaned_data["deductible_rate"] or ZERO,
                            recovered=form.cleaned_data["recovered"] or ZERO,
                            other_sums_insured=tuple(form.cleaned_data["other_sums_insured"]),
                            remaining_sum_insured=cap,
                        )
                    )
                except indemnity.IndemnityError as error:
                    messages.error(
                        request,
                        gettext("These figures cannot be assessed: %(error)s") % {"error": error},
                    )
                else:
                    preview = assessment_steps(result.to_dict())
        return self._page(
            request,
            claim,
            "admin/claims/claim_assess.html",
            title=_("Assess %(number)s") % {"number": claim.number},
            form=form,
            formset=formset,
            preview=preview,
            cap=cap,
            policy_view=policy_view,
        )

    def decide_view(self, request, object_id):
        def make_form(claim, data):
            return DecideForm(data, exclusions=claim.policy.clause_version.exclusions or [])

        def done(claim, result):
            if result.status == ClaimStatus.REJECTED:
                return gettext(
                    "%(number)s is not covered. The rejection letter is being prepared; it must "
                    "reach the insured within 3 days."
                ) % {"number": claim.number}
            return gettext("%(number)s is covered. Agree the amount next.") % {
                "number": claim.number
            }

        def extra(claim):
            return {"latest_assessment": claim.assessments.order_by("-created_at", "-id").first()}

        return self._action(
            request,
            object_id,
            "decide",
            make_form=make_form,
            call=lambda claim, form: services.claim_decide(
                claim=claim,
                actor=request.user,
                decision=form.cleaned_data["decision"],
                reasons=form.cleaned_data["reasons"],
                clauses=[int(n) for n in form.cleaned_data["clauses"]],
            ),
            done=done,
            title=_("Decide on cover for %(number)s"),
            button=_("Record the decision"),
            intro=_(
                "A rejection needs written reasons and names the exclusions relied on; the "
                "letter to the insured is prepared at once."
            ),
            extra=extra,
        )

    def settle_view(self, request, object_id):
        def latest(claim):
            return claim.assessments.order_by("-created_at", "-id").first()

        def make_form(claim, data):
            assessment = latest(claim)
            return SettleForm(data, initial={"amount": assessment.payable if assessment else None})

        return self._action(
            request,
            object_id,
            "settle",
            make_form=make_form,
            call=lambda claim, form: services.claim_settle(
                claim=claim, actor=request.user, amount=form.cleaned_data["amount"]
            ),
            done=lambda claim, result: (
                gettext("Amount of %(number)s agreed: CNY %(amount)s, to be paid by %(due)s.")
                % {
                    "number": claim.number,
                    "amount": money(result.amount_agreed),
                    "due": statutory.payment_due(result.amount_agreed_on).isoformat(),
                }
            ),
            title=_("Agree the amount of %(number)s"),
            button=_("Agree the amount"),
            intro=_("The settlement letter is prepared and the 10-day payment period starts."),
            extra=lambda claim: {"latest_assessment": latest(claim)},
        )

    def payment_view(self, request, object_id):
        def make_form(claim, data):
            if claim.status == ClaimStatus.SETTLED:
                balance = (claim.amount_agreed or ZERO) - services.paid_on_claim(claim)
                initial = {"kind": ClaimPaymentKind.FINAL, "amount": balance}
            else:
                initial = {"kind": ClaimPaymentKind.ADVANCE}
            return PaymentForm(data, initial=initial)

        return self._action(
            request,
            object_id,
            "payment",
            make_form=make_form,
            call=lambda claim, form: services.claim_payment_record(
                claim=claim,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
                paid_on=form.cleaned_data["paid_on"],
            ),
            done=lambda claim, result: (
                gettext(
                    "Payment of CNY %(amount)s on %(number)s recorded. The policy's remaining sum "
                    "insured is now CNY %(remaining)s."
                )
                % {
                    "amount": money(result.amount),
                    "number": claim.number,
                    "remaining": money(result.remaining_sum_insured_after),
                }
            ),
            title=_("Record a payment on %(number)s"),
            button=_("Record the payment"),
            intro=_(
                "An advance pays the part already determined (Insurance Law art. 25); the final "
                "payment is the balance of the agreed amount. Each payment lowers the policy's "
                "remaining sum insured."
            ),
            extra=lambda claim: {
                "paid_so_far": services.paid_on_claim(claim),
                "advances": services.advances_paid(claim),
            },
        )

    def reopen_view(self, request, object_id):
        return self._action(
            request,
            object_id,
            "reopen",
            make_form=lambda claim, data: ReopenForm(data),
            call=lambda claim, form: services.claim_reopen(
                claim=claim, actor=request.user, reason=form.cleaned_data["reason"]
            ),
            done=lambda claim, result: (
                gettext("%(number)s is back under assessment.") % {"number": claim.number}
            ),
            title=_("Reopen %(number)s"),
            button=_("Reopen the claim"),
            intro=_(
                "New facts after a rejection or a final payment take the claim back to "
                "assessment; the decision clock starts again today."
            ),
        )

    def subrogation_view(self, request, object_id):
        return self._action(
            request,
            object_id,
            "subrogation",
            make_form=lambda claim, data: SubrogationForm(data),
            call=lambda claim, form: services.subrogation_start(
                claim=claim,
                actor=request.user,
                liable_party=form.cleaned_data["liable_party"],
                basis=form.cleaned_data["basis"],
            ),
            done=lambda claim, result: (
                gettext("Subrogation against %(party)s started on %(number)s.")
                % {"party": result.liable_party, "number": claim.number}
            ),
            title=_("Start subrogation on %(number)s"),
            button=_("Start subrogation"),
            intro=_(
                "Having paid, the insurer takes over the insured's rights against the liable "
                "party, as far as it paid (clause art. 33, Insurance Law art. 60)."
            ),
            extra=lambda claim: {
                "sharing": _sharing_view(claim.policy.clause_version.recovery_sharing or {})
            },
        )

    def recovery_view(self, request, object_id):
        return self._action(
            request,
            object_id,
            "recovery",
            make_form=lambda claim, data: RecoveryForm(data),
            call=lambda claim, form: services.recovery_record(
                claim=claim,
                actor=request.user,
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
                received_on=form.cleaned_data["received_on"],
            ),
            done=lambda claim, result: (
                gettext(
                    "Recovery of CNY %(amount)s recorded: CNY %(insurer)s to the insurer, "
                    "CNY %(insured)s to the insured."
                )
                % {
                    "amount": money(result.amount),
                    "insurer": money(result.insurer_part),
                    "insured": money(result.insured_part),
                }
            ),
            title=_("Record a recovery on %(number)s"),
            button=_("Record the recovery"),
            extra=lambda claim: {
                "sharing": _sharing_view(claim.subrogation.sharing),
                "subrogation": claim.subrogation,
            },
        )


def _item_arguments(data: dict, *, raw: bool = False) -> dict:
    """One item of the calculator from a form row: strings for the service, Decimals (as the
    pure calculator wants them) with ``raw``."""
    values = {
        "loss": data["loss"],
        "insured_value": data.get("insured_value"),
        "sum_insured": data["sum_insured"],
        "salvage": data.get("salvage") or ZERO,
        "mitigation_costs": data.get("mitigation_costs") or ZERO,
    }
    if raw:
        return values
    return {key: None if value is None else str(value) for key, value in values.items()}


def _sharing_view(sharing: dict) -> dict:
    method = (sharing or {}).get("method") or RecoverySharing.INSURER_FIRST
    try:
        label = str(RecoverySharing(method).label)
    except ValueError:
        label = method
    percent = (sharing or {}).get("insurer_percent")
    return {
        "method": method,
        "label": label,
        "percent": percent if method == RecoverySharing.PERCENTAGE else None,
    }


# --- Payments and recoveries, to read ---------------------------------------------------------


def _claim_link(claim):
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    return format_html('<a href="{}">{}</a>', url, claim.number)


@admin.register(ClaimPayment)
class ClaimPaymentAdmin(ReadOnlyMixin, HistoryAdmin):
    list_display = [
        "reference",
        "claim_link",
        "kind",
        "amount_display",
        "paid_on",
        "remaining_display",
        "recorded_by",
    ]
    list_filter = ["kind"]
    list_select_related = ["claim", "recorded_by"]
    search_fields = ["reference", "claim__number"]
    ordering = ["-paid_on", "-id"]

    @admin.display(description=_("claim"), ordering="claim__number")
    def claim_link(self, obj):
        return _claim_link(obj.claim)

    @admin.display(description=_("amount (CNY)"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description=_("remaining sum insured after (CNY)"))
    def remaining_display(self, obj):
        return money(obj.remaining_sum_insured_after)


@admin.register(Recovery)
class RecoveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "claim_link",
        "amount_display",
        "insurer_display",
        "insured_display",
        "received_on",
    ]
    list_select_related = ["subrogation__claim"]
    search_fields = ["reference", "subrogation__claim__number"]
    ordering = ["-received_on", "-id"]

    @admin.display(description=_("claim"), ordering="subrogation__claim__number")
    def claim_link(self, obj):
        return _claim_link(obj.subrogation.claim)

    @admin.display(description=_("amount recovered (CNY)"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description=_("to the insurer (CNY)"))
    def insurer_display(self, obj):
        return money(obj.insurer_part)

    @admin.display(description=_("to the insured (CNY)"))
    def insured_display(self, obj):
        return money(obj.insured_part)


# --- Reinstatement of the sum insured ---------------------------------------------------------


@admin.register(Reinstatement)
class ReinstatementAdmin(ReadOnlyMixin, HistoryAdmin):
    list_display = [
        "policy_number",
        "firm_name",
        "amount_display",
        "premium_display",
        "effective_date",
        "status",
        "requested_at",
    ]
    list_filter = ["status"]
    list_select_related = ["policy__firm"]
    search_fields = ["policy__number", "policy__firm__name_zh", "policy__firm__name_en"]
    ordering = ["-requested_at", "-id"]
    change_form_template = "admin/claims/reinstatement_change_form.html"
    readonly_fields = [
        "policy_link",
        "firm_name",
        "amount_display",
        "premium_display",
        "effective_date",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("policy__firm")

    @admin.display(description=_("policy number"), ordering="policy__number")
    def policy_number(self, obj):
        return obj.policy.number or "—"

    @admin.display(description=_("policy"))
    def policy_link(self, obj):
        url = reverse("admin:underwriting_policy_change", args=[obj.policy_id])
        return format_html('<a href="{}">{}</a>', url, obj.policy.number or obj.policy_id)

    @admin.display(description=_("firm"), ordering="policy__firm__name_zh")
    def firm_name(self, obj):
        return obj.policy.firm.name

    @admin.display(description=_("amount to restore (CNY)"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description=_("pro-rata premium (CNY)"), ordering="premium")
    def premium_display(self, obj):
        return money(obj.premium)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(
                {
                    "may_decide": services.may_handle_claims(request.user)
                    and obj.status == ReinstatementStatus.REQUESTED,
                    "decide_url": reverse("admin:claims_reinstatement_decide", args=[obj.pk]),
                    "policy_obj": obj.policy,
                }
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="claims_reinstatement_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, object_id):
        """Approve (the policy's sum insured is restored and the premium falls due) or decline."""
        if not services.may_handle_claims(request.user):
            raise Forbidden
        reinstatement = self.get_object(request, unquote(object_id))
        if reinstatement is None:
            raise Http404
        change_url = reverse("admin:claims_reinstatement_change", args=[reinstatement.pk])
        if reinstatement.status != ReinstatementStatus.REQUESTED:
            messages.warning(request, gettext("This request was already decided."))
            return redirect(change_url)
        if request.method == "POST" and request.POST.get("approve") in ("yes", "no"):
            approve = request.POST["approve"] == "yes"
            try:
                services.reinstatement_decide(
                    reinstatement=reinstatement, actor=request.user, approve=approve
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                params = {
                    "policy": reinstatement.policy.number or "",
                    "amount": money(reinstatement.amount),
                    "premium": money(reinstatement.premium),
                }
                messages.success(
                    request,
                    (
                        gettext(
                            "CNY %(amount)s of cover restored on %(policy)s; a premium of CNY "
                            "%(premium)s falls due."
                        )
                        if approve
                        else gettext("The restoration on %(policy)s was declined.")
                    )
                    % params,
                )
                return redirect(change_url)
        policy = reinstatement.policy
        return TemplateResponse(
            request,
            "admin/claims/reinstatement_decide.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Restore the sum insured of %(policy)s?")
                % {"policy": policy.number or policy.pk},
                "reinstatement": reinstatement,
                "policy": policy,
                "gap": policy.sum_insured - policy.remaining_sum_insured,
                "premium_days": services.REINSTATEMENT_PREMIUM_DAYS,
                "cancel_url": change_url,
            },
        )
