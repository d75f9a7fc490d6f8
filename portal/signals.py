from django.contrib.auth.models import Group, Permission
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from portal.roles import GROUP_PERMISSIONS, STAFF_GROUPS


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
