from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal.notifications import unread_count
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

    def unread_notifications():
        # Only for a signed-in user and only if a template asks; kept in the cache.
        if user is None or not user.is_authenticated:
            return 0
        return unread_count(user)

    return {
        "nav_memberships": SimpleLazyObject(memberships),
        "nav_staff_roles": SimpleLazyObject(staff_roles),
        "nav_unread_notifications": SimpleLazyObject(unread_notifications),
        "DEV_OUTBOX_ENABLED": settings.DEBUG,
    }
