"""Builders shared by the claims tests: an in-force policy, a reported claim, real files."""

import functools
import io
from datetime import timedelta
from decimal import Decimal

import pypdfium2
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from claims import services as claim_services
from claims.models import Claim
from tests.underwriting.application_helpers import acknowledge, filled_application
from underwriting import services
from underwriting.choices import PaymentMethod, PolicyStatus, QuoteStatus
from underwriting.models import Policy


def in_force_policy(firm, user, *, product_code: str = "PAT-ENF", **application) -> Policy:
    """Applied for, acknowledged, paid through the sandbox, then moved so cover started 30 days
    ago (so incidents in the recent past fall inside the period)."""
    app = filled_application(firm, user, product_code=product_code, **application)
    services.application_submit(application=app, actor=user, declaration=True)
    policy = acknowledge(app.quotes.get(status=QuoteStatus.OFFERED), user)
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.get(sequence=1).amount,
        reference=f"SANDBOX-{policy.pk}",
        method=PaymentMethod.SANDBOX,
    )
    today = timezone.localdate()
    start = today - timedelta(days=30)
    Policy.objects.filter(pk=policy.pk).update(
        start_date=start, end_date=start.replace(year=start.year + 1) - timedelta(days=1)
    )
    services.policies_roll(today=today)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE
    return policy


def notify_claim(policy, user, **overrides) -> Claim:
    fields = {
        "incident_date": timezone.localdate() - timedelta(days=3),
        "cause_number": 1,
        "right_ids": [item["id"] for item in policy.terms["insured"]],
        "description": "A competitor sells copies of our patented valve at trade fairs.",
        "amount_claimed": Decimal("80000.00"),
    }
    fields.update(overrides)
    return claim_services.claim_notify(policy=policy, actor=user, **fields)


@functools.cache
def pdf_bytes(pages: int = 1) -> bytes:
    """Cached: PDFium writes a fresh document ID on every save, and tests need equal files."""
    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def pdf_upload(name: str = "evidence.pdf", pages: int = 1, salt: bytes = b"") -> SimpleUploadedFile:
    """A real PDF; ``salt`` (appended after %%EOF, which readers ignore) makes its hash unique."""
    return SimpleUploadedFile(name, pdf_bytes(pages) + salt, content_type="application/pdf")
