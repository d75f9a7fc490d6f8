import pytest
from django.core.management import call_command


@pytest.fixture(scope="module")
def seeded_catalogue(django_db_setup, django_db_blocker):
    """The whole catalogue, loaded and committed once per test module, wiped afterwards.

    Loading takes seconds; tests that only read the catalogue share it. Each test still runs in
    its own rolled-back transaction (request ``db`` as well), so its changes do not leak.
    """
    with django_db_blocker.unblock():
        call_command("seed_catalogue", verbosity=0)
    yield
    with django_db_blocker.unblock():
        # The same reset pytest-django performs after a transactional test.
        call_command("flush", interactive=False, verbosity=0)
