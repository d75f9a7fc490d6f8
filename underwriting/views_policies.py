"""The applicant's policies, under /app/policies/: the list, a policy with its next step, terms,
instalments and acknowledged exclusions, paying through the payment provider (the sandbox by
default), the policy document, cancelling (with the refund explained first) and renewing; and the
public check of a policy, /verify/.

Reads go through ``underwriting.selectors_app`` (another firm's policy answers 404), writes
through ``underwriting.services`` and ``underwriting.payments``.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from allauth.account.adapter import get_adapter
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.choices import AssetKind
from portal.errors import DomainError
from underwriting import refunds, selectors_app, services
from underwriting.choices import (
    ApplicationStatus,
    CancellationParty,
    DocumentStatus,
    InstalmentStatus,
    PolicyStatus,
)
from underwriting.forms_app import PolicyVerifyForm
from underwriting.models import Cancellation, Policy, pick_language
from underwriting.payments import SandboxProvider, payment_provider
from underwriting.services.applications import STEP_COVER
from underwriting.services.policies import CANCELLABLE, RENEWAL_REMINDER_DAYS
from underwriting.views_app import _deductible_label, _section_names, firm_member_required

PAGE_SIZE = 25
DASHBOARD_ROWS = 5
PAYABLE = {PolicyStatus.AWAITING_PAYMENT, PolicyStatus.ISSUED, PolicyStatus.IN_FORCE}


def _annotate(policy):
    """The next instalment due and the current document, from the prefetched lists."""
    due = getattr(policy, "due_instalments", None) or []
    documents = getattr(policy, "current_documents", None) or []
    policy.next_due = due[0] if due and policy.status in PAYABLE else None
    policy.document = documents[0] if documents else None
    return policy


# --- List and dashboard card ------------------------------------------------------------------


@firm_member_required
@require_GET
def policy_list(request):
    page = Paginator(selectors_app.policies_of_firm(request.firm), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for policy in page.object_list:
        _annotate(policy)
    return render(request, "underwriting/policies/list.html", {"page": page})


@login_required
@require_GET
def dashboard_card(request):
    """The dashboard's policies card, loaded into the dashboard by htmx."""
    if request.firm is None:
        return HttpResponse("")
    policies = [
        _annotate(policy)
        for policy in selectors_app.policies_of_firm(request.firm)[: DASHBOARD_ROWS + 1]
    ]
    return render(
        request,
        "underwriting/policies/_dashboard_card.html",
        {"policies": policies[:DASHBOARD_ROWS], "more": len(policies) > DASHBOARD_ROWS},
    )


# --- Detail -----------------------------------------------------------------------------------


def _terms(policy) -> dict:
    """The policy's terms as frozen at binding, with names in the active language."""
    terms = policy.terms or {}
    version = policy.clause_version
    sections = _section_names(version)
    riders = selectors_app.riders_by_code(terms.get("riders") or [])
    insured = []
    for entry in terms.get("insured") or []:
        try:
            kind = AssetKind(entry.get("kind")).label
        except ValueError:
            kind = entry.get("kind") or ""
        insured.append({"kind": kind, "number": entry.get("number"), "title": entry.get("title")})
    return {
        "insured": insured,
        "limits": [
            {"name": sections.get(code, code), "amount": value}
            for code, value in (terms.get("limits") or {}).items()
        ],
        "deductible": _deductible_label(version, terms.get("deductible") or ""),
        "riders": [
            riders[code].name if code in riders else code for code in terms.get("riders") or []
        ],
        "insurers": [
            {"name": pick_language(entry), "share": entry.get("share")}
            for entry in terms.get("insurers") or []
        ],
    }


SOURCE_KINDS = {
    "clause": gettext_lazy("Main clause"),
    "rider": gettext_lazy("Rider"),
    "special": gettext_lazy("Special term of this quote"),
}


def _exclusions(policy) -> list[dict]:
    """The exclusions of the terms with the time each was ticked."""
    ticks = {item.get("key"): item.get("ticked_at") for item in policy.acknowledgement.items or []}
    rows = []
    for entry in (policy.terms or {}).get("exclusions") or []:
        key = entry.get("key") or ""
        rows.append(
            {
                "key": key,
                "kind_label": SOURCE_KINDS.get(key.split("-", 1)[0], ""),
                "source": pick_language(entry.get("source")),
                "title": pick_language(entry.get("title")),
                "text": pick_language(entry.get("text")),
                "explanation": pick_language(entry.get("explanation")),
                "ticked_at": _parse_time(ticks.get(key)),
            }
        )
    return rows


def _parse_time(value):
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@login_required
@require_GET
def policy_detail(request, pk):
    policy = _annotate(selectors_app.policy_for_user(request.user, pk))
    acknowledgement = policy.acknowledgement
    context = {
        "policy": policy,
        "terms": _terms(policy),
        "instalments": list(policy.instalments.all()),
        "documents": [d for d in policy.documents.all() if d.status == DocumentStatus.READY],
        "exclusions": _exclusions(policy),
        "acknowledgement": acknowledgement,
        "acknowledged_by": acknowledgement.user.full_name or acknowledgement.user.email,
        "can_pay": policy.next_due is not None,
        "provider_is_sandbox": payment_provider().code == SandboxProvider.code,
        **_life(policy, timezone.localdate()),
    }
    return render(request, "underwriting/policies/detail.html", context)


# --- Cancelling and renewing ------------------------------------------------------------------

# A renewal application in one of these states is over: the policy may be renewed again.
RENEWAL_OVER = (ApplicationStatus.DECLINED, ApplicationStatus.WITHDRAWN, ApplicationStatus.EXPIRED)


def _cancellation(policy):
    try:
        return policy.cancellation
    except Cancellation.DoesNotExist:
        return None


def _renewal_under_way(policy):
    return policy.renewals.exclude(status__in=RENEWAL_OVER).order_by("-created_at", "-pk").first()


def _renewal_opens(policy):
    """The first day the Renew button is offered: RENEWAL_REMINDER_DAYS before the end, the day
    the renewal reminder goes out."""
    return policy.end_date - timedelta(days=RENEWAL_REMINDER_DAYS)


def _may_cancel(policy, cancellation) -> bool:
    return policy.status in CANCELLABLE and cancellation is None


def _may_renew(policy, cancellation, renewal, today) -> bool:
    """Expired policies any time; issued or in-force ones from the renewal reminder on (a month
    before the end), not while a cancellation is pending, and never twice at once."""
    if renewal is not None or cancellation is not None:
        return False
    if policy.status == PolicyStatus.EXPIRED:
        return True
    return policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE) and (
        today >= _renewal_opens(policy)
    )


def _life(policy, today) -> dict:
    """What the policy page shows about cancelling and renewing."""
    cancellation = _cancellation(policy)
    renewal = _renewal_under_way(policy)
    may_renew = _may_renew(policy, cancellation, renewal, today)
    return {
        "cancellation": cancellation,
        "cancellation_owed": (
            _decimal(cancellation.explanation.get("amount_owed") or 0) if cancellation else None
        ),
        "can_cancel": _may_cancel(policy, cancellation),
        "renewal": renewal,
        "can_renew": may_renew,
        # An issued or in-force policy that will become renewable: when.
        "renewal_opens": (
            _renewal_opens(policy)
            if not may_renew
            and renewal is None
            and cancellation is None
            and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
            else None
        ),
    }


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except (ArithmeticError, ValueError):
        return Decimal("0.00")


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control", "maxlength": 1000}),
    )
    understand = forms.BooleanField(
        label=gettext_lazy("I understand the cover ends today."),
        error_messages={
            "required": gettext_lazy(
                "Tick the box to confirm that you understand what cancelling means."
            )
        },
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    # The figures the page showed: if they changed before the POST (midnight passed, a payment
    # arrived), the new ones are shown again instead of cancelling on figures nobody saw.
    figures = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, figures: str, before_start: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected_figures = figures
        self.fields["figures"].initial = figures
        if before_start:
            self.fields["understand"].label = _(
                "I understand the policy ends today and its cover will not start."
            )

    def clean(self):
        data = super().clean()
        if self.is_bound and data.get("figures") != self.expected_figures:
            raise forms.ValidationError(
                _("The figures changed since the page was opened. Check them again."),
                code="figures",
            )
        return data


def _figures_key(quote: dict) -> str:
    return "|".join(
        str(quote[key]) for key in ("effective_date", "kept", "paid", "refund", "amount_owed")
    )


def _short_rate_rows(policy, quote: dict) -> list[dict]:
    """The clause's short-period table, month by month, the month of this cancellation marked."""
    table = policy.clause_version.short_rate_table or refunds.STANDARD_SHORT_RATE_TABLE
    current = quote.get("months_on_risk")
    return [
        {"month": month, "percent": percent, "current": month == current}
        for month, percent in enumerate(table, start=1)
    ]


def _quote_context(policy, quote: dict) -> dict:
    money = {
        key: _decimal(quote[key])
        for key in ("premium", "kept", "computed_refund", "paid", "refund", "amount_owed")
    }
    return {
        "quote": quote,
        "figures": money,
        "effective_date": datetime.fromisoformat(quote["effective_date"]).date(),
        "before_start": quote["basis"] == "before_start",
        "never_in_effect": quote["basis"] == "never_in_effect",
        "short_rate_rows": _short_rate_rows(policy, quote)
        if quote["basis"] == "short_rate"
        else [],
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def policy_cancel(request, pk):
    """What the policyholder gets back if the policy is cancelled today, then the cancellation
    itself (POST, with the box ticked). GET changes nothing."""
    policy = selectors_app.policy_for_user(request.user, pk)
    if not _may_cancel(policy, _cancellation(policy)):
        messages.info(request, _("This policy can no longer be cancelled."))
        return redirect("policies:detail", pk=policy.pk)
    quote = services.cancellation_quote(
        policy, by=CancellationParty.POLICYHOLDER, effective_date=timezone.localdate()
    )
    form = CancelForm(
        request.POST if request.method == "POST" else None,
        figures=_figures_key(quote),
        before_start=quote["basis"] in ("before_start", "never_in_effect"),
    )
    if request.method == "POST" and form.is_valid():
        try:
            cancellation = services.policy_cancel(
                policy=policy,
                actor=request.user,
                by=CancellationParty.POLICYHOLDER,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("policies:detail", pk=policy.pk)
        messages.success(
            request,
            _("The policy was cancelled with effect from %(date)s. Refund: CNY %(refund)s.")
            % {
                "date": cancellation.effective_date.isoformat(),
                "refund": f"{cancellation.refund:,.2f}",
            },
        )
        return redirect("policies:detail", pk=policy.pk)
    context = {"policy": policy, "form": form, **_quote_context(policy, quote)}
    return render(request, "underwriting/policies/cancel.html", context)


@login_required
@require_POST
def policy_renew(request, pk):
    """Start the renewal: a new draft application prefilled from this policy, opened at its
    first step so that every answer is checked before it is submitted."""
    policy = selectors_app.policy_for_user(request.user, pk)
    today = timezone.localdate()
    cancellation = _cancellation(policy)
    renewal = _renewal_under_way(policy)
    if renewal is not None:
        messages.info(request, _("A renewal of this policy is already under way."))
        return redirect("policies:detail", pk=policy.pk)
    if not _may_renew(policy, cancellation, renewal, today):
        if cancellation is None and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE):
            messages.info(
                request,
                _("This policy can be renewed from %(date)s.")
                % {"date": _renewal_opens(policy).isoformat()},
            )
        else:
            messages.error(request, _("This policy cannot be renewed."))
        return redirect("policies:detail", pk=policy.pk)
    try:
        with transaction.atomic():
            # Two clicks at once: the second waits for the first and then finds its renewal
            # (the service checks for one under way but does not lock the policy).
            Policy.objects.select_for_update().filter(pk=policy.pk).first()
            application = services.policy_renew(policy=policy, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("policies:detail", pk=policy.pk)
    messages.success(
        request,
        _(
            "The answers of policy %(number)s were copied into a new application. Check every "
            "step and correct what has changed, then submit it for a new quote."
        )
        % {"number": policy.number},
    )
    return redirect(reverse("applications:step", kwargs={"pk": application.pk, "key": STEP_COVER}))


# --- Paying -----------------------------------------------------------------------------------


@login_required
@require_POST
def policy_pay(request, pk):
    """Start paying the next instalment due with the configured provider."""
    policy = _annotate(selectors_app.policy_for_user(request.user, pk))
    if policy.next_due is None:
        messages.info(request, _("Nothing is due on this policy."))
        return redirect("policies:detail", pk=policy.pk)
    return redirect(payment_provider().start(policy.next_due, request))


def _sandbox():
    provider = payment_provider()
    if not isinstance(provider, SandboxProvider):
        raise Http404  # the sandbox page exists only while the sandbox is the provider
    return provider


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def sandbox_pay(request, pk):
    """The sandbox provider's payment page: a demonstration, nothing is charged."""
    provider = _sandbox()
    policy = selectors_app.policy_for_user(request.user, pk)
    reference = (request.POST.get("ref") if request.method == "POST" else None) or request.GET.get(
        "ref", ""
    )
    try:
        instalment = provider.instalment_of(reference, policy=policy)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("policies:detail", pk=policy.pk)
    if request.method == "GET":
        if instalment.status != InstalmentStatus.DUE:
            messages.info(request, _("This instalment is already paid."))
            return redirect("policies:detail", pk=policy.pk)
        return render(
            request,
            "underwriting/policies/sandbox_pay.html",
            {"policy": policy, "instalment": instalment, "reference": reference},
        )
    if request.POST.get("action") != "pay":
        messages.info(request, _("The payment was cancelled. Nothing was charged."))
        return redirect("policies:detail", pk=policy.pk)
    try:
        payment = provider.complete(reference, policy=policy)
    except DomainError as error:
        if error.code in ("dup", "paid"):
            messages.info(
                request,
                _("This payment was already made. Nothing was charged or booked a second time."),
            )
        else:
            messages.error(request, error.message)
        return redirect("policies:detail", pk=policy.pk)
    policy.refresh_from_db(fields=["number", "status"])
    if policy.number and payment.instalment and payment.instalment.sequence == 1:
        messages.success(
            request,
            _("Thank you. Your payment was received and policy %(number)s is issued.")
            % {"number": policy.number},
        )
    else:
        messages.success(
            request,
            _("Thank you. Your payment of CNY %(amount)s was received.")
            % {"amount": f"{payment.amount:,.2f}"},
        )
    return redirect("policies:detail", pk=policy.pk)


# --- The policy document ----------------------------------------------------------------------


@login_required
@require_GET
def policy_document(request, pk, document_pk):
    """A ready policy document, only for members of the firm, always as a download."""
    document = selectors_app.policy_document_for_user(request.user, pk, document_pk)
    if not document.file:
        raise Http404
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    policy = document.policy
    name = policy.number or f"policy-{policy.pk}"
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{name}-v{document.version}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Public verification ----------------------------------------------------------------------

VERIFY_PUBLIC_STATUS = {
    "valid": gettext_lazy("Valid"),
    "not_started": gettext_lazy("Cover not yet started"),
    "expired": gettext_lazy("Expired"),
    "cancelled": gettext_lazy("Cancelled"),
    "lapsed": gettext_lazy("Lapsed for non-payment"),
}


def _public_status(policy, today) -> str:
    if policy.status == PolicyStatus.CANCELLED:
        return "cancelled"
    if policy.status == PolicyStatus.LAPSED:
        return "lapsed"
    if policy.status == PolicyStatus.EXPIRED or policy.end_date < today:
        return "expired"
    if policy.start_date > today:
        return "not_started"
    # Issued or in force within the period (the nightly roll may not have run yet today).
    return "valid"


def _client_address(request) -> str:
    """The client's address as the login rate limit sees it (allauth's adapter: the connection's
    own address unless trusted proxies are configured for allauth)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address at all: such requests share one counter
        return "unknown"


def _verify_allowed(request) -> bool:
    """A cheap per-address counter: at most POLICY_VERIFY_MAX_ATTEMPTS look-ups per window.

    The project's only rate limiter is allauth's, whose rates come from ACCOUNT_RATE_LIMITS for
    allauth's own actions (a new action would need a settings change), so this page counts for
    itself in the cache, per client address as allauth determines it."""
    limit = int(getattr(settings, "POLICY_VERIFY_MAX_ATTEMPTS", 20))
    window = int(getattr(settings, "POLICY_VERIFY_WINDOW_SECONDS", 600))
    key = f"policy-verify:{_client_address(request)}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return count <= limit


@never_cache
@require_http_methods(["GET", "POST"])
def policy_verify_page(request):
    """Anyone may check that a policy exists and is valid, with its number and verification
    code (printed on the policy, linked from its QR code). Only the product, the status, the
    period and the insured firm's name are shown; any mismatch gets the same answer."""
    data = request.POST if request.method == "POST" else request.GET
    asked = bool(data.get("number") or data.get("code"))
    form = PolicyVerifyForm(data if asked else None)
    context = {"form": form, "asked": False, "policy": None}
    status = 200
    if asked and form.is_valid():
        if not _verify_allowed(request):
            context["limited"] = True
            status = 429
        else:
            context["asked"] = True
            policy = services.policy_verify(form.cleaned_data["number"], form.cleaned_data["code"])
            if policy is not None:
                public = _public_status(policy, timezone.localdate())
                context["policy"] = {
                    "number": policy.number,
                    "product": policy.product.name,
                    "status": public,
                    "status_label": VERIFY_PUBLIC_STATUS[public],
                    "start_date": policy.start_date,
                    "end_date": policy.end_date,
                    "firm": policy.firm.name,
                }
    return render(request, "underwriting/verify.html", context, status=status)
