"""The applicant's lists (applications, policies, claims) write their rows out by hand rather than
through DRF's field by field walk (portal/api.py, "List rows"). Each row must be exactly what
DRF's walk over the serializer's declared fields gives, in both languages: the same keys in the
same order (so the schema still describes it) and the same values, formatted alike."""

import json

import pytest
from django.utils import translation
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from claims import services as claim_services
from claims.api import ClaimListView
from claims.serializers import ClaimListQuerySerializer
from tests.claims.helpers import in_force_policy, notify_claim
from tests.underwriting.application_helpers import acknowledge, filled_application
from underwriting import services
from underwriting.api import ApplicationListView, PolicyListView
from underwriting.choices import QuoteStatus
from underwriting.models import Quote
from underwriting.selectors_app import LIVE_QUOTE_STATUSES
from underwriting.serializers import ApplicationFilterSerializer, PolicyFilterSerializer

API = "/api/v1"


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (tests/api/conftest.py)."""


@pytest.fixture
def rows(catalogue, firm_a, applicant_a):
    """Rows in several states: a draft, a quoted application, a policy awaiting its first
    instalment, a policy in force with a notified and a withdrawn claim."""
    filled_application(firm_a, applicant_a)
    quoted = filled_application(firm_a, applicant_a)
    services.application_submit(application=quoted, actor=applicant_a, declaration=True)
    unpaid = filled_application(firm_a, applicant_a)
    services.application_submit(application=unpaid, actor=applicant_a, declaration=True)
    acknowledge(unpaid.quotes.get(status=QuoteStatus.OFFERED), applicant_a)
    policy = in_force_policy(firm_a, applicant_a)
    notify_claim(policy, applicant_a)
    withdrawn = notify_claim(policy, applicant_a)
    claim_services.claim_withdraw(claim=withdrawn, actor=applicant_a)


def listed_instances(view_class, user, language: str) -> list:
    """The instances the list view serializes, loaded by its own queryset."""
    request = APIRequestFactory().get("/", HTTP_HOST="testserver")
    request.user = user
    view = view_class(request=Request(request), format_kwarg=None, kwargs={})
    view.request.user = user
    with translation.override(language):
        return list(view.get_queryset())


def drf_rows(serializer_class, instances, language: str) -> list:
    """What DRF's own ``Serializer.to_representation`` makes of each instance, as JSON."""
    request = APIRequestFactory().get("/", HTTP_HOST="testserver")
    with translation.override(language):
        serializer = serializer_class(context={"request": request})
        data = [serializers.Serializer.to_representation(serializer, item) for item in instances]
        return json.loads(JSONRenderer().render(data))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(
    ("path", "view_class"),
    [
        ("applications/", ApplicationListView),
        ("policies/", PolicyListView),
        ("claims/", ClaimListView),
    ],
)
def test_a_row_is_what_drf_would_write(rows, applicant_a, language, path, view_class):
    client = APIClient()
    client.force_authenticate(applicant_a)
    response = client.get(f"{API}/{path}", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    listed = response.json()["results"]
    assert len(listed) >= 2
    instances = listed_instances(view_class, applicant_a, language)
    expected = drf_rows(view_class.serializer_class, instances, language)
    assert [row["id"] for row in listed] == [row["id"] for row in expected]
    for row, want in zip(listed, expected, strict=True):
        assert list(row) == list(want)
        assert row == want
    if view_class is ApplicationListView:
        for row in listed:
            live = (
                Quote.objects.filter(application_id=row["id"], status__in=LIVE_QUOTE_STATUSES)
                .order_by("-created_at", "-id")
                .first()
            )
            assert row["live_quote"] == (live.pk if live else None)
        assert {row["live_quote"] is None for row in listed} == {True, False}
    if view_class is PolicyListView:
        assert {row["next_due"] is None for row in listed} == {True, False}
        assert {row["document"] is None for row in listed} == {True, False}
    if view_class is ClaimListView:
        assert {row["missing_count"] == 0 for row in listed} == {True, False}


@pytest.mark.parametrize(
    "serializer_class",
    [ApplicationFilterSerializer, PolicyFilterSerializer, ClaimListQuerySerializer],
)
def test_a_list_without_query_parameters_is_the_defaults(serializer_class):
    """The lists skip their filter serializer when there are no query parameters: that must be
    what the serializer gives for none (no filter, the default ordering)."""
    serializer = serializer_class(data={})
    assert serializer.is_valid()
    assert serializer.validated_data in ({}, {"ordering": "-notified_at"})
