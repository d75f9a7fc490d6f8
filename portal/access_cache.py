"""What a signed-in staff member may do, kept in the cache between requests.

Every admin page asks for the user's permissions (two queries: their own and their groups') and
the MFA middleware asks whether they have an authenticator (one more). Both change seldom and
only through the admin or the account pages, so both are kept:

- permissions under a version that any change of a user's groups or permissions, of a group's
  permissions, or of a group or permission itself replaces — at once and again on commit, so
  a page read before the commit cannot keep the old set — and per user and superuser flag
  (``is_active`` is checked before the cache, as Django's own backend does);
- whether a user has a TOTP authenticator, forgotten when one of theirs is saved or deleted;
- that a user is no officer (every request asks, for the MFA rule and the navigation), forgotten
  when an officer membership of theirs is saved or deleted. An officer's membership itself is
  always read: their pages need its authority;
- that a user belongs to no firm (every request outside the admin asks, for the active firm):
  officers, most staff and a new account before it registers its firm; forgotten when a firm
  membership of theirs is saved or deleted. A member's memberships are always read.

Entries also expire on their own. A cache that cannot be reached costs only the queries.
"""

from django.contrib.auth.backends import ModelBackend

from portal import quiet_cache

ENTRY_SECONDS = 300
PERMISSIONS_VERSION_KEY = "access:permissions-version"


def _get(key: str | None):
    return quiet_cache.get(key, purpose="access")


def _put(key: str, value) -> None:
    quiet_cache.put(key, value, ENTRY_SECONDS, purpose="access")


def _forget_now_and_on_commit(*keys: str) -> None:
    quiet_cache.forget_now_and_on_commit(*keys, purpose="access")


# --- Permissions ------------------------------------------------------------------------------


def _permissions_key(user) -> str | None:
    version = quiet_cache.version(PERMISSIONS_VERSION_KEY, purpose="access")
    if version is None:
        return None
    return f"access:permissions:{version}:{user.pk}:{int(user.is_superuser)}"


def permissions_changed(**_signal_arguments) -> None:
    """Starts a new permissions version: every user's set is read again."""
    _forget_now_and_on_commit(PERMISSIONS_VERSION_KEY)


class CachedPermissionsBackend(ModelBackend):
    """Django's model backend with the set of a user's permissions kept between requests. It
    only answers for permissions: signing in stays with the backends after it, so sessions name
    those, and a password is never checked twice."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = _permissions_key(user_obj)
            kept = _get(key) if key else None
            if kept is None:
                kept = super().get_all_permissions(user_obj)
                if key:
                    _put(key, kept)
            user_obj._perm_cache = set(kept)
        return user_obj._perm_cache


# --- Authenticators ---------------------------------------------------------------------------


def _totp_key(user_id) -> str:
    return f"access:has-totp:{user_id}"


def has_totp(user) -> bool:
    """Whether the user has a TOTP authenticator; remembered on the user for the request and
    in the cache between requests."""
    known = getattr(user, "_has_totp", None)
    if known is not None:
        return known
    known = _get(_totp_key(user.pk))
    if known is None:
        from allauth.mfa.models import Authenticator

        known = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        _put(_totp_key(user.pk), known)
    user._has_totp = known
    return known


def authenticator_changed(instance, **_signal_arguments) -> None:
    _forget_now_and_on_commit(_totp_key(instance.user_id))


# --- Officers and firms -----------------------------------------------------------------------


class _KeptAbsence:
    """That a user has none of something (an officer membership, a firm membership), kept until
    one of theirs is saved or deleted (the signals in portal/signals.py call ``changed``)."""

    def __init__(self, name: str):
        self.name = name

    def _key(self, user_id) -> str:
        return f"access:{self.name}:{user_id}"

    def known(self, user_id) -> bool:
        return bool(_get(self._key(user_id)))

    def remember(self, user_id) -> None:
        _put(self._key(user_id), True)

    def changed(self, instance, **_signal_arguments) -> None:
        _forget_now_and_on_commit(self._key(instance.user_id))


_NOT_OFFICER = _KeptAbsence("not-officer")
known_not_officer = _NOT_OFFICER.known
remember_not_officer = _NOT_OFFICER.remember
officer_membership_changed = _NOT_OFFICER.changed

_WITHOUT_FIRM = _KeptAbsence("without-firm")
known_without_firm = _WITHOUT_FIRM.known
remember_without_firm = _WITHOUT_FIRM.remember
firm_membership_changed = _WITHOUT_FIRM.changed
