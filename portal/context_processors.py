from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal.models import Notification
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
        # One COUNT on the inbox index, only for a signed-in user and only if a template asks.
        if user is None or not user.is_authenticated:
            return 0
        return Notification.objects.filter(user=user, read_at__isnull=True).count()

    return {
        "nav_memberships": SimpleLazyObject(memberships),
        "nav_staff_roles": SimpleLazyObject(staff_roles),
        "nav_unread_notifications": SimpleLazyObject(unread_notifications),
        "DEV_OUTBOX_ENABLED": settings.DEBUG,
    }
