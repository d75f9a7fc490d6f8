"""Attribute history rows to the acting user outside a request (tasks, commands, services)."""

from contextlib import contextmanager
from types import SimpleNamespace

from simple_history.models import HistoricalRecords


@contextmanager
def acting_as(user):
    """Within the block, every history row records ``user`` as the one who made the change.

    django-simple-history reads the user from the current request; tasks and management
    commands have none, so we lend them a stand-in request for the duration.
    """
    previous = getattr(HistoricalRecords.context, "request", None)
    if previous is not None and getattr(previous, "user", None) == user:
        yield
        return
    HistoricalRecords.context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        if previous is None:
            del HistoricalRecords.context.request
        else:
            HistoricalRecords.context.request = previous
