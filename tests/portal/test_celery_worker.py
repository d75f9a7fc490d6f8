"""Tasks through a real Celery worker (not eager mode), on the configured broker: Redis in CI,
the filesystem transport in the zero-install setup."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from portal import services
from portal.celery import app
from portal.models import Invitation
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_worker(settings):
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # A queue of our own so that a worker left running by `make run` cannot take the message.
    queue = f"test-{time.monotonic_ns()}"
    app.conf.task_default_queue = queue
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10
        ):
            yield
    finally:
        app.conf.task_default_queue = "celery"


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_invitation_mail_is_sent_by_a_worker_and_recorded(real_worker):
    owner = MembershipFactory().user
    firm = owner.memberships.get().firm
    invitation = services.invitation_create(
        firm=firm, actor=owner, email="colleague@example.test", role="member"
    )
    assert _wait_for(lambda: Invitation.objects.get(pk=invitation.pk).sent_at is not None), (
        "the worker did not mark the invitation as sent"
    )
    assert any("colleague@example.test" in message.to for message in mail.outbox)
    assert app.conf.broker_url.split(":")[0] in {"redis", "filesystem"}
