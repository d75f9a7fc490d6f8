"""In-app notifications, each also mailed to its user, in the user's own language."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import translation

from portal.models import Notification

logger = logging.getLogger(__name__)


def _language_of(user) -> str:
    return getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE


def notify(*, users, title, body="", params=None, url: str = "", firm=None) -> list[Notification]:
    """``title`` and ``body`` are lazy translatable strings with %(name)s parameters: each user
    gets them rendered in their own language. The mail goes out after the transaction commits."""
    params = params or {}
    created = []
    for user in {u.pk: u for u in users if u is not None}.values():
        with translation.override(_language_of(user)):
            created.append(
                Notification(
                    user=user,
                    firm=firm,
                    title=(str(title) % params)[:300],
                    body=str(body) % params if body else "",
                    url=url,
                )
            )
    Notification.objects.bulk_create(created)
    if created:
        from portal.tasks import send_notification_emails

        # PostgreSQL and SQLite both return the new primary keys from bulk_create.
        ids = [n.pk for n in created]
        transaction.on_commit(lambda: _enqueue_mail(send_notification_emails, ids))
    return created


def _enqueue_mail(task, ids) -> None:
    """After commit, the change is made: a broker outage must not turn it into an error page.
    The rows keep ``emailed_at`` empty and ``portal.tasks.sweep_notification_emails`` mails them
    once the broker is back."""
    try:
        task.delay(ids)
    except Exception:  # noqa: BLE001 - any broker failure; the sweeper retries later
        logger.warning("could not enqueue %s for notifications %r", task.name, ids)


def mark_read(*, user, notification_ids=None) -> int:
    from django.utils import timezone

    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        rows = rows.filter(pk__in=notification_ids)
    return rows.update(read_at=timezone.now())
