"""Thin Celery tasks: they take ids and call services; every one is safe to run twice."""

from celery import shared_task


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def check_eligibility(self, request_id: int) -> bool:
    from subsidies.services import eligibility_check

    return eligibility_check(request_id)


@shared_task
def sweep_subsidy_requests() -> int:
    """Requests still "submitted" after a while lost their check message: send it again."""
    from subsidies.services import stale_submitted

    ids = list(stale_submitted()[:500])
    for request_id in ids:
        check_eligibility.delay(request_id)
    return len(ids)
