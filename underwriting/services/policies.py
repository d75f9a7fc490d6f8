"""Binding and issue: the exclusion notice and its acknowledgement, the policy awaiting payment,
payments, issue with a gapless number, the policy document and the policy's life in time.

Insurance Law art. 17: an exclusion the insurer did not prominently prompt and explain has no
effect. The acknowledgement is the insurer's evidence, so no path issues a policy without a
complete one: the policy row cannot exist without an acknowledgement (a non-null one-to-one
key), and ``policy_issue`` re-checks that it covers every exclusion of the terms, by hash.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.errors import DomainError, PermissionDenied
from portal.history import acting_as
from portal.notifications import notify
from portal.selectors import firm_users
from portal.services import require_member
from underwriting import refunds
from underwriting.choices import (
    POLICY_TRANSITIONS,
    CancellationParty,
    ClauseStatus,
    DocumentStatus,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
    QuoteStatus,
)
from underwriting.models import (
    Acknowledgement,
    Cancellation,
    ClauseVersion,
    Endorsement,
    Instalment,
    Payment,
    Policy,
    PolicyDocument,
    PolicyNumberSequence,
    Quote,
    Rider,
    pick_language,
)
from underwriting.services.applications import _enqueue_quietly, quote_accept

__all__ = [
    "NOTICE_VERSION",
    "Notice",
    "NoticeItem",
    "acknowledgement_is_complete",
    "acknowledgement_record",
    "exclusion_notice",
    "instalment_plan",
    "instalments_remind_and_lapse",
    "notice_token",
    "payment_record",
    "policies_roll",
    "policy_document_request",
    "policy_issue",
    "policy_verify",
    "cancellation_quote",
    "policy_cancel",
    "cancellations_take_effect",
    "policy_endorse",
    "renewal_reminders",
    "policy_renew",
    "policy_sum_insured_erode",
    "policy_sum_insured_restore",
]

# The version of the notice page's layout and wording; stored with each acknowledgement so the
# page that was shown can be reproduced.
NOTICE_VERSION = "2026-11.1"
CENT = Decimal("0.01")
TOKEN_SALT = "underwriting.exclusion-notice"
TOKEN_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class NoticeItem:
    key: str  # "clause-3", "rider-R-ADVANCE-2", "special-1"
    source: dict  # {"zh": ..., "en": ...}: which wording the exclusion comes from
    title: dict
    text: dict
    explanation: dict


@dataclass(frozen=True)
class Notice:
    quote_id: int
    clause_version_id: int
    items: tuple[NoticeItem, ...]
    text: str
    sha256: str

    @property
    def keys(self) -> list[str]:
        return [item.key for item in self.items]


def _bilingual(value) -> dict:
    if isinstance(value, dict):
        return {"zh": value.get("zh") or "", "en": value.get("en") or ""}
    return {"zh": str(value or ""), "en": ""}


def _rider_versions(codes) -> dict[str, ClauseVersion]:
    versions = {}
    riders = Rider.objects.filter(code__in=list(codes))
    for rider in riders:
        version = (
            rider.clause_versions.filter(status=ClauseStatus.PUBLISHED).order_by("-number").first()
        )
        if version is not None:
            versions[rider.code] = version
    return versions


def exclusion_notice(quote: Quote) -> Notice:
    """Every exclusion the applicant must acknowledge for this quote — of the product's clause
    version, of each rider, and the special exclusions of the quote — and the exact text."""
    version = quote.application.clause_version
    product = quote.application.product
    items = []
    for number, exclusion in enumerate(version.exclusions or [], start=1):
        items.append(
            NoticeItem(
                key=f"clause-{number}",
                source={"zh": f"{product.name_zh} {version.label}", "en": product.name_en},
                title=_bilingual(exclusion.get("title")),
                text=_bilingual(exclusion.get("text")),
                explanation=_bilingual(exclusion.get("explanation")),
            )
        )
    riders = _rider_versions(quote.rider_codes or [])
    for code in quote.rider_codes or []:
        rider_version = riders.get(code)
        if rider_version is None:
            continue
        rider = rider_version.rider
        for number, exclusion in enumerate(rider_version.exclusions or [], start=1):
            items.append(
                NoticeItem(
                    key=f"rider-{code}-{number}",
                    source={"zh": rider.name_zh, "en": rider.name_en},
                    title=_bilingual(exclusion.get("title")),
                    text=_bilingual(exclusion.get("text")),
                    explanation=_bilingual(exclusion.get("explanation")),
                )
            )
    for number, exclusion in enumerate(quote.special_exclusions or [], start=1):
        items.append(
            NoticeItem(
                key=f"special-{number}",
                source={"zh": "本报价特别约定", "en": "Special terms of this quote"},
                title=_bilingual(exclusion.get("title")),
                text=_bilingual(exclusion.get("text")),
                explanation=_bilingual(exclusion.get("explanation")),
            )
        )
    lines = [f"NOTICE {NOTICE_VERSION} QUOTE {quote.number} CLAUSE {version.text_sha256}"]
    for item in items:
        for language in ("zh", "en"):
            lines.append(
                f"[{item.key}] {item.source[language]} | {item.title[language]} | "
                f"{item.text[language]} | {item.explanation[language]}"
            )
    text = "\n".join(lines) + "\n"
    return Notice(
        quote_id=quote.pk,
        clause_version_id=version.pk,
        items=tuple(items),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def notice_token(*, quote: Quote, user, notice: Notice) -> str:
    """A signed record of when the notice was shown to this user: the reading time is measured
    on the server from it, so a client cannot shorten it."""
    return signing.TimestampSigner(salt=TOKEN_SALT).sign(f"{quote.pk}:{user.pk}:{notice.sha256}")


def _shown_at(token: str, *, quote: Quote, user, notice: Notice) -> datetime:
    signer = signing.TimestampSigner(salt=TOKEN_SALT)
    try:
        value = signer.unsign(token, max_age=TOKEN_MAX_AGE)
        # "value:timestamp:signature"; the value itself contains the separator.
        timestamp = signing.b62_decode(token.rsplit(signer.sep, 2)[1])
    except (signing.BadSignature, IndexError, ValueError):
        raise DomainError(
            _("The notice page has expired or was changed. Open it again."), code="token"
        ) from None
    if value != f"{quote.pk}:{user.pk}:{notice.sha256}":
        raise DomainError(
            _("The exclusions changed since the page was opened. Read them again."), code="token"
        )
    return datetime.fromtimestamp(timestamp, tz=timezone.get_current_timezone())


def _parse_tick_time(value, shown_at: datetime, now: datetime):
    if value in (None, "", False):
        return None
    if value is True or value == "on":
        return now
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return now
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    # A clock that runs wrong in the browser cannot put a tick outside the reading.
    return min(max(moment, shown_at), now)


def acknowledgement_is_complete(acknowledgement: Acknowledgement, quote: Quote) -> bool:
    """True when the record covers every exclusion of the quote's notice, each ticked, with the
    hash of the same text."""
    notice = exclusion_notice(quote)
    if acknowledgement.text_sha256 != notice.sha256 or acknowledgement.quote_id != quote.pk:
        return False
    ticked = {item.get("key") for item in acknowledgement.items or [] if item.get("ticked_at")}
    return set(notice.keys) <= ticked and bool(acknowledgement.confirmed_at)


def instalment_plan(premium: Decimal, count: int, first_due: date) -> list[tuple[date, Decimal]]:
    """Equal instalments spread over the year (every 12/n months when n divides 12, else
    monthly), adding up to the premium exactly (``refunds.instalment_schedule``)."""
    if count < 1:
        raise DomainError(_("Choose at least one instalment."))
    step = 12 // count if 12 % count == 0 else 1
    schedule = refunds.instalment_schedule(premium, count, first_due, months_between=step)
    return [(item.due, item.amount) for item in schedule.instalments]


def _terms_snapshot(quote: Quote, notice: Notice) -> dict:
    application = quote.application
    product = application.product
    return {
        "product": {"code": product.code, "zh": product.name_zh, "en": product.name_en},
        "clause_version": {
            "id": application.clause_version_id,
            "label": application.clause_version.label,
            "sha256": application.clause_version.text_sha256,
        },
        "insured": [
            {
                "id": item.asset_id,
                "kind": item.asset.kind,
                "number": item.asset.number,
                "title": item.asset.title,
            }
            for item in application.insured_assets.select_related("asset")
        ],
        "limits": quote.limits,
        "deductible": quote.deductible,
        "riders": quote.rider_codes,
        "insurers": [
            {
                "code": share.insurer.code,
                "zh": share.insurer.name_zh,
                "en": share.insurer.name_en,
                "share": str(share.share) if share.share is not None else None,
            }
            for share in product.insurer_shares.select_related("insurer").order_by("insurer__code")
        ],
        "exclusions": [
            {
                "key": item.key,
                "source": item.source,
                "title": item.title,
                "text": item.text,
                "explanation": item.explanation,
            }
            for item in notice.items
        ],
        "breakdown": quote.breakdown,
    }


@transaction.atomic
def acknowledgement_record(
    *,
    quote: Quote,
    actor,
    token: str,
    text_sha256: str,
    ticks: dict,
    confirmed: bool,
    instalments: int = 1,
    ip_address: str | None = None,
    user_agent: str = "",
    channel: str = "portal",
) -> Policy:
    """The applicant acknowledges every exclusion and accepts the quote: the acknowledgement is
    written, the quote accepted and the policy created awaiting payment."""
    quote = Quote.objects.select_for_update().select_related("application").get(pk=quote.pk)
    application = quote.application
    require_member(firm=application.firm, user=actor)
    if quote.status != QuoteStatus.OFFERED:
        raise DomainError(_("This quote can no longer be accepted."), code="transition")
    if quote.valid_until < timezone.localdate():
        raise DomainError(_("This quote has expired. Ask for a new one."), code="expired")
    notice = exclusion_notice(quote)
    if text_sha256 != notice.sha256:
        raise DomainError(
            _("The text you confirmed is not the text of these exclusions. Read them again."),
            code="hash",
        )
    shown_at = _shown_at(token, quote=quote, user=actor, notice=notice)
    now = timezone.now()
    dwell = int((now - shown_at).total_seconds())
    minimum = int(getattr(settings, "EXCLUSION_NOTICE_MIN_SECONDS", 30))
    if dwell < minimum:
        raise DomainError(
            _(
                "Please take the time to read every exclusion: the notice must stay open for at "
                "least %(seconds)d seconds (%(dwell)d so far)."
            )
            % {"seconds": minimum, "dwell": dwell},
            code="too_fast",
        )
    items = []
    missing = []
    for item in notice.items:
        ticked_at = _parse_tick_time(ticks.get(item.key), shown_at, now)
        if ticked_at is None:
            missing.append(pick_language(item.title))
        items.append(
            {
                "key": item.key,
                "title": item.title,
                "ticked_at": ticked_at.isoformat() if ticked_at else None,
            }
        )
    if missing:
        raise DomainError(
            _("Tick every exclusion to confirm you have read it. Not yet ticked: %(items)s")
            % {"items": "、".join(missing)},
            code="ticks",
        )
    if not confirmed:
        raise DomainError(_("Confirm the notice as a whole."), code="confirm")
    product = application.product
    if not 1 <= int(instalments) <= max(product.max_instalments, 1):
        raise DomainError(
            _("This product allows at most %(n)d instalments.") % {"n": product.max_instalments}
        )
    acknowledgement = Acknowledgement.objects.create(
        quote=quote,
        application=application,
        firm=application.firm,
        user=actor,
        clause_version=application.clause_version,
        notice_version=NOTICE_VERSION,
        text_sha256=notice.sha256,
        notice_text=notice.text,
        items=items,
        shown_at=shown_at,
        confirmed_at=now,
        dwell_seconds=dwell,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:1000],
        channel=channel,
    )
    quote_accept(quote=quote, actor=actor, acknowledgement=acknowledgement)
    today = timezone.localdate()
    start = max(application.wished_start or today, today)
    end = refunds.add_months(start, 12) - timedelta(days=1)
    with acting_as(actor):
        policy = Policy.objects.create(
            application=application,
            quote=quote,
            acknowledgement=acknowledgement,
            firm=application.firm,
            product=product,
            clause_version=application.clause_version,
            start_date=start,
            end_date=end,
            premium=quote.premium,
            sum_insured=quote.sum_insured,
            remaining_sum_insured=quote.sum_insured,
            terms=_terms_snapshot(quote, notice),
        )
    first_due = min(start, today + timedelta(days=7))
    Instalment.objects.bulk_create(
        Instalment(policy=policy, sequence=i, due_date=due, amount=amount)
        for i, (due, amount) in enumerate(
            instalment_plan(quote.premium, int(instalments), first_due), start=1
        )
    )
    notify(
        users=firm_users(application.firm),
        title=gettext_lazy("Quote %(number)s accepted: pay to start your cover"),
        body=gettext_lazy("First payment CNY %(amount)s, due %(due)s."),
        params={
            "number": quote.number,
            "amount": f"{policy.instalments.first().amount:,.2f}",
            "due": first_due.isoformat(),
        },
        url=f"/app/policies/{policy.pk}/",
        firm=application.firm,
    )
    return policy


# --- Payment and issue -------------------------------------------------------------------------


def _policy_transition(policy: Policy, target: str, actor) -> None:
    current = PolicyStatus(policy.status)
    if target not in POLICY_TRANSITIONS[current]:
        raise DomainError(
            _("The policy is %(status)s and cannot become %(target)s.")
            % {"status": current.label, "target": PolicyStatus(target).label},
            code="transition",
        )
    with acting_as(actor if getattr(actor, "pk", None) else None):
        policy.status = target
        policy.status_changed_at = timezone.now()
        policy.save(update_fields=["status", "status_changed_at"])


def _may_record_payments(user) -> bool:
    return bool(user and user.is_staff and user.has_perm("underwriting.add_payment"))


@transaction.atomic
def payment_record(
    *,
    policy: Policy,
    actor,
    amount,
    reference: str,
    method: str = PaymentMethod.BANK_TRANSFER,
    received_at=None,
) -> Payment:
    """A payment of the next instalment due: booked by staff on bank reconciliation, or by the
    payment provider's confirmation (``actor`` None with the sandbox). The first payment issues
    the policy."""
    if method == PaymentMethod.BANK_TRANSFER and not _may_record_payments(actor):
        raise PermissionDenied(_("Only insurer staff may record bank transfers."))
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status not in (
        PolicyStatus.AWAITING_PAYMENT,
        PolicyStatus.ISSUED,
        PolicyStatus.IN_FORCE,
    ):
        raise DomainError(_("This policy takes no more payments."))
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the bank or provider reference."))
    if Payment.objects.filter(method=method, reference=reference).exists():
        raise DomainError(_("A payment with this reference was already recorded."), code="dup")
    instalment = (
        Instalment.objects.select_for_update()
        .filter(policy=policy, status=InstalmentStatus.DUE)
        .order_by("sequence")
        .first()
    )
    if instalment is None:
        raise DomainError(_("Nothing is due on this policy."))
    try:
        amount = Decimal(str(amount)).quantize(CENT)
    except ArithmeticError:
        raise DomainError(_("Enter the amount received.")) from None
    if amount != instalment.amount:
        raise DomainError(
            _("The amount due is CNY %(due)s; record payments one instalment at a time.")
            % {"due": f"{instalment.amount:,.2f}"},
            code="amount",
        )
    received_at = received_at or timezone.now()
    with acting_as(actor):
        payment = Payment.objects.create(
            policy=policy,
            instalment=instalment,
            amount=amount,
            method=method,
            reference=reference,
            received_at=received_at,
            recorded_by=actor if getattr(actor, "pk", None) else None,
        )
        instalment.status = InstalmentStatus.PAID
        instalment.paid_at = received_at
        instalment.save(update_fields=["status", "paid_at"])
    if policy.status == PolicyStatus.AWAITING_PAYMENT:
        policy_issue(policy=policy, actor=actor)
    return payment


def _next_number(policy: Policy) -> str:
    year = policy.start_date.year
    sequence, _ = PolicyNumberSequence.objects.get_or_create(product=policy.product, year=year)
    sequence = PolicyNumberSequence.objects.select_for_update().get(pk=sequence.pk)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"{policy.product.code}-{year}-{sequence.last:06d}"


@transaction.atomic
def policy_issue(*, policy: Policy, actor) -> Policy:
    """Give the policy its number and its document. Only with a complete acknowledgement and
    the first premium paid (clause art. 19: no payment, no cover)."""
    policy = (
        Policy.objects.select_for_update()
        .select_related("acknowledgement", "quote", "product")
        .get(pk=policy.pk)
    )
    if policy.status != PolicyStatus.AWAITING_PAYMENT:
        raise DomainError(_("This policy was already issued."), code="transition")
    if not acknowledgement_is_complete(policy.acknowledgement, policy.quote):
        raise DomainError(
            _("The exclusions were not acknowledged completely; the policy cannot be issued."),
            code="acknowledgement",
        )
    first = policy.instalments.order_by("sequence").first()
    if first is None or first.status != InstalmentStatus.PAID:
        raise DomainError(_("The first premium is not paid yet."), code="unpaid")
    policy.number = _next_number(policy)
    policy.issued_at = timezone.now()
    with acting_as(actor if getattr(actor, "pk", None) else None):
        policy.save(update_fields=["number", "issued_at"])
    _policy_transition(policy, PolicyStatus.ISSUED, actor)
    if policy.start_date <= timezone.localdate():
        _policy_transition(policy, PolicyStatus.IN_FORCE, actor)
    policy_document_request(policy)
    notify(
        users=firm_users(policy.firm),
        title=gettext_lazy("Policy %(number)s is issued"),
        body=gettext_lazy("Cover from %(start)s to %(end)s."),
        params={
            "number": policy.number,
            "start": policy.start_date.isoformat(),
            "end": policy.end_date.isoformat(),
        },
        url=f"/app/policies/{policy.pk}/",
        firm=policy.firm,
    )
    return policy


def policy_document_request(policy: Policy) -> PolicyDocument:
    """Queue a new current document version (the record), then enqueue its making."""
    version = policy.version
    PolicyDocument.objects.filter(policy=policy, is_current=True).update(is_current=False)
    document, _ = PolicyDocument.objects.update_or_create(
        policy=policy,
        version=version,
        defaults={"status": DocumentStatus.QUEUED, "is_current": True},
    )
    from underwriting.tasks import make_policy_document

    document_id = document.pk
    transaction.on_commit(lambda: _enqueue_quietly(make_policy_document, document_id))
    return document


def policy_verify(number: str, code: str) -> Policy | None:
    """The public check: both the number and its verification code must match."""
    number = (number or "").strip().upper()
    code = (code or "").strip().upper().replace(" ", "")
    if not number or not code:
        return None
    policy = Policy.objects.select_related("product", "firm").filter(number=number).first()
    if policy is None or not constant_time_compare(policy.verification_code, code):
        return None
    return policy


def policies_roll(today: date | None = None) -> dict:
    """Beat: issued policies whose start has come go in force; in-force policies past their
    end expire."""
    today = today or timezone.localdate()
    started = ended = 0
    for policy_id in list(
        Policy.objects.filter(status=PolicyStatus.ISSUED, start_date__lte=today).values_list(
            "pk", flat=True
        )[:1000]
    ):
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=policy_id)
            if policy.status == PolicyStatus.ISSUED:
                _policy_transition(policy, PolicyStatus.IN_FORCE, None)
                started += 1
    for policy_id in list(
        Policy.objects.filter(status=PolicyStatus.IN_FORCE, end_date__lt=today).values_list(
            "pk", flat=True
        )[:1000]
    ):
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=policy_id)
            if policy.status == PolicyStatus.IN_FORCE:
                _policy_transition(policy, PolicyStatus.EXPIRED, None)
                ended += 1
    return {"started": started, "expired": ended}


REMINDER_DAYS_BEFORE = 7


def instalments_remind_and_lapse(today: date | None = None) -> dict:
    """Beat: remind the firm of an instalment due within a week (once), and lapse a policy whose
    instalment stays unpaid longer than the product allows (clause art. 19)."""
    today = today or timezone.localdate()
    reminded = lapsed = 0
    upcoming = (
        Instalment.objects.filter(
            status=InstalmentStatus.DUE,
            reminded_at__isnull=True,
            due_date__lte=today + timedelta(days=REMINDER_DAYS_BEFORE),
            policy__status__in=[
                PolicyStatus.AWAITING_PAYMENT,
                PolicyStatus.ISSUED,
                PolicyStatus.IN_FORCE,
            ],
        )
        .select_related("policy__firm")
        .order_by("due_date")[:1000]
    )
    for instalment in upcoming:
        # Claim the reminder first so that two beat runs never send it twice.
        claimed = Instalment.objects.filter(pk=instalment.pk, reminded_at__isnull=True).update(
            reminded_at=timezone.now()
        )
        if not claimed:
            continue
        policy = instalment.policy
        notify(
            users=firm_users(policy.firm),
            title=gettext_lazy("Premium instalment due on %(due)s"),
            body=gettext_lazy("CNY %(amount)s for %(policy)s."),
            params={
                "due": instalment.due_date.isoformat(),
                "amount": f"{instalment.amount:,.2f}",
                "policy": policy.number or policy.quote.number,
            },
            url=f"/app/policies/{policy.pk}/",
            firm=policy.firm,
        )
        reminded += 1
    overdue = (
        Instalment.objects.filter(
            status=InstalmentStatus.DUE,
            policy__status__in=[PolicyStatus.ISSUED, PolicyStatus.IN_FORCE],
        )
        .select_related("policy__product")
        .order_by("due_date")[:1000]
    )
    for instalment in overdue:
        grace = instalment.policy.product.lapse_after_days
        if instalment.due_date + timedelta(days=grace) >= today:
            continue
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=instalment.policy_id)
            if policy.status not in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE):
                continue
            _policy_transition(policy, PolicyStatus.LAPSED, None)
            policy.instalments.filter(status=InstalmentStatus.DUE).update(
                status=InstalmentStatus.WAIVED
            )
            notify(
                users=firm_users(policy.firm),
                title=gettext_lazy("Policy %(number)s has lapsed"),
                body=gettext_lazy("The instalment due on %(due)s was not paid."),
                params={"number": policy.number, "due": instalment.due_date.isoformat()},
                url=f"/app/policies/{policy.pk}/",
                firm=policy.firm,
            )
            lapsed += 1
    return {"reminded": reminded, "lapsed": lapsed}


# --- Cancellation ------------------------------------------------------------------------------


def _paid(policy: Policy) -> Decimal:
    """Premium the insurer holds: payments received less the return premium of endorsements
    (paid back when they were made), within 0 and the annual premium."""
    received = sum((p.amount for p in policy.payments.all()), Decimal("0.00"))
    returned = sum(
        (-e.premium_change for e in policy.endorsements.all() if e.premium_change < 0),
        Decimal("0.00"),
    )
    return min(max(received - returned, Decimal("0.00")), policy.premium)


def cancellation_quote(policy: Policy, *, by: str, effective_date: date) -> dict:
    """What a cancellation would refund, and why — shown before the firm or staff confirm."""
    premium = policy.premium
    if policy.status == PolicyStatus.AWAITING_PAYMENT:
        # No premium, no contract in effect (clause art. 19): nothing is kept or owed.
        paid = _paid(policy)
        return {
            "basis": "never_in_effect",
            "premium": str(premium),
            "kept": "0.00",
            "computed_refund": str(paid),
            "paid": str(paid),
            "refund": str(paid),
            "amount_owed": "0.00",
            "months_on_risk": None,
            "percent_kept": None,
            "days_on_risk": None,
            "days_in_period": None,
            "effective_date": effective_date.isoformat(),
        }
    if by == CancellationParty.POLICYHOLDER and effective_date < policy.start_date:
        fee = min(policy.product.cancellation_fee, premium)
        calculation = refunds.policyholder_cancellation_before_start_refund(premium, fee_amount=fee)
        basis = "before_start"
    elif by == CancellationParty.POLICYHOLDER:
        table = policy.clause_version.short_rate_table or refunds.STANDARD_SHORT_RATE_TABLE
        calculation = refunds.policyholder_cancellation_refund(
            premium, policy.start_date, policy.end_date, effective_date, tuple(table)
        )
        basis = "short_rate"
    else:
        calculation = refunds.insurer_cancellation_refund(
            premium, policy.start_date, policy.end_date, max(effective_date, policy.start_date)
        )
        basis = "pro_rata"
    settled = refunds.paid_premium_refund(calculation, _paid(policy))
    return {
        "basis": basis,
        "premium": str(premium),
        "kept": str(calculation.kept),
        "computed_refund": str(calculation.refund),
        "paid": str(settled.paid),
        "refund": str(settled.refund),
        "amount_owed": str(settled.amount_owed),
        "months_on_risk": getattr(calculation, "months_on_risk", None),
        "percent_kept": str(getattr(calculation, "percent_kept", "")) or None,
        "days_on_risk": getattr(calculation, "days_on_risk", None),
        "days_in_period": getattr(calculation, "days_in_period", None),
        "effective_date": effective_date.isoformat(),
    }


CANCELLABLE = (PolicyStatus.AWAITING_PAYMENT, PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)


@transaction.atomic
def policy_cancel(
    *, policy: Policy, actor, by: str, reason: str = "", notice_date: date | None = None
) -> Cancellation:
    """The policyholder cancels with effect today (a fee before cover starts, the short-period
    table after); the insurer cancels on 15 days' notice, pro rata by days. The refund never
    exceeds what was paid."""
    policy = (
        Policy.objects.select_for_update()
        .select_related("product", "clause_version")
        .get(pk=policy.pk)
    )
    if policy.status not in CANCELLABLE:
        raise DomainError(_("This policy can no longer be cancelled."), code="transition")
    if Cancellation.objects.filter(policy=policy).exists():
        raise DomainError(_("This policy is already being cancelled."), code="transition")
    today = timezone.localdate()
    if by == CancellationParty.POLICYHOLDER:
        require_member(firm=policy.firm, user=actor)
        effective = today
    elif by == CancellationParty.INSURER:
        if not (actor and actor.is_staff and actor.has_perm("underwriting.add_cancellation")):
            raise PermissionDenied(_("Only insurer staff may cancel on the insurer's behalf."))
        if not reason.strip():
            raise DomainError(_("Give the reason; the policyholder receives it with the notice."))
        effective = refunds.insurer_cancellation_effective_date(notice_date or today)
    else:
        raise DomainError(_("Unknown cancelling party."))
    explanation = cancellation_quote(policy, by=by, effective_date=effective)
    cancellation = Cancellation.objects.create(
        policy=policy,
        by=by,
        effective_date=effective,
        refund=Decimal(explanation["refund"]),
        kept=Decimal(explanation["kept"]),
        explanation=explanation,
        reason=reason.strip(),
        requested_by=actor,
    )
    if effective <= today:
        _end_by_cancellation(policy, actor)
    notify(
        users=firm_users(policy.firm),
        title=gettext_lazy("Policy %(number)s: cancellation effective %(date)s"),
        body=gettext_lazy("Refund CNY %(refund)s. %(reason)s"),
        params={
            "number": policy.number or policy.quote.number,
            "date": effective.isoformat(),
            "refund": f"{cancellation.refund:,.2f}",
            "reason": cancellation.reason,
        },
        url=f"/app/policies/{policy.pk}/",
        firm=policy.firm,
    )
    return cancellation


def _end_by_cancellation(policy: Policy, actor) -> None:
    _policy_transition(policy, PolicyStatus.CANCELLED, actor)
    policy.instalments.filter(status=InstalmentStatus.DUE).update(status=InstalmentStatus.WAIVED)


def cancellations_take_effect(today: date | None = None) -> int:
    """Beat: insurer cancellations whose notice period has run end the policy."""
    today = today or timezone.localdate()
    done = 0
    for cancellation in Cancellation.objects.filter(
        effective_date__lte=today, policy__status__in=CANCELLABLE
    ).select_related("policy")[:1000]:
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=cancellation.policy_id)
            if policy.status in CANCELLABLE:
                _end_by_cancellation(policy, None)
                done += 1
    return done


# --- Endorsements ------------------------------------------------------------------------------


@transaction.atomic
def policy_endorse(
    *,
    policy: Policy,
    actor,
    effective_date: date,
    limits: dict | None = None,
    add_asset_ids=(),
    remove_asset_ids=(),
    address: str | None = None,
) -> Endorsement:
    """A change during the period — limits, insured rights, address — priced with the same
    rating and answers, charged or returned pro rata by days; it makes a new policy version
    with a new document, and keeps the old terms on the endorsement."""
    from portal.models import IPAsset
    from underwriting.services.applications import sum_insured_of
    from underwriting.services.catalogue import premium_quote

    if not (actor and actor.is_staff and actor.has_perm("underwriting.add_endorsement")):
        raise PermissionDenied(_("Only insurer staff may endorse a policy."))
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status not in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE):
        raise DomainError(_("Only an issued policy can be endorsed."))
    if not policy.start_date <= effective_date <= policy.end_date:
        raise DomainError(_("The change must take effect within the policy period."))
    terms = dict(policy.terms)
    previous = dict(policy.terms)
    changes = {}
    insured = list(terms.get("insured", []))
    if remove_asset_ids:
        remove = {int(i) for i in remove_asset_ids}
        insured = [item for item in insured if item["id"] not in remove]
        changes["removed"] = sorted(remove)
    if add_asset_ids:
        assets = IPAsset.objects.filter(firm=policy.firm, pk__in=list(add_asset_ids))
        if assets.count() != len(set(add_asset_ids)):
            raise DomainError(_("Add only rights of the insured firm."))
        known = {item["id"] for item in insured}
        added = []
        for asset in assets:
            if asset.kind not in policy.product.ip_types:
                raise DomainError(_("This product does not cover some of the rights you chose."))
            if asset.pk not in known:
                added.append(asset.pk)
                insured.append(
                    {
                        "id": asset.pk,
                        "kind": asset.kind,
                        "number": asset.number,
                        "title": asset.title,
                    }
                )
        if added:
            changes["added"] = sorted(added)
    if not insured:
        raise DomainError(_("A policy needs at least one insured right."))
    new_limits = dict(terms.get("limits") or {})
    if limits:
        new_limits = {code: str(Decimal(str(value))) for code, value in limits.items() if value}
        changes["limits"] = new_limits
    if address is not None:
        changes["address"] = address.strip()
        terms["firm_address"] = address.strip()
    if not changes:
        raise DomainError(_("Nothing to change."))
    application = policy.application
    premium_changes = "limits" in changes or "added" in changes or "removed" in changes
    new_premium = policy.premium
    if premium_changes:
        from underwriting.services.applications import (
            _derived_rating_inputs,
            _insured,
            _risk_rating_inputs,
        )

        risk_choices, risk_values = _risk_rating_inputs(application)
        derived_choices, derived_values = _derived_rating_inputs(
            application, _insured(application), None
        )
        derived_values["aggregate_limit"] = str(
            sum_insured_of(policy.clause_version, new_limits, len(insured))
        )
        result = premium_quote(
            version=policy.clause_version,
            limits=new_limits,
            item_count=len(insured),
            choices={**risk_choices, **derived_choices},
            values={**risk_values, **derived_values},
            rider_codes=terms.get("riders") or [],
        )
        adjustment_percent = policy.quote.adjustment_percent
        new_premium = max(
            (result.total * (100 + adjustment_percent) / 100).quantize(CENT, ROUND_HALF_UP),
            policy.clause_version.minimum_premium,
        )
    adjustment = refunds.endorsement_adjustment(
        policy.premium, new_premium, policy.start_date, policy.end_date, effective_date
    )
    terms["insured"] = insured
    terms["limits"] = new_limits
    new_sum = sum_insured_of(policy.clause_version, new_limits, len(insured))
    used = policy.sum_insured - policy.remaining_sum_insured
    endorsement = Endorsement.objects.create(
        policy=policy,
        version=policy.version + 1,
        effective_date=effective_date,
        changes=changes,
        previous_terms=previous,
        premium_change=adjustment.adjustment,
        created_by=actor,
    )
    with acting_as(actor):
        policy.version += 1
        policy.terms = terms
        policy.premium = new_premium
        policy.sum_insured = new_sum
        policy.remaining_sum_insured = max(new_sum - used, Decimal("0.00"))
        policy.save(
            update_fields=["version", "terms", "premium", "sum_insured", "remaining_sum_insured"]
        )
    if adjustment.adjustment > 0:
        next_sequence = (policy.instalments.order_by("-sequence").first().sequence or 0) + 1
        Instalment.objects.create(
            policy=policy,
            sequence=next_sequence,
            due_date=max(effective_date, timezone.localdate()) + timedelta(days=15),
            amount=adjustment.adjustment,
        )
    policy_document_request(policy)
    notify(
        users=firm_users(policy.firm),
        title=gettext_lazy("Policy %(number)s was endorsed (version %(version)d)"),
        body=gettext_lazy("Premium change CNY %(change)s from %(date)s."),
        params={
            "number": policy.number,
            "version": policy.version,
            "change": f"{adjustment.adjustment:,.2f}",
            "date": effective_date.isoformat(),
        },
        url=f"/app/policies/{policy.pk}/",
        firm=policy.firm,
    )
    return endorsement


# --- Renewal -----------------------------------------------------------------------------------

RENEWAL_REMINDER_DAYS = 30


def renewal_reminders(today: date | None = None) -> int:
    """Beat: a month before a policy ends, invite the firm to renew (once per policy)."""
    today = today or timezone.localdate()
    sent = 0
    due = Policy.objects.filter(
        status__in=[PolicyStatus.ISSUED, PolicyStatus.IN_FORCE],
        end_date__lte=today + timedelta(days=RENEWAL_REMINDER_DAYS),
        end_date__gte=today,
        renewal_reminded_at__isnull=True,
    ).select_related("firm")[:1000]
    for policy in due:
        if not Policy.objects.filter(pk=policy.pk, renewal_reminded_at__isnull=True).update(
            renewal_reminded_at=timezone.now()
        ):
            continue
        notify(
            users=firm_users(policy.firm),
            title=gettext_lazy("Policy %(number)s ends on %(end)s: renew it"),
            body=gettext_lazy("Renewing starts a new application prefilled from this policy."),
            params={"number": policy.number, "end": policy.end_date.isoformat()},
            url=f"/app/policies/{policy.pk}/",
            firm=policy.firm,
        )
        sent += 1
    return sent


@transaction.atomic
def policy_renew(*, policy: Policy, actor):
    """A new draft application prefilled from the expiring policy — same product (its current
    wording), rights, limits, deductible, riders and answers — starting the day after it ends.
    The applicant checks the answers and submits; the rules run again."""
    from underwriting.models import Application, ApplicationAsset, ApplicationEvent
    from underwriting.services.applications import application_start, sum_insured_of

    require_member(firm=policy.firm, user=actor)
    # Locked so that two clicks cannot start two renewals.
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status not in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE, PolicyStatus.EXPIRED):
        raise DomainError(_("Only a policy that ran its course can be renewed."))
    if (
        Application.objects.filter(renewal_of=policy)
        .exclude(status__in=["declined", "withdrawn", "expired"])
        .exists()
    ):
        raise DomainError(_("A renewal of this policy is already under way."))
    old = policy.application
    new = application_start(firm=policy.firm, actor=actor, product=policy.product)
    insured_ids = [item["id"] for item in policy.terms.get("insured", [])]
    for position, item in enumerate(old.insured_assets.filter(asset_id__in=insured_ids)):
        ApplicationAsset.objects.create(
            application=new,
            asset_id=item.asset_id,
            position=position,
            valuation_answers=item.valuation_answers,
        )
    section_codes = {s.code for s in new.clause_version.rating_sections.all()}
    limits = {k: v for k, v in (policy.terms.get("limits") or {}).items() if k in section_codes}
    with acting_as(actor):
        new.limits = limits
        new.deductible = policy.terms.get("deductible") or ""
        new.rider_codes = policy.terms.get("riders") or []
        new.wished_start = policy.end_date + timedelta(days=1)
        new.risk_answers = dict(old.risk_answers)
        new.sum_insured = sum_insured_of(new.clause_version, limits, len(insured_ids))
        new.renewal_of = policy
        # Every step is shown again for checking: nothing is marked complete.
        new.completed_steps = []
        new.save()
    ApplicationEvent.objects.create(
        application=new,
        actor=actor,
        reason=_("Renewal of %(number)s.") % {"number": policy.number},
    )
    return new


# --- Sum insured after claims (clause art. 32) ------------------------------------------------


def policy_sum_insured_erode(*, policy: Policy, amount: Decimal, actor) -> Decimal:
    """Lower the remaining sum insured by a claim payment; returns what remains.

    Called inside the caller's transaction. The row is locked so that two payments at once
    cannot both spend the same remaining cover.
    """
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if amount <= 0:
        raise DomainError(_("A payment must be more than zero."))
    if amount > policy.remaining_sum_insured:
        raise DomainError(
            _("Only CNY %(remaining)s of the sum insured remains on this policy.")
            % {"remaining": f"{policy.remaining_sum_insured:,.2f}"},
            code="exhausted",
        )
    with acting_as(actor):
        policy.remaining_sum_insured -= amount
        policy.save(update_fields=["remaining_sum_insured"])
    return policy.remaining_sum_insured


def policy_sum_insured_restore(
    *, policy: Policy, amount: Decimal, premium: Decimal, due_date: date, actor
) -> Policy:
    """Restore cover eroded by payments, charging ``premium`` as an extra instalment due on
    ``due_date``; never above the sum insured the policy was written for."""
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status not in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE):
        raise DomainError(_("Only a policy in force can have its sum insured restored."))
    if amount <= 0 or policy.remaining_sum_insured + amount > policy.sum_insured:
        raise DomainError(
            _("At most CNY %(gap)s can be restored on this policy.")
            % {"gap": f"{policy.sum_insured - policy.remaining_sum_insured:,.2f}"},
            code="amount",
        )
    with acting_as(actor):
        policy.remaining_sum_insured += amount
        policy.save(update_fields=["remaining_sum_insured"])
        if premium > 0:
            last = policy.instalments.order_by("-sequence").values_list("sequence", flat=True)
            Instalment.objects.create(
                policy=policy,
                sequence=(last.first() or 0) + 1,
                due_date=due_date,
                amount=premium,
            )
    return policy
