"""The quote PDF is made by a real Celery worker after the automatic quote commits."""

import pytest
from django.core.management import call_command

from tests.conftest import wait_for
from tests.underwriting.application_helpers import filled_application
from underwriting import services
from underwriting.choices import ApplicationStatus, DocumentStatus
from underwriting.models import Quote

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_quote_pdf_is_made_by_a_worker(real_worker, firm_a, applicant_a):
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)
    application = filled_application(firm_a, applicant_a)
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED
    quote = application.quotes.get()
    # The first PDF of a fresh machine also builds the light CJK font faces (seconds, once).
    assert wait_for(
        lambda: Quote.objects.get(pk=quote.pk).pdf_status == DocumentStatus.READY, timeout=90
    ), f"the worker left the PDF {Quote.objects.get(pk=quote.pk).pdf_status}"
    quote.refresh_from_db()
    assert quote.pdf.read(4) == b"%PDF"
    assert len(quote.pdf_sha256) == 64
    # A second run of the task (a redelivered message) changes nothing.
    from underwriting.documents import quote_pdf_generate

    assert quote_pdf_generate(quote.pk) is False
