"""The portal's Celery app for a drill worker (``celery -A tests.drills.stalling_worker worker``)
that can be caught in the middle of a policy PDF.

With ``DRILL_HOLD_DIR`` set, each rendering of a policy schedule first drops a marker file
``started-<pid>-<n>`` in that folder (so the drill knows which process is rendering) and then
waits while a file named ``hold`` is there; the row lock of the document is already taken. The
production code has no hook for this: the patch lives only in this test-only entry point.
"""

import os
import time
from pathlib import Path

from celery import signals

from portal.celery import app

__all__ = ["app"]

HOLD_DIR = os.environ.get("DRILL_HOLD_DIR")
_installed = False


@signals.task_prerun.connect
def _hold_policy_pdfs(**kwargs):
    # On the first task of each process, when Django is set up for sure.
    global _installed
    if _installed or not HOLD_DIR:
        return
    _installed = True
    from underwriting import documents

    original = documents.render_policy_pdf
    folder = Path(HOLD_DIR)

    def render_policy_pdf(*args, **kwargs):
        (folder / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
        while (folder / "hold").exists():
            time.sleep(0.05)
        return original(*args, **kwargs)

    documents.render_policy_pdf = render_policy_pdf
