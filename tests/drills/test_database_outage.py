"""Drill: the database is unreachable while beat's hourly claim-deadline warning runs.

A real ``celery worker`` subprocess (on the drill's own ``redis-server``) runs
``claims.tasks.warn_claim_deadlines``, sent by name as beat sends it, while its way to the
database is cut:

* on PostgreSQL the worker reaches the test database through a TCP proxy of the drill's own on a
  free loopback port; cutting it closes every connection and refuses new ones. A second cut
  falls in the middle of a run, between the two writes of one claim's warning (the proxy cuts
  on the second statement it sees that writes a warning or its mark), which is where a run that
  does not keep both in one transaction would leave a warning without its mark and repeat it;
* on SQLite the worker opens the test database file through a symbolic link to its folder;
  removing the link makes the file unreachable, as an unmounted volume would.

A run without the database must fail loudly (the worker logs the task as raised, not as
"succeeded: 0") and change nothing; the next run, with the database back, warns for every claim
due, each exactly once, and a third run warns nobody again.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from claims.models import Claim
from claims.tasks import warn_claim_deadlines
from portal.models import Notification
from tests.claims.helpers import in_force_policy, notify_claim
from tests.drills.processes import TcpProxy, database_url, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


class PostgresLine:
    """The worker's way to PostgreSQL, through a proxy that can be cut."""

    def __init__(self, tmp_path: Path):
        db = connection.settings_dict
        self.proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))).start()
        self.url = database_url(port=self.proxy.port)

    def cut(self):
        self.proxy.cut()

    def restore(self):
        self.proxy.restore()

    def close(self):
        self.proxy.close()


class SqliteLine:
    """The worker's way to the SQLite file, through a link to its folder that can be removed."""

    def __init__(self, tmp_path: Path):
        database = Path(connection.settings_dict["NAME"])
        self.target = database.parent
        self.link = tmp_path / "database-volume"
        self.link.symlink_to(self.target, target_is_directory=True)
        self.url = f"sqlite:///{self.link / database.name}"

    def cut(self):
        self.link.unlink()

    def restore(self):
        self.link.symlink_to(self.target, target_is_directory=True)

    def close(self):
        if not self.link.is_symlink():
            self.restore()


@pytest.fixture
def line(tmp_path):
    made = (PostgresLine if connection.vendor == "postgresql" else SqliteLine)(tmp_path)
    yield made
    made.close()


def outcome(worker, task_id: str) -> str:
    """The worker's log line saying how the task ended, or ""."""
    for text in worker.log().splitlines():
        if f"[{task_id}]" in text and ("succeeded in" in text or "raised" in text):
            return text
    return ""


def run(worker, timeout=60) -> str:
    """Send the task by name, as beat does, and wait for the worker's verdict."""
    task_id = warn_claim_deadlines.delay().id
    wait_until(lambda: outcome(worker, task_id), timeout, lambda: worker.log()[-3000:])
    return outcome(worker, task_id)


def warnings_by_claim(claims, user) -> dict[str, int]:
    return {
        claim.number: Notification.objects.filter(user=user, title__contains=claim.number).count()
        for claim in claims
    }


def test_a_beat_run_without_the_database_fails_loudly_and_the_next_catches_up(
    catalogue, firm_a, applicant_a, claims_handler, broker, workers, line, monkeypatch
):
    monkeypatch.setattr("underwriting.tasks.make_quote_pdf.delay", lambda *a: None)
    monkeypatch.setattr("underwriting.tasks.make_policy_document.delay", lambda *a: None)
    today = timezone.localdate()
    claims = [
        notify_claim(in_force_policy(firm_a, applicant_a), applicant_a),
        notify_claim(in_force_policy(firm_a, applicant_a), applicant_a),
    ]
    # One deadline due tomorrow, one overdue: both must be warned of today.
    Claim.objects.filter(pk=claims[0].pk).update(next_deadline_on=today + timedelta(days=1))
    Claim.objects.filter(pk=claims[1].pk).update(next_deadline_on=today - timedelta(days=2))
    Claim.objects.update(deadline_warned_on=None)
    Notification.objects.filter(user=claims_handler).delete()
    worker = workers(broker_url=broker.url, db_url=line.url)

    line.cut()
    verdict = run(worker)
    assert "raised" in verdict and "OperationalError" in verdict, verdict
    assert warnings_by_claim(claims, claims_handler) == {c.number: 0 for c in claims}
    assert not Claim.objects.filter(deadline_warned_on__isnull=False).exists()

    line.restore()
    verdict = run(worker)
    assert re.search(r"succeeded in [\d.]+s: 2$", verdict), verdict
    assert warnings_by_claim(claims, claims_handler) == {c.number: 1 for c in claims}
    assert Claim.objects.filter(deadline_warned_on=today).count() == 2

    verdict = run(worker)
    assert re.search(r"succeeded in [\d.]+s: 0$", verdict), verdict
    assert warnings_by_claim(claims, claims_handler) == {c.number: 1 for c in claims}

    if connection.vendor != "postgresql":
        return
    # A cut in the middle of a run, between a claim's warning and its mark (yesterday's marks
    # make both claims due again).
    Claim.objects.update(deadline_warned_on=today - timedelta(days=1))
    line.proxy.cut_on(
        b'INSERT INTO "portal_notification"',
        b'UPDATE "claims_claim" SET "deadline_warned_on"',
        nth=2,
    )
    verdict = run(worker)
    assert "raised" in verdict, verdict
    assert line.proxy.cuts >= 1
    assert warnings_by_claim(claims, claims_handler) == {c.number: 1 for c in claims}
    line.restore()
    verdict = run(worker)
    assert re.search(r"succeeded in [\d.]+s: 2$", verdict), verdict
    assert warnings_by_claim(claims, claims_handler) == {c.number: 2 for c in claims}
