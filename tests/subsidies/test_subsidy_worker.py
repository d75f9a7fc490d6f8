"""The eligibility pre-check runs in a real Celery worker after the submission commits, and a
request whose message was lost is sent again by the sweeper."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from subsidies import services
from subsidies.choices import RequestStatus
from subsidies.models import SubsidyRequest
from subsidies.tasks import sweep_subsidy_requests
from tests.conftest import wait_for
from tests.subsidies.helpers import in_force_policy, programme, upload

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def prepared(policy, prog, user) -> SubsidyRequest:
    request = services.subsidy_request_create(policy=policy, programme=prog, actor=user)
    for position, document in enumerate(prog.required_documents):
        services.subsidy_document_upload(
            request=request,
            actor=user,
            code=document["code"],
            uploaded_file=upload(salt=b"%d-%d" % (request.pk, position)),
        )
    return request


def test_the_worker_checks_eligibility_and_the_sweeper_resends(
    real_worker, monkeypatch, firm_a, applicant_a, officer_x
):
    # The policies' PDFs play no part here and would keep the worker busy for seconds.
    monkeypatch.setattr("underwriting.tasks.make_policy_document.delay", lambda *a: None)
    monkeypatch.setattr("underwriting.tasks.make_quote_pdf.delay", lambda *a: None)
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)
    prog = programme(officer_x.officer_membership.authority)
    request = prepared(in_force_policy(firm_a, applicant_a), prog, applicant_a)
    services.subsidy_request_submit(request=request, actor=applicant_a)
    assert wait_for(
        lambda: SubsidyRequest.objects.get(pk=request.pk).status == RequestStatus.UNDER_REVIEW,
        timeout=60,
    ), SubsidyRequest.objects.get(pk=request.pk).status
    assert SubsidyRequest.objects.get(pk=request.pk).eligibility

    with monkeypatch.context() as patch:
        patch.setattr("subsidies.tasks.check_eligibility.delay", lambda *a: None)
        lost = prepared(in_force_policy(firm_a, applicant_a), prog, applicant_a)
        services.subsidy_request_submit(request=lost, actor=applicant_a)
    SubsidyRequest.objects.filter(pk=lost.pk).update(
        submitted_at=timezone.now() - timedelta(minutes=10)
    )
    assert sweep_subsidy_requests() == 1
    assert wait_for(
        lambda: SubsidyRequest.objects.get(pk=lost.pk).status == RequestStatus.UNDER_REVIEW,
        timeout=60,
    )
