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
