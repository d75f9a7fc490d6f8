import time

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import selectors, services
from portal.api import error_json
from portal.choices import AssetKind, Qualification
from portal.converters import MAX_ID
from portal.errors import DomainError
from portal.forms import FirmForm, InvitationForm, IPAssetForm
from portal.models import Invitation, IPAsset, Membership, Notification, OutboxEmail
from portal.notifications import mark_read

# --- Decorators ---------------------------------------------------------------------------------


def applicant_required(view):
    """Logged in and working for a firm; without a firm the user is asked to register one."""

    @login_required
    def wrapped(request, *args, **kwargs):
        if request.firm is None:
            messages.info(
                request, _("Register your firm first: everything you do here is for a firm.")
            )
            return redirect("portal:firm_register")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def owner_required(view):
    @applicant_required
    def wrapped(request, *args, **kwargs):
        if not request.membership.is_owner:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped


def _safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    # Only a path of this site: redirect() would take a bare word such as "0" for a view name
    # and fail with a server error.
    if (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return fallback


# --- Public ---------------------------------------------------------------------------------------


def home(request):
    return render(request, "portal/home.html")


@never_cache
@require_GET
def healthz(request):
    """Operators' view of the three things the portal needs: database, broker and a worker."""
    from portal.celery import app as celery_app

    report = {}
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        report["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        report["database"] = {"ok": False, "error": str(error)[:200]}
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        report["broker"] = {"ok": True, "transport": str(transport)}
    except Exception as error:  # noqa: BLE001
        report["broker"] = {"ok": False, "error": str(error)[:200]}
    if report["broker"]["ok"]:
        try:
            replies = celery_app.control.ping(timeout=settings.HEALTHZ_WORKER_TIMEOUT, limit=1)
            workers = sorted(name for reply in replies for name in reply)
            report["worker"] = {"ok": bool(workers), "workers": workers}
        except Exception as error:  # noqa: BLE001
            report["worker"] = {"ok": False, "error": str(error)[:200]}
    else:
        report["worker"] = {"ok": False, "error": "broker unreachable"}
    healthy = all(part["ok"] for part in report.values())
    report["status"] = "ok" if healthy else "degraded"
    report["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return JsonResponse(report, status=200 if healthy else 503)


def dev_outbox(request):
    """Development mail viewer: sign-up confirmations, resets and invitations land here."""
    if not settings.DEBUG:
        raise Http404
    emails = OutboxEmail.objects.all()[:50]
    return render(request, "portal/dev_outbox.html", {"emails": emails})


# --- Dashboard and firm -----------------------------------------------------------------------


@login_required
def dashboard(request):
    if request.user.is_officer and request.firm is None:
        return redirect("officer:home")
    if request.user.is_staff and request.firm is None:
        return redirect("admin:index")
    invitations = list(selectors.invitations_for(request.user))
    if request.firm is None:
        return render(request, "portal/dashboard_no_firm.html", {"invitations": invitations})
    counts = selectors.asset_counts_by_kind(request.firm)
    asset_rows = [(kind, counts.get(kind.value, 0)) for kind in AssetKind]
    expiring = (
        selectors.ip_assets_of_firm(request.firm)
        .filter(expiry_date__isnull=False)
        .only("id", "number", "title", "expiry_date")
        .order_by("expiry_date")[:5]
    )
    tasks = []
    if not counts:
        tasks.append(
            {
                "text": _("List your firm's IP rights so that you can insure them."),
                "url": reverse("portal:asset_list"),
                "action": _("Add IP assets"),
            }
        )
    for invitation in invitations:
        tasks.append(
            {
                "text": _("%(firm)s invited you to join.") % {"firm": invitation.firm},
                "url": reverse("portal:invitation_accept", args=[invitation.token]),
                "action": _("Review invitation"),
            }
        )
    applications = _recent_applications(request.firm)
    for application in applications:
        if application.status == "info_requested":
            tasks.append(
                {
                    "text": _("The underwriter has a question about %(reference)s.")
                    % {"reference": application.reference},
                    "url": reverse("applications:detail", args=[application.pk]) + "#questions",
                    "action": _("Answer"),
                }
            )
        elif application.status == "quoted":
            tasks.append(
                {
                    "text": _("Your quote for %(reference)s is ready.")
                    % {"reference": application.reference},
                    "url": reverse("applications:detail", args=[application.pk]) + "#quote",
                    "action": _("See the quote"),
                }
            )
    return render(
        request,
        "portal/dashboard.html",
        {
            "asset_rows": asset_rows,
            "asset_total": sum(counts.values()),
            "expiring": expiring,
            "tasks": tasks,
            "applications": applications,
        },
    )


def _recent_applications(firm, limit: int = 5) -> list:
    """The firm's latest applications for the dashboard card. Looked up by name: the shared
    kernel does not import the underwriting app."""
    application_model = apps.get_model("underwriting", "Application")
    return list(
        application_model.objects.filter(firm=firm)
        .select_related("product")
        # A row shows the reference, product and status: not the kilobytes of answers and
        # snapshots an application carries.
        .only("id", "status", "created_at", "updated_at", "product__name_zh", "product__name_en")
        .order_by("-updated_at", "-id")[:limit]
    )


# --- Notifications ------------------------------------------------------------------------------


def _internal_link(url: str) -> str:
    """A notification's link, only when it points inside the portal."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The user's notifications, newest first; a POST marks them all read."""
    if request.method == "POST":
        marked = mark_read(user=request.user)
        if marked:
            messages.success(request, _("All notifications are marked as read."))
        return redirect("portal:notifications")
    rows = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    for notification in page.object_list:
        notification.link = _internal_link(notification.url)
    return render(request, "portal/notifications.html", {"page": page})


@login_required
def firm_register(request):
    form = FirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            firm = services.firm_register(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            services.active_firm_set(request=request, firm_id=firm.pk)
            messages.success(request, _("Firm registered. You are its owner."))
            return redirect("portal:dashboard")
    return render(request, "portal/firm_form.html", {"form": form, "creating": True})


@applicant_required
def firm_detail(request):
    firm = request.firm
    return render(
        request,
        "portal/firm_detail.html",
        {
            "firm": firm,
            "qualification_labels": [
                Qualification(code).label
                for code in firm.qualifications
                if code in Qualification.values
            ],
            "members": selectors.firm_members(firm),
            "invitations": selectors.open_invitations(firm) if request.membership.is_owner else [],
            "invite_form": InvitationForm(),
            "is_owner": request.membership.is_owner,
        },
    )


@owner_required
def firm_edit(request):
    firm = request.firm
    form = FirmForm(request.POST or None, instance=firm)
    if request.method == "POST" and form.is_valid():
        try:
            services.firm_update(firm=firm, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Firm details saved."))
            return redirect("portal:firm_detail")
    return render(request, "portal/firm_form.html", {"form": form, "creating": False})


@require_POST
@owner_required
def firm_invite(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                firm=request.firm, actor=request.user, **form.cleaned_data
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("portal:firm_detail")


@require_POST
@owner_required
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk, firm=request.firm)
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, _("Invitation withdrawn."))
    return redirect("portal:firm_detail")


@require_POST
@owner_required
def member_remove(request, pk):
    membership = get_object_or_404(Membership, pk=pk, firm=request.firm)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Member removed."))
    return redirect("portal:firm_detail")


@require_POST
@login_required
def firm_switch(request):
    try:
        firm_id = int(request.POST.get("firm", 0))
        if not 0 < firm_id <= MAX_ID:  # beyond a database integer the query itself would fail
            raise ValueError(firm_id)
        firm = services.active_firm_set(request=request, firm_id=firm_id)
    except (DomainError, ValueError):
        raise Http404 from None
    messages.success(request, _("You are now working for %(firm)s.") % {"firm": firm})
    return redirect(_safe_next(request, reverse("portal:dashboard")))


@login_required
def invitation_accept(request, token):
    invitation = Invitation.objects.select_related("firm", "invited_by").filter(token=token).first()
    if invitation is None:
        raise Http404
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            services.active_firm_set(request=request, firm_id=membership.firm_id)
            messages.success(request, _("You joined %(firm)s.") % {"firm": membership.firm})
            return redirect("portal:dashboard")
    return render(request, "portal/invitation_accept.html", {"invitation": invitation})


# --- IP assets ------------------------------------------------------------------------------------


@applicant_required
def asset_list(request):
    kind = request.GET.get("kind") or None
    if kind not in AssetKind.values:
        kind = None
    query = (request.GET.get("q") or "").strip()[:100]
    assets = selectors.ip_assets_of_firm(request.firm, kind=kind, query=query)
    page = Paginator(assets, 25).get_page(request.GET.get("page"))
    template = "portal/assets/_table.html" if request.htmx else "portal/assets/list.html"
    return render(
        request,
        template,
        {"page": page, "kind": kind, "query": query, "kinds": AssetKind.choices},
    )


@applicant_required
def asset_create(request, kind):
    if kind not in AssetKind.values:
        raise Http404
    form = IPAssetForm(
        request.POST or None, kind=kind, instance=IPAsset(firm=request.firm, kind=kind)
    )
    if request.method == "POST" and form.is_valid():
        try:
            asset = services.ip_asset_create(
                firm=request.firm, actor=request.user, kind=kind, **form.cleaned_data
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Saved: %(asset)s") % {"asset": asset})
            return redirect("portal:asset_detail", pk=asset.pk)
    return render(
        request,
        "portal/assets/form.html",
        {"form": form, "kind_label": AssetKind(kind).label, "creating": True},
    )


@applicant_required
def asset_detail(request, pk):
    asset = selectors.ip_asset_for_user(request.user, pk)
    return render(request, "portal/assets/detail.html", {"asset": asset})


@applicant_required
def asset_edit(request, pk):
    asset = selectors.ip_asset_for_user(request.user, pk)
    form = IPAssetForm(request.POST or None, kind=asset.kind, instance=asset)
    if request.method == "POST" and form.is_valid():
        fresh = selectors.ip_asset_for_user(request.user, pk)
        try:
            services.ip_asset_update(asset=fresh, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("portal:asset_detail", pk=pk)
    return render(
        request,
        "portal/assets/form.html",
        {"form": form, "asset": asset, "kind_label": asset.get_kind_display(), "creating": False},
    )


@require_POST
@applicant_required
def asset_delete(request, pk):
    asset = selectors.ip_asset_for_user(request.user, pk)
    services.ip_asset_delete(asset=asset, actor=request.user)
    messages.success(request, _("Deleted: %(asset)s") % {"asset": asset})
    return redirect("portal:asset_list")


# --- Error pages ------------------------------------------------------------------------------


def error_400(request, exception=None):
    # Django answers here for requests it refuses before any view runs (too many fields, a
    # suspicious header); under /api/ that answer keeps the API's error shape.
    from django.views.defaults import bad_request

    return error_json(request, 400) or bad_request(request, exception)


def error_403(request, exception=None):
    return error_json(request, 403) or render(request, "403.html", status=403)


def error_404(request, exception=None):
    return error_json(request, 404) or render(request, "404.html", status=404)


def error_500(request):
    return error_json(request, 500) or render(request, "500.html", status=500)


def robots_txt(request):
    lines = ["User-agent: *", "Disallow: /app/", "Disallow: /officer/", "Disallow: /admin/"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
