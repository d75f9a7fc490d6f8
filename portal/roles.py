"""Staff groups and how a user's role is decided, in one place."""

from django.utils.translation import gettext_lazy as _

UNDERWRITER = "underwriter"
SENIOR_UNDERWRITER = "senior_underwriter"
CLAIMS_HANDLER = "claims_handler"
# Oversees the handlers: warned with them about claim deadlines, reassigns claims.
CLAIMS_SUPERVISOR = "claims_supervisor"
PRODUCT_MANAGER = "product_manager"

STAFF_GROUPS = {
    UNDERWRITER: _("Underwriter"),
    SENIOR_UNDERWRITER: _("Senior underwriter"),
    CLAIMS_HANDLER: _("Claims handler"),
    CLAIMS_SUPERVISOR: _("Claims supervisor"),
    PRODUCT_MANAGER: _("Product manager"),
}

# Model permissions each group receives; later apps add theirs with ``GROUP_PERMISSIONS[...]``.
GROUP_PERMISSIONS = {
    UNDERWRITER: ["portal.view_firm", "portal.view_ipasset", "portal.view_membership"],
    SENIOR_UNDERWRITER: ["portal.view_firm", "portal.view_ipasset", "portal.view_membership"],
    CLAIMS_HANDLER: ["portal.view_firm", "portal.view_ipasset"],
    CLAIMS_SUPERVISOR: ["portal.view_firm", "portal.view_ipasset"],
    PRODUCT_MANAGER: ["portal.view_firm"],
}


def staff_groups_of(user) -> list[str]:
    if not user.is_authenticated or not user.is_staff:
        return []
    cached = getattr(user, "_staff_group_names", None)
    if cached is None:
        cached = sorted(user.groups.filter(name__in=STAFF_GROUPS).values_list("name", flat=True))
        user._staff_group_names = cached
    return cached


def needs_mfa(user) -> bool:
    """Staff and officers hold other people's data and money: they must use a second factor."""
    return user.is_authenticated and (user.is_staff or user.is_superuser or user.is_officer)
