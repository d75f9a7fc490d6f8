from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.dispatch import receiver

from portal.access_cache import (
    authenticator_changed,
    firm_membership_changed,
    officer_membership_changed,
    permissions_changed,
)
from portal.models import Membership, OfficerMembership
from portal.roles import GROUP_PERMISSIONS, STAFF_GROUPS

# What portal.access_cache keeps follows every change: permissions, authenticators, officers,
# firm memberships.
for _through in (
    get_user_model().groups.through,
    get_user_model().user_permissions.through,
    Group.permissions.through,
):
    m2m_changed.connect(permissions_changed, sender=_through, dispatch_uid=f"access-{_through}")
for _model in (Group, Permission):
    post_save.connect(permissions_changed, sender=_model, dispatch_uid=f"access-save-{_model}")
    post_delete.connect(permissions_changed, sender=_model, dispatch_uid=f"access-del-{_model}")
for _model, _receiver in (
    (Authenticator, authenticator_changed),
    (OfficerMembership, officer_membership_changed),
    (Membership, firm_membership_changed),
):
    post_save.connect(_receiver, sender=_model, dispatch_uid=f"access-save-{_model}")
    post_delete.connect(_receiver, sender=_model, dispatch_uid=f"access-del-{_model}")


@receiver(post_migrate)
def ensure_staff_groups(sender, using="default", **kwargs):
    """Keep the staff groups and their permissions in step with the code after every migrate."""
    # Runs after each app's post_migrate so permissions of apps migrated later are picked up too.
    for name in STAFF_GROUPS:
        group, _created = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for dotted in GROUP_PERMISSIONS.get(name, []):
            app_label, codename = dotted.split(".")
            perm = (
                Permission.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if perm:
                wanted.append(perm)
        group.permissions.add(*wanted)
