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
def process_claim_document(self, document_id: int):
    from claims.services import claim_document_process

    return claim_document_process(document_id)


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def make_claim_letter(self, letter_id: int) -> bool:
    from claims.services import claim_letter_generate

    return claim_letter_generate(letter_id)


@shared_task
def sweep_claim_work() -> dict:
    """Re-enqueue documents and letters still waiting after a while: the broker may have lost
    the first message, or a worker died holding it."""
    from claims.services import stale_documents, stale_letters

    documents = list(stale_documents()[:500])
    for document_id in documents:
        process_claim_document.delay(document_id)
    letters = list(stale_letters()[:200])
    for letter_id in letters:
        make_claim_letter.delay(letter_id)
    return {"documents": len(documents), "letters": len(letters)}


@shared_task
def warn_claim_deadlines() -> int:
    from claims.services import deadline_warnings

    return deadline_warnings()
