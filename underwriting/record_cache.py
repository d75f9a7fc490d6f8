"""A submitted application's record on its page — how it was assessed and the declared answers —
rendered once and kept in the cache.

After the declaration the answers are frozen (``answers_sha256``), and the assessment (rule
results, valuations, rating) changes only through a save of the application, which moves
``updated_at``; the labels come from the published wording, which never changes. So the rendered
sections are kept under the application, its ``updated_at``, its answers digest, its wording, the
language and a digest of this release's templates and translations, so a release with other
markup or wording never meets the old rendering. Entries expire on their own as well (a rider's
name edited in the admin shows within the hour). A cache that cannot be reached costs only the
rendering, never the page.
"""

import functools
import hashlib
from pathlib import Path

from django.conf import settings
from django.template.loader import get_template
from django.utils.translation import get_language

from portal import quiet_cache

ENTRY_SECONDS = 3600
TEMPLATES = (
    "underwriting/app/_assessment.html",
    "underwriting/app/_rules.html",
    "underwriting/app/_valuations.html",
    "underwriting/app/_breakdown.html",
    "underwriting/app/_answers.html",
    "underwriting/app/_answer_groups.html",
)


@functools.cache
def release_digest() -> str:
    """The templates' sources and the compiled translations of this process, digested once."""
    digest = hashlib.sha256()
    for name in TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    for folder in settings.LOCALE_PATHS:
        for catalogue in sorted(Path(folder).glob("*/LC_MESSAGES/django.mo")):
            digest.update(catalogue.read_bytes())
    return digest.hexdigest()[:16]


def key(application) -> str:
    return ":".join(
        (
            "application-record",
            str(application.pk),
            application.updated_at.isoformat(),
            application.answers_sha256[:16],
            str(application.clause_version_id),
            get_language() or settings.LANGUAGE_CODE,
            release_digest(),
        )
    )


def get(key: str):
    return quiet_cache.get(key, purpose="application record")


def put(key: str, record) -> None:
    quiet_cache.put(key, record, ENTRY_SECONDS, purpose="application record")
