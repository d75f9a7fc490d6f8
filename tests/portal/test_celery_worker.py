"""Tasks through a real Celery worker (not eager mode), on the configured broker: Redis in CI,
the filesystem transport in the zero-install setup."""

import pytest
from django.core import mail

from portal import services
from portal.celery import app
from portal.models import Invitation
from tests.conftest import wait_for
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_invitation_mail_is_sent_by_a_worker_and_recorded(real_worker):
    owner = MembershipFactory().user
    firm = owner.memberships.get().firm
    invitation = services.invitation_create(
        firm=firm, actor=owner, email="colleague@example.test", role="member"
    )
    assert wait_for(lambda: Invitation.objects.get(pk=invitation.pk).sent_at is not None), (
        "the worker did not mark the invitation as sent"
    )
    assert any("colleague@example.test" in message.to for message in mail.outbox)
    assert app.conf.broker_url.split(":")[0] in {"redis", "filesystem"}
