"""Payment providers: how the applicant pays an instalment online.

A provider takes the applicant from the policy page to its payment page (``start``) and, once the
provider confirms, books the payment through ``services.payment_record`` (``complete``). The
provider in use is ``settings.PAYMENT_PROVIDER`` ("sandbox" unless configured).

The sandbox stands in for a real provider in development and demonstrations: its "payment page"
is a page of the portal, clearly labelled, where the applicant chooses to pay or to cancel. Its
references are signed and used once: a replayed reference books nothing (the service refuses a
reference it has already booked).
"""

import secrets
from typing import Protocol

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from portal.errors import DomainError
from underwriting import services
from underwriting.choices import InstalmentStatus, PaymentMethod
from underwriting.models import Instalment, Payment, Policy

__all__ = [
    "PROVIDERS",
    "PaymentProvider",
    "SandboxProvider",
    "payment_provider",
]

DEFAULT_PROVIDER = "sandbox"


class PaymentProvider(Protocol):
    """What the portal needs of a payment provider."""

    code: str

    def start(self, instalment: Instalment, request) -> str:
        """Prepare the payment of ``instalment``; the URL to send the applicant to."""
        ...

    def complete(self, reference: str, *, policy: Policy, **details) -> Payment:
        """Book the payment the provider confirmed under ``reference``; raises DomainError when
        nothing may be booked (unknown, expired or already used reference)."""
        ...


class SandboxProvider:
    """A demonstration provider inside the portal: nothing is charged anywhere."""

    code = "sandbox"
    salt = "underwriting.payments.sandbox"
    max_age = 3600  # a started payment stays payable for an hour

    def _signer(self) -> signing.TimestampSigner:
        return signing.TimestampSigner(salt=self.salt)

    def reference_for(self, instalment: Instalment) -> str:
        """A signed one-time reference for paying this instalment."""
        return self._signer().sign(f"{instalment.pk}.{secrets.token_urlsafe(9)}")

    def start(self, instalment: Instalment, request) -> str:
        url = reverse("policies:sandbox_pay", kwargs={"pk": instalment.policy_id})
        return f"{url}?{urlencode({'ref': self.reference_for(instalment)})}"

    def instalment_of(self, reference: str, *, policy: Policy) -> Instalment:
        """The instalment a reference was issued for (of this policy); DomainError otherwise."""
        try:
            value = self._signer().unsign(reference or "", max_age=self.max_age)
            instalment_id = int(value.split(".", 1)[0])
        except signing.SignatureExpired:
            raise DomainError(
                _("This payment link has expired. Start the payment again."), code="expired"
            ) from None
        except (signing.BadSignature, ValueError):
            raise DomainError(_("This payment link is not valid."), code="reference") from None
        instalment = Instalment.objects.filter(pk=instalment_id, policy_id=policy.pk).first()
        if instalment is None:
            raise DomainError(_("This payment link is not valid."), code="reference")
        return instalment

    def booked_reference(self, reference: str) -> str:
        return f"SANDBOX-{reference}"

    def complete(self, reference: str, *, policy: Policy, **details) -> Payment:
        instalment = self.instalment_of(reference, policy=policy)
        booked = self.booked_reference(reference)
        with transaction.atomic():
            # The policy row is locked first, so that two links for the same instalment, paid
            # at the same moment, cannot pay the following instalment by accident.
            locked = Policy.objects.select_for_update().get(pk=policy.pk)
            instalment.refresh_from_db(fields=["status"])
            if instalment.status != InstalmentStatus.DUE:
                if Payment.objects.filter(method=PaymentMethod.SANDBOX, reference=booked).exists():
                    raise DomainError(
                        _("A payment with this reference was already recorded."), code="dup"
                    )
                raise DomainError(_("This instalment is already paid."), code="paid")
            next_due = (
                Instalment.objects.filter(policy=locked, status=InstalmentStatus.DUE)
                .order_by("sequence")
                .values_list("pk", flat=True)
                .first()
            )
            if next_due != instalment.pk:
                raise DomainError(_("This payment link is not valid."), code="reference")
            return services.payment_record(
                policy=locked,
                actor=None,
                amount=instalment.amount,
                reference=booked,
                method=PaymentMethod.SANDBOX,
            )


PROVIDERS: dict[str, type] = {SandboxProvider.code: SandboxProvider}


def payment_provider(code: str | None = None) -> PaymentProvider:
    """The provider configured in ``settings.PAYMENT_PROVIDER`` (or the one named)."""
    code = code or getattr(settings, "PAYMENT_PROVIDER", DEFAULT_PROVIDER) or DEFAULT_PROVIDER
    try:
        return PROVIDERS[code]()
    except KeyError:
        raise LookupError(f"Unknown payment provider {code!r}") from None
