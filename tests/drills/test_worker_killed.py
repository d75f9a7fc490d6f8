"""Drill: a worker is killed (SIGKILL) in the middle of rendering a policy schedule PDF.

The worker is a real ``celery worker`` subprocess (prefork, one child) on the drill's own
``redis-server``, started from ``tests/drills/stalling_worker.py``, which makes the rendering wait
while a ``hold`` file exists and tells which process is rendering. The subprocess must see the
test's rows, so the test is transactional and the worker opens the pytest-django test database
itself: a file on SQLite (``DATABASES["default"]["TEST"]``), the ``test_…`` database on
PostgreSQL. That is faster than migrating a database of the drill's own and runs the same on both.

Two ways to die, two ways back:

* the pool child rendering the PDF is killed (the OOM killer's way): the task is
  ``acks_late`` and the settings set ``task_reject_on_worker_lost``, so the message goes back to
  the queue and a new child renders the PDF;
* the whole worker is killed (the machine's way): the message stays unacknowledged in Redis until
  the visibility timeout (an hour), so ``sweep_policy_documents`` sends it again, as beat does.

Either way the policy ends with exactly one current document, one file, and a valid PDF; the
late duplicate message renders nothing.
"""

import io
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from portal.celery import app as celery_app
from tests.drills.processes import wait_until
from tests.underwriting.application_helpers import acknowledge, filled_application
from underwriting import services
from underwriting.choices import DocumentStatus, PaymentMethod, QuoteStatus
from underwriting.models import Policy, PolicyDocument
from underwriting.tasks import make_policy_document, sweep_policy_documents

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_quote_pdfs(monkeypatch):
    """Quote PDFs play no part here; the worker's time goes to the policy documents."""
    monkeypatch.setattr("underwriting.tasks.make_quote_pdf.delay", lambda *a: None)


def paid_policy(firm, user) -> Policy:
    """Accepted and paid: the payment issues the policy and queues its document."""
    application = filled_application(firm, user)
    services.application_submit(application=application, actor=user, declaration=True)
    policy = acknowledge(application.quotes.get(status=QuoteStatus.OFFERED), user)
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.get(sequence=1).amount,
        reference=f"SANDBOX-drill-{policy.pk}",
        method=PaymentMethod.SANDBOX,
    )
    policy.refresh_from_db()
    return policy


def markers(folder: Path) -> list[int]:
    """The pids that started rendering, in order."""
    found = sorted(folder.glob("started-*"), key=lambda path: int(path.name.split("-")[2]))
    return [int(path.name.split("-")[1]) for path in found]


def assert_one_valid_document(policy: Policy) -> PolicyDocument:
    documents = PolicyDocument.objects.filter(policy=policy)
    assert documents.count() == 1
    document = documents.get(is_current=True)
    assert document.status == DocumentStatus.READY and document.sha256
    with document.file.open("rb") as handle:
        data = handle.read()
    reader = PdfReader(io.BytesIO(data))
    assert data.startswith(b"%PDF") and len(reader.pages) >= 1
    assert policy.number in reader.pages[0].extract_text()
    # No second copy of the file from the killed attempt.
    folder = Path(settings.MEDIA_ROOT) / Path(document.file.name).parent
    assert [p.name for p in folder.iterdir() if p.name.startswith(f"{policy.pk}-")] == [
        Path(document.file.name).name
    ]
    return document


def test_a_killed_pdf_task_is_run_again_and_leaves_one_document(
    catalogue, firm_a, applicant_a, broker, workers, tmp_path
):
    assert celery_app.conf.task_acks_late and celery_app.conf.task_reject_on_worker_lost
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "hold").touch()
    worker = workers(
        broker_url=broker.url,
        app="tests.drills.stalling_worker",
        env={"DRILL_HOLD_DIR": str(hold)},
    )

    # 1. The pool child dies mid-render: the message is rejected back to the queue.
    policy = paid_policy(firm_a, applicant_a)
    document = PolicyDocument.objects.get(policy=policy)
    wait_until(lambda: markers(hold), 120, lambda: "no rendering started\n" + worker.log()[-3000:])
    child = markers(hold)[0]
    assert child != worker.pid  # a pool child, not the worker's main process
    os.kill(child, signal.SIGKILL)
    (hold / "hold").unlink()
    wait_until(
        lambda: PolicyDocument.objects.get(pk=document.pk).status == DocumentStatus.READY,
        120,
        lambda: worker.log()[-3000:],
    )
    assert len(markers(hold)) == 2 and markers(hold)[1] != child, markers(hold)
    assert "WorkerLostError" in worker.log()
    assert_one_valid_document(policy)

    # 2. The whole worker dies mid-render: the sweeper sends the work again.
    for marker in hold.glob("started-*"):
        marker.unlink()
    (hold / "hold").touch()
    second = paid_policy(firm_a, applicant_a)
    lost = PolicyDocument.objects.get(policy=second)
    wait_until(lambda: markers(hold), 120, lambda: "no rendering started\n" + worker.log()[-3000:])
    worker.kill()
    (hold / "hold").unlink()
    assert PolicyDocument.objects.get(pk=lost.pk).status == DocumentStatus.QUEUED
    worker.start()
    PolicyDocument.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    sweep_policy_documents.delay()  # as beat sends it
    wait_until(
        lambda: PolicyDocument.objects.get(pk=lost.pk).status == DocumentStatus.READY,
        120,
        lambda: worker.log()[-3000:],
    )
    ready = assert_one_valid_document(second)

    # The message the dead worker held comes back after the visibility timeout: it does nothing.
    make_policy_document.delay(lost.pk)
    make_policy_document.delay(document.pk)
    wait_until(
        lambda: (
            worker.log().count("make_policy_document") >= 2 and worker.log().count(": False") >= 2
        ),
        60,
        lambda: worker.log()[-3000:],
    )
    assert PolicyDocument.objects.get(pk=ready.pk).sha256 == ready.sha256
    assert_one_valid_document(second)
    assert_one_valid_document(policy)
