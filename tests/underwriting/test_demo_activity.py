"""The quick start's demo activity: a quote for the applicant, a referral for the underwriter."""

import pytest
from django.core.management import call_command

from underwriting.choices import ApplicationStatus
from underwriting.models import Application, Quote


@pytest.fixture
def demo(seeded_catalogue, db):
    call_command("seed_demo", "--quiet")


def test_demo_activity_is_created_once(demo, capsys):
    call_command("seed_demo_activity")
    statuses = sorted(Application.objects.values_list("status", flat=True))
    assert statuses == sorted([ApplicationStatus.QUOTED, ApplicationStatus.REFERRED])
    assert Quote.objects.filter(status="offered").count() == 1
    counts = (Application.objects.count(), Quote.objects.count(), Application.history.count())
    call_command("seed_demo_activity")
    assert "nothing changed" in capsys.readouterr().out
    assert counts == (
        Application.objects.count(),
        Quote.objects.count(),
        Application.history.count(),
    )
