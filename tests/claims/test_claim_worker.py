"""Claim documents and letters are processed by a real Celery worker after the upload or the
decision commits; a message the broker lost is sent again by the sweeper."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from claims import services
from claims.choices import ClaimDocumentStatus, ClaimStatus, LetterKind, LetterStatus
from claims.models import ClaimDocument, ClaimLetter
from claims.tasks import sweep_claim_work
from portal import roles
from tests.claims.helpers import in_force_policy, notify_claim, pdf_upload
from tests.conftest import wait_for
from tests.underwriting.admin_helpers import staff

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_documents_and_the_rejection_letter_are_made_by_a_worker(real_worker, firm_a, applicant_a):
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)
    handler = staff("worker-handler@example.test", roles.CLAIMS_HANDLER)
    claim = notify_claim(in_force_policy(firm_a, applicant_a), applicant_a)

    document = services.claim_document_upload(
        claim=claim, actor=applicant_a, code="policy", uploaded_file=pdf_upload(pages=2)
    )
    assert wait_for(
        lambda: ClaimDocument.objects.get(pk=document.pk).status == ClaimDocumentStatus.READY,
        timeout=60,
    ), ClaimDocument.objects.get(pk=document.pk).status
    document.refresh_from_db()
    assert document.page_count == 2 and document.preview.name.endswith(".png")

    # A row left pending (its message lost) is picked up by the sweeper.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("claims.tasks.process_claim_document.delay", lambda *a: None)
        lost = services.claim_document_upload(
            claim=claim,
            actor=applicant_a,
            code="claim_notice",
            uploaded_file=pdf_upload(salt=b"lost"),
        )
    ClaimDocument.objects.filter(pk=lost.pk).update(
        uploaded_at=timezone.now() - timedelta(minutes=10)
    )
    assert sweep_claim_work()["documents"] == 1
    assert wait_for(
        lambda: ClaimDocument.objects.get(pk=lost.pk).status == ClaimDocumentStatus.READY,
        timeout=60,
    )

    for position, item in enumerate(services.checklist(claim)):
        if item.get("required") and item["code"] not in ("policy", "claim_notice"):
            services.claim_document_upload(
                claim=claim,
                actor=applicant_a,
                code=item["code"],
                uploaded_file=pdf_upload(salt=b"%d" % position),
            )
    assert wait_for(
        lambda: not claim.documents.exclude(status=ClaimDocumentStatus.READY).exists(),
        timeout=60,
    )
    services.claim_documents_complete(claim=claim, actor=handler)
    services.claim_decide(
        claim=claim,
        actor=handler,
        decision="reject",
        reasons="The patent concerned lapsed for unpaid annual fees before the incident.",
    )
    letter = ClaimLetter.objects.get(claim=claim, kind=LetterKind.REJECTION)
    # The first PDF of a fresh machine also builds the light CJK font faces (seconds, once).
    assert wait_for(
        lambda: ClaimLetter.objects.get(pk=letter.pk).status == LetterStatus.READY, timeout=90
    ), ClaimLetter.objects.get(pk=letter.pk).status
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    assert claim.rejection_notice_sent_on == timezone.localdate()
