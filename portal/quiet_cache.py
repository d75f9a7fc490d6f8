"""The cache where it only saves work: a cache that cannot be reached is logged and counts as
empty, never as an error of the page. Used by the kept renderings and lookups
(portal.access_cache, underwriting.catalogue_cache, underwriting.record_cache)."""

import logging
import uuid

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


def version(key: str, *, purpose: str) -> str | None:
    """The current value of a version key, a new one if there is none; None when the cache
    cannot be reached. Entries keyed with a version are dropped together by deleting it."""
    try:
        current = cache.get(key)
        if current is None:
            cache.add(key, uuid.uuid4().hex, None)
            current = cache.get(key)
        return current
    except Exception:  # noqa: BLE001 - the cache is an optimisation, never a requirement
        logger.warning("%s cache unreachable", purpose, exc_info=True)
        return None


def get(key: str | None, *, purpose: str):
    if key is None:
        return None
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation, never a requirement
        logger.warning("%s cache unreachable", purpose, exc_info=True)
        return None


def put(key: str | None, value, seconds: int, *, purpose: str) -> None:
    if key is None:
        return
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        logger.warning("%s cache unreachable", purpose, exc_info=True)


def forget_now_and_on_commit(*keys: str, purpose: str) -> None:
    """Deletes the keys at once and again when the transaction commits, so a value computed
    from rows not yet committed cannot outlive the change."""

    def forget():
        try:
            cache.delete_many(keys)
        except Exception:  # noqa: BLE001
            logger.warning(
                "%s cache unreachable; entries expire on their own", purpose, exc_info=True
            )

    forget()
    transaction.on_commit(forget)
