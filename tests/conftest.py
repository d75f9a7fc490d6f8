import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from celery.contrib.testing.worker import start_worker

from portal.celery import app as celery_app
from tests.factories import (
    AuthorityFactory,
    FirmFactory,
    MembershipFactory,
    OfficerMembershipFactory,
    UserFactory,
)

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request made in English by an earlier test
    leaves English active in the thread, which would make results depend on test order."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def firm_a(db):
    return FirmFactory(name_zh="甲公司", name_en="Firm A")


@pytest.fixture
def firm_b(db):
    return FirmFactory(name_zh="乙公司", name_en="Firm B")


@pytest.fixture
def applicant_a(firm_a):
    return MembershipFactory(firm=firm_a, user__email="a@example.test").user


@pytest.fixture
def applicant_b(firm_b):
    return MembershipFactory(firm=firm_b, user__email="b@example.test").user


def _with_totp(user):
    TOTP.activate(user, TOTP_SECRET)
    return user


@pytest.fixture
def underwriter(db):
    from django.contrib.auth.models import Group

    user = _with_totp(UserFactory(email="uw@example.test", is_staff=True))
    user.groups.add(Group.objects.get(name="underwriter"))
    return user


@pytest.fixture
def claims_handler(db):
    from django.contrib.auth.models import Group

    user = _with_totp(UserFactory(email="claims@example.test", is_staff=True))
    user.groups.add(Group.objects.get(name="claims_handler"))
    return user


@pytest.fixture
def officer_x(db):
    authority = AuthorityFactory(name_en="Authority X", region_code="320200")
    return _with_totp(
        OfficerMembershipFactory(authority=authority, user__email="ox@example.test").user
    )


@pytest.fixture
def officer_y(db):
    authority = AuthorityFactory(name_en="Authority Y", region_code="440300")
    return _with_totp(
        OfficerMembershipFactory(authority=authority, user__email="oy@example.test").user
    )


@pytest.fixture
def client_a(client, applicant_a):
    client.force_login(applicant_a)
    return client


@pytest.fixture
def client_b(client, applicant_b):
    client.force_login(applicant_b)
    return client


@pytest.fixture
def real_worker(settings):
    app = celery_app
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


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
