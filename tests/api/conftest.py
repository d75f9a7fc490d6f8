"""Fixtures of the REST API tests: a DRF client, knox tokens, the seeded catalogue."""

import pytest
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.test import APIClient

from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_for(db):
    """``token_for(user)`` makes a knox token for ``user`` and returns the value of the
    Authorization header: ``"Token <key>"`` (knox's AUTH_HEADER_PREFIX)."""

    def make(user, **kwargs) -> str:
        _instance, key = AuthToken.objects.create(user, **kwargs)
        return f"{knox_settings.AUTH_HEADER_PREFIX} {key}"

    return make
