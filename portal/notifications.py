"""In-app notifications, each also mailed to its user, in the user's own language."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import translation

from portal.models import Notification

logger = logging.getLogger(__name__)


# The unread count in the navigation bar of every page, kept for a minute between changes.
UNREAD_SECONDS = 60


def _unread_key(user_id) -> str:
    return f"notifications:unread:{user_id}"


def unread_count(user) -> int:
    """The user's unread notifications, from the cache when it has them (see _count_changed);
    a cache that cannot be reached costs the COUNT query."""
    from portal.models import Notification

    key = _unread_key(user.pk)
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        cached = None
    if cached is not None:
        return cached
    count = Notification.objects.filter(user=user, read_at__isnull=True).count()
    try:
        cache.set(key, count, UNREAD_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("cache unreachable; unread count not kept", exc_info=True)
    return count


def _count_changed(user_ids, *, added: bool) -> None:
    """New notifications add to a kept count at once, so the next page needs no COUNT; marking
    read forgets it. Either way the count is forgotten again after the commit: a figure read
    from rows not yet committed (or rolled back) cannot outlive the transaction."""
    keys = [_unread_key(pk) for pk in user_ids]
    if not keys:
        return

    def forget():
        try:
            cache.delete_many(keys)
        except Exception:  # noqa: BLE001
            logger.warning("cache unreachable; unread counts expire on their own", exc_info=True)

    if added:
        for key in keys:
            try:
                cache.incr(key)
            except ValueError:
                pass  # not kept: the next page counts
            except Exception:  # noqa: BLE001
                forget()
                break
    else:
        forget()
    transaction.on_commit(forget)


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
    _count_changed([n.user_id for n in created], added=True)
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
    marked = rows.update(read_at=timezone.now())
    _count_changed([user.pk], added=False)
    return marked
