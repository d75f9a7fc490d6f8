"""Reads of the shared kernel, already scoped to the user who asks."""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404

from portal.models import Firm, Invitation, IPAsset, Membership


def memberships_of(user):
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("firm").order_by("created_at", "id")


def firms_of(user):
    if not user.is_authenticated:
        return Firm.objects.none()
    return Firm.objects.filter(memberships__user=user)


def ip_assets_visible_to(user):
    """Every asset of every firm the user belongs to; other firms' assets do not exist for them."""
    if not user.is_authenticated:
        return IPAsset.objects.none()
    return IPAsset.objects.filter(firm__memberships__user=user).select_related("firm")


def ip_assets_of_firm(firm, *, kind=None, query=None):
    assets = IPAsset.objects.filter(firm=firm)
    if kind:
        assets = assets.filter(kind=kind)
    if query:
        assets = assets.filter(Q(number__icontains=query) | Q(title__icontains=query))
    return assets.order_by("kind", "-created_at", "-id")


def ip_asset_for_user(user, pk):
    return get_object_or_404(ip_assets_visible_to(user), pk=pk)


def asset_counts_by_kind(firm) -> dict[str, int]:
    rows = IPAsset.objects.filter(firm=firm).values("kind").annotate(n=Count("id"))
    return {row["kind"]: row["n"] for row in rows}


def firm_members(firm):
    return (
        Membership.objects.filter(firm=firm).select_related("user").order_by("role", "user__email")
    )


def firm_users(firm) -> list:
    """Everyone who acts for the firm: the people a notice about its business goes to."""
    return [membership.user for membership in firm_members(firm)]


def open_invitations(firm):
    return (
        Invitation.objects.filter(firm=firm, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def invitations_for(user):
    return Invitation.objects.filter(
        email__iexact=user.email, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("firm", "invited_by")
