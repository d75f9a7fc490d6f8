"""Drill: Redis goes down while an applicant uploads a claim document, accepts a quote and pays
the first premium (which issues the policy and queues its schedule PDF).

The pages must answer at once with the work recorded as waiting in the database; once Redis is
back the sweepers, published as beat publishes them, hand the work to a real worker and nothing
is lost. The broker is a ``redis-server`` of the drill's own (stopped and started again on the
same port, losing whatever it held: it keeps no data on disk); the worker is a ``celery worker``
subprocess on the test database (see ``processes.database_url``), so this runs the same on SQLite
and on PostgreSQL.
"""

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from pypdf import PdfReader

from claims.choices import ClaimDocumentStatus
from claims.models import ClaimDocument
from claims.tasks import sweep_claim_work
from portal.models import Notification
from portal.tasks import sweep_notification_emails
from tests.claims.helpers import in_force_policy, notify_claim, pdf_upload
from tests.drills.helpers import notice_form
from tests.drills.processes import no_hang, wait_until
from tests.underwriting.application_helpers import filled_application
from underwriting import services
from underwriting.choices import DocumentStatus, PolicyStatus, QuoteStatus
from underwriting.models import Policy, PolicyDocument
from underwriting.tasks import sweep_policy_documents

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# Far above what a request takes even with the broker down; only a hang trips it.
HANG = 60


def test_work_done_while_redis_is_down_is_finished_once_it_is_back(
    catalogue, firm_a, applicant_a, client, broker, workers, caplog
):
    redis = broker
    claim = notify_claim(in_force_policy(firm_a, applicant_a), applicant_a)
    application = filled_application(firm_a, applicant_a)
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    quote = application.quotes.get(status=QuoteStatus.OFFERED)
    client.force_login(applicant_a)

    # Frozen first: connections are accepted and never answered. Only the socket timeouts of
    # the broker settings keep this from waiting for ever.
    redis.freeze()
    with no_hang(HANG, "claim document upload with Redis frozen"):
        response = client.post(
            f"/app/claims/{claim.pk}/documents/",
            {"code": "claim_notice", "file": pdf_upload(salt=b"frozen")},
        )
    assert response.status_code == 302, response.content[:2000]
    frozen = ClaimDocument.objects.get(claim=claim, code="claim_notice")
    assert frozen.status == ClaimDocumentStatus.PENDING
    redis.thaw()

    # Then gone: connections are refused.
    redis.stop()
    assert not redis.is_up()
    with no_hang(HANG, "claim document upload with Redis down"):
        response = client.post(
            f"/app/claims/{claim.pk}/documents/",
            {"code": "policy", "file": pdf_upload(salt=b"outage")},
        )
    assert response.status_code == 302, response.content[:2000]
    document = ClaimDocument.objects.get(claim=claim, code="policy")
    assert document.status == ClaimDocumentStatus.PENDING

    with no_hang(HANG, "quote acceptance with Redis down"):
        response = client.post(
            f"/app/applications/{application.pk}/quotes/{quote.pk}/notice/",
            notice_form(quote, applicant_a),
        )
    assert response.status_code == 302, response.content[:2000]
    policy = Policy.objects.get(quote=quote)
    assert response.url == f"/app/policies/{policy.pk}/"

    with no_hang(HANG, "starting the sandbox payment with Redis down"):
        response = client.post(f"/app/policies/{policy.pk}/pay/")
    assert response.status_code == 302
    reference = parse_qs(urlparse(response.url).query)["ref"][0]
    with no_hang(HANG, "paying (issues the policy, queues its PDF) with Redis down"):
        response = client.post(response.url, {"ref": reference, "action": "pay"})
    assert response.status_code == 302, response.content[:2000]

    policy.refresh_from_db()
    assert policy.number and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    pdf = PolicyDocument.objects.get(policy=policy)
    assert pdf.status == DocumentStatus.QUEUED and pdf.is_current
    waiting_mail = list(
        Notification.objects.filter(user=applicant_a, emailed_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    assert len(waiting_mail) >= 2  # "quote accepted", "policy issued"
    assert "could not enqueue" in caplog.text  # the outage was noticed, not swallowed silently

    # Redis comes back empty (it keeps nothing on disk): every message sent before is gone too.
    redis.start()
    assert redis.queued() == 0
    workers(broker_url=redis.url)
    # Time passes: the sweepers only resend work that waited longer than a message should.
    earlier = timezone.now() - timedelta(minutes=15)
    ClaimDocument.objects.filter(pk__in=[document.pk, frozen.pk]).update(uploaded_at=earlier)
    PolicyDocument.objects.filter(pk=pdf.pk).update(created_at=earlier)
    Notification.objects.filter(pk__in=waiting_mail).update(created_at=earlier)
    for sweeper in (sweep_claim_work, sweep_policy_documents, sweep_notification_emails):
        sweeper.delay()  # as beat sends them

    wait_until(
        lambda: (
            set(
                ClaimDocument.objects.filter(pk__in=[document.pk, frozen.pk]).values_list(
                    "status", flat=True
                )
            )
            == {ClaimDocumentStatus.READY}
        ),
        60,
        lambda: f"claim documents {list(ClaimDocument.objects.values_list('status', flat=True))}",
    )
    wait_until(
        lambda: PolicyDocument.objects.get(pk=pdf.pk).status == DocumentStatus.READY,
        120,
        lambda: f"policy document {PolicyDocument.objects.get(pk=pdf.pk).status}",
    )
    wait_until(
        lambda: (
            not Notification.objects.filter(pk__in=waiting_mail, emailed_at__isnull=True).exists()
        ),
        60,
        "notification mails were not sent after the outage",
    )
    document.refresh_from_db()
    assert document.page_count == 1 and document.preview.name.endswith(".png")
    pdf.refresh_from_db()
    assert PolicyDocument.objects.filter(policy=policy, is_current=True).count() == 1
    with pdf.file.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF") and len(PdfReader(io.BytesIO(data)).pages) >= 1
    assert policy.number in PdfReader(io.BytesIO(data)).pages[0].extract_text()
