from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from portal.models import Invitation


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(self, invitation_id: int) -> bool:
    """Mail the invitation once; re-running after it was sent does nothing."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("firm", "invited_by")
            .filter(pk=invitation_id, sent_at__isnull=True, accepted_at__isnull=True)
            .first()
        )
        if invitation is None:
            return False
        base_url = settings.PORTAL_BASE_URL.rstrip("/")
        accept_url = base_url + reverse("portal:invitation_accept", args=[invitation.token])
        with translation.override(settings.LANGUAGE_CODE):
            subject = render_to_string(
                "emails/invitation_subject.txt", {"invitation": invitation}
            ).strip()
            body = render_to_string(
                "emails/invitation_body.txt", {"invitation": invitation, "accept_url": accept_url}
            )
        send_mail(subject, body, None, [invitation.email])
        Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
    return True


@shared_task
def expire_stale_invitations() -> int:
    """Revoke invitations past their expiry so owners see only live ones."""
    now = timezone.now()
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lt=now
    ).update(revoked_at=now)


@shared_task
def ping_database() -> bool:
    """Used by health checks and tests: proves a worker can reach the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_notification_emails(self, notification_ids: list[int]) -> int:
    """Mail each notification once; a re-run skips those already mailed."""
    from portal.models import Notification

    sent = 0
    base_url = settings.PORTAL_BASE_URL.rstrip("/")
    for notification_id in notification_ids:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update()
                .select_related("user")
                .filter(pk=notification_id, emailed_at__isnull=True)
                .first()
            )
            if notification is None:
                continue
            language = notification.user.preferred_language or settings.LANGUAGE_CODE
            with translation.override(language):
                body = render_to_string(
                    "emails/notification_body.txt",
                    {"notification": notification, "base_url": base_url},
                )
            send_mail(notification.title, body, None, [notification.user.email])
            Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
            sent += 1
    return sent


@shared_task
def sweep_notification_emails() -> int:
    """Mail notifications still unmailed after a while: the broker may have been down when
    they were made. Only the last day's, so a long outage does not send stale news late."""
    from datetime import timedelta

    from portal.models import Notification

    now = timezone.now()
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            created_at__lt=now - timedelta(minutes=5),
            created_at__gte=now - timedelta(days=1),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    if ids:
        send_notification_emails.delay(ids)
    return len(ids)


@shared_task
def sweep_invitation_emails() -> int:
    """Mail invitations still unsent a few minutes after they were made or renewed: the broker
    may have been down then. Expired, accepted and revoked ones are left alone."""
    from datetime import timedelta

    now = timezone.now()
    ids = list(
        Invitation.objects.filter(
            sent_at__isnull=True,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
            created_at__lt=now - timedelta(minutes=5),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for invitation_id in ids:
        send_invitation_email.delay(invitation_id)
    return len(ids)
