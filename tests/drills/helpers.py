"""Small builders shared by the drills."""

from datetime import timedelta

from django.utils import timezone

from tests.underwriting.application_helpers import notice_token_shown_ago
from underwriting import services


def notice_form(quote, user) -> dict:
    """The exclusion notice as the page posts it, every box ticked after a proper read."""
    notice = services.exclusion_notice(quote)
    ticked = (timezone.now() - timedelta(seconds=10)).isoformat()
    data = {
        "token": notice_token_shown_ago(quote, user, 120),
        "text_sha256": notice.sha256,
        "confirm": "on",
    }
    for key in notice.keys:
        data[f"tick-{key}"] = "on"
        data[f"ticked_at-{key}"] = ticked
    return data
