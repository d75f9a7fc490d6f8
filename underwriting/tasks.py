"""Thin Celery tasks: they take ids and call services; every one is safe to run twice."""

from celery import shared_task


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def make_quote_pdf(self, quote_id: int) -> bool:
    from underwriting.documents import quote_pdf_generate

    return quote_pdf_generate(quote_id)


@shared_task
def expire_quotes() -> int:
    from underwriting.services import quotes_expire

    return quotes_expire()


@shared_task
def sweep_quote_pdfs() -> int:
    """Re-enqueue PDFs still queued after a while: the broker may have lost the first message."""
    from underwriting.services.applications import stale_quote_pdfs

    ids = list(stale_quote_pdfs()[:500])
    for quote_id in ids:
        make_quote_pdf.delay(quote_id)
    return len(ids)


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def make_policy_document(self, document_id: int) -> bool:
    from underwriting.documents import policy_document_generate

    return policy_document_generate(document_id)


@shared_task
def roll_policies() -> dict:
    from underwriting.services import policies_roll

    return policies_roll()


@shared_task
def remind_instalments() -> dict:
    from underwriting.services import instalments_remind_and_lapse

    return instalments_remind_and_lapse()


@shared_task
def sweep_policy_documents() -> int:
    """Re-enqueue policy documents still queued after a while (a lost broker message)."""
    from datetime import timedelta

    from django.utils import timezone

    from underwriting.choices import DocumentStatus
    from underwriting.models import PolicyDocument

    cutoff = timezone.now() - timedelta(minutes=5)
    ids = list(
        PolicyDocument.objects.filter(
            status=DocumentStatus.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for document_id in ids:
        make_policy_document.delay(document_id)
    return len(ids)


@shared_task
def cancellations_and_renewals() -> dict:
    """Insurer cancellations whose notice has run end their policies; renewal invitations go
    out a month before the end."""
    from underwriting.services import cancellations_take_effect, renewal_reminders

    return {"cancelled": cancellations_take_effect(), "renewal_reminders": renewal_reminders()}
