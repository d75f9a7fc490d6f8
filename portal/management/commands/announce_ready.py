import json
import signal
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import login_table


class Command(BaseCommand):
    help = "Wait until /healthz reports database, broker and worker healthy, then print the URL."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--timeout", type=int, default=180)
        parser.add_argument("--exit", action="store_true", help="Exit after announcing.")

    def handle(self, *args, url, timeout, exit=False, **options):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
                    report = json.load(response)
                if report.get("status") == "ok":
                    break
                last = report
            except OSError as error:
                body = getattr(error, "read", None)
                last = body().decode("utf-8", "replace") if body else str(error)
            time.sleep(1)
        else:
            self.stderr.write(f"Not healthy after {timeout} s: {last}")
            raise SystemExit(1)
        self.stdout.write(
            "\n"
            + "=" * 72
            + f"\nready: the portal is at {url}/  (admin: {url}/admin/, health: {url}/healthz)\n"
            + login_table(settings.PORTAL_DEMO_PASSWORD)
            + "\n"
            + "=" * 72
        )
        self.stdout.flush()
        if exit:
            return
        # Honcho stops every process when one exits; stay alive until Ctrl-C.
        signal.pause()
