"""The applicant's policies, under /app/policies/: the list, a policy with its next step, terms,
instalments and acknowledged exclusions, paying through the payment provider (the sandbox by
default), the policy document; and the public check of a policy, /verify/.

Reads go through ``underwriting.selectors_app`` (another firm's policy answers 404), writes
through ``underwriting.services`` and ``underwriting.payments``.
"""

from datetime import datetime

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.choices import AssetKind
from portal.errors import DomainError
from underwriting import selectors_app, services
from underwriting.choices import DocumentStatus, InstalmentStatus, PolicyStatus
from underwriting.forms_app import PolicyVerifyForm
from underwriting.models import pick_language
from underwriting.payments import SandboxProvider, payment_provider
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
    "clause": _lazy("Main clause"),
    "rider": _lazy("Rider"),
    "special": _lazy("Special term of this quote"),
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
    }
    return render(request, "underwriting/policies/detail.html", context)


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
    "valid": _lazy("Valid"),
    "not_started": _lazy("Cover not yet started"),
    "expired": _lazy("Expired"),
    "cancelled": _lazy("Cancelled"),
    "lapsed": _lazy("Lapsed for non-payment"),
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
