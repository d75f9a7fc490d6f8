"""Fast builders for the query-budget and EXPLAIN tests.

One real object is made through the services (so every field a page reads is plausible), then
copied in bulk: ``clone`` inserts N copies in a few INSERTs instead of walking N rows through the
workflow, which is what lets a page be measured at 10 and at 1,000 rows in well under a minute.
Unique columns are varied per copy by the ``vary`` callback.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from underwriting.models import Application, Policy

BATCH = 500
SMALL, LARGE = 10, 1_000


def clone(template, count: int, *, vary: Callable[[int], dict] | None = None, start: int = 0):
    """``count`` copies of ``template`` (every concrete column but the primary key), inserted in
    bulk; ``vary(i)`` gives the columns that differ for copy ``i`` (numbers, foreign keys)."""
    model = type(template)
    columns = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
    values = {name: getattr(template, name) for name in columns}
    rows = []
    for i in range(start, start + count):
        row = model(**values)
        for name, value in (vary(i) if vary else {}).items():
            setattr(row, name, value)
        rows.append(row)
    return model.objects.bulk_create(rows, batch_size=BATCH)


# Large columns no list page reads, left empty in the copies behind a policy: quoting them for
# thousands of rows is most of the time a bulk insert takes on PostgreSQL.
SLIM_APPLICATION = {
    "frozen_answers": {},
    "valuation": {},
    "rating": {},
    "risk_answers": {},
    "cover_inputs": {},
}
SLIM_QUOTE = {"breakdown": {}}
SLIM_ACKNOWLEDGEMENT = {"notice_text": "", "items": []}


def clone_policies(policy: Policy, count: int, *, start: int = 0, **policy_fields) -> list[Policy]:
    """``count`` more policies like ``policy``, each with its own application, quote and
    acknowledgement (the one-to-one links a policy needs)."""
    application, quote = policy.application, policy.quote
    acknowledgement = policy.acknowledgement
    applications = clone(application, count, start=start, vary=lambda i: SLIM_APPLICATION)
    quotes = clone(
        quote,
        count,
        start=start,
        vary=lambda i: {
            "number": f"PQ-{i:06d}",
            "application_id": applications[i - start].pk,
            **SLIM_QUOTE,
        },
    )
    acknowledgements = clone(
        acknowledgement,
        count,
        start=start,
        vary=lambda i: {
            "quote_id": quotes[i - start].pk,
            "application_id": applications[i - start].pk,
            **SLIM_ACKNOWLEDGEMENT,
        },
    )
    return clone(
        policy,
        count,
        start=start,
        vary=lambda i: {
            "number": f"PP-{i:06d}",
            "application_id": applications[i - start].pk,
            "quote_id": quotes[i - start].pk,
            "acknowledgement_id": acknowledgements[i - start].pk,
            **policy_fields,
        },
    )


def clone_applications(application: Application, count: int, *, start: int = 0, **fields):
    """More applications like ``application``; ``fields`` override columns (status, ...).
    Their ages spread over days so that orderings by time have something to order."""
    now = timezone.now()
    return clone(
        application,
        count,
        start=start,
        vary=lambda i: {
            "status_changed_at": now - timedelta(minutes=i),
            **SLIM_APPLICATION,
            **fields,
        },
    )


def count_queries(client, url: str, *, status: int = 200, **extra) -> tuple[int, object]:
    """The number of queries one GET of ``url`` runs, and the response."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code == status, (url, response.status_code)
    return len(captured), response


def captured_sql(client, url: str) -> list[str]:
    """The SQL one GET of ``url`` runs."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]
