from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal.roles import STAFF_GROUPS, staff_groups_of


def navigation(request):
    """What the navigation bar needs to fit the user's role, evaluated only when a template asks."""
    user = getattr(request, "user", None)

    def memberships():
        return getattr(request, "memberships", [])

    def staff_roles():
        if user is None:
            return []
        return [STAFF_GROUPS[name] for name in staff_groups_of(user)]

    return {
        "nav_memberships": SimpleLazyObject(memberships),
        "nav_staff_roles": SimpleLazyObject(staff_roles),
        "DEV_OUTBOX_ENABLED": settings.DEBUG,
    }
