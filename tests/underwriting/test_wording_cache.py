"""A published wording's rating tables and questionnaires are read once per process
(underwriting.selectors_app.attach_wording); each reader still gets rows of its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tests.underwriting.catalogue_factories import patent_enforcement_product
from underwriting import selectors_app
from underwriting.choices import ClauseStatus
from underwriting.models import ClauseVersion, Questionnaire


@pytest.fixture
def wording(db):
    product = patent_enforcement_product(actor=UserFactory(is_staff=True))
    version = ClauseVersion.objects.get(product=product, status=ClauseStatus.PUBLISHED)
    Questionnaire.objects.create(clause_version=version, kind="risk", questions=[{"code": "q1"}])
    return version


def fresh(version) -> ClauseVersion:
    return ClauseVersion.objects.get(pk=version.pk)


def parts(clause) -> dict:
    return {
        "sections": [s.code for s in clause.rating_sections.all()],
        "tables": {
            t.code: [o.code for o in t.options.all()] for t in clause.coefficient_tables.all()
        },
        "questionnaires": [q.kind for q in clause.questionnaires.all()],
    }


def test_a_published_wording_is_read_once_and_each_reader_gets_its_own_rows(wording):
    first = fresh(wording)
    with CaptureQueriesContext(connection) as reading:
        selectors_app.attach_wording(first)
        expected = parts(first)
    assert expected["sections"] and expected["tables"] and expected["questionnaires"]
    assert len(reading) == 4  # sections, tables, their options, questionnaires

    second = fresh(wording)
    with CaptureQueriesContext(connection) as cached:
        selectors_app.attach_wording(second)
        assert parts(second) == expected
        # The rows know their wording without asking the database.
        assert second.rating_sections.all()[0].clause_version is second
    assert len(cached) == 0

    # A reader that changes what it was given changes nobody else's copy.
    second.rating_sections.all()[0].code = "CHANGED"
    third = fresh(wording)
    selectors_app.attach_wording(third)
    assert parts(third) == expected


def test_a_draft_wording_is_read_from_the_database_every_time(wording):
    ClauseVersion.objects.filter(pk=wording.pk).update(status=ClauseStatus.DRAFT)
    for _ in range(2):
        draft = fresh(wording)
        with CaptureQueriesContext(connection) as reading:
            selectors_app.attach_wording(draft)
        assert len(reading) == 4


def test_a_later_publication_under_the_same_id_is_not_confused(wording):
    selectors_app.attach_wording(fresh(wording))
    wording.questionnaires.all().delete()
    # Same id, another publication (as a test database that reuses ids would have it).
    ClauseVersion.objects.filter(pk=wording.pk).update(
        published_at=wording.published_at.replace(year=2000)
    )
    clause = fresh(wording)
    selectors_app.attach_wording(clause)
    assert list(clause.questionnaires.all()) == []
