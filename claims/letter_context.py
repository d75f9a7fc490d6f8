"""What a claim letter says, fixed when it is queued and kept with it as JSON.

The letter is evidence of what the insurer told the insured on that day, so its figures are taken
once, stored on the ``ClaimLetter`` row, and a re-render (after a worker died, say) prints the
same letter, not the claim as it stands later.
"""

from datetime import date
from decimal import Decimal

from django.utils import timezone

from claims import deadlines as statutory
from claims.choices import ClaimPaymentKind, LetterKind

_DATES = ("incident_date", "notified_on", "letter_date", "decided_on", "payment_due")
_MONEY = (
    "amount_claimed",
    "payable",
    "advance_paid",
    "balance_due",
    "remaining_sum_insured_after",
)


def _bi(zh: str, en: str) -> dict:
    return {"zh": zh or en, "en": en or zh}


def letter_context(claim, kind: str) -> dict:
    """The letter's content as JSON types (dates ISO, money strings)."""
    policy = claim.policy
    product = policy.product
    insurers = policy.terms.get("insurers") or []
    insurer = insurers[0] if insurers else {"zh": "", "en": ""}
    handler = claim.handler
    context = {
        "claim_number": claim.number,
        "policy_number": policy.number or "",
        "firm_name": _bi(claim.firm.name_zh, claim.firm.name_en),
        "firm_address": policy.terms.get("firm_address") or getattr(claim.firm, "address", ""),
        "insurer": _bi(insurer.get("zh", ""), insurer.get("en", "")),
        "product": _bi(product.name_zh, product.name_en),
        "incident_date": claim.incident_date.isoformat(),
        "notified_on": timezone.localdate(claim.notified_at).isoformat(),
        "letter_date": timezone.localdate().isoformat(),
        # Signed by the handler; a claim decided before anyone was assigned is signed by the
        # department, so a letter never goes out unsigned.
        "handler_name": (
            (handler.get_full_name() or handler.email) if handler else "理赔部 Claims department"
        ),
        "reference": "",
    }
    if kind == LetterKind.REJECTION:
        context.update(
            reasons=claim.decision_reasons,
            clause_refs=list(claim.rejection_clauses or []),
            decided_on=claim.decided_on.isoformat(),
        )
    else:
        assessment = claim.assessments.order_by("-created_at", "-id").first()
        advance = sum(
            (p.amount for p in claim.payments.filter(kind=ClaimPaymentKind.ADVANCE)),
            Decimal("0.00"),
        )
        agreed = claim.amount_agreed
        context.update(
            amount_claimed=str(claim.amount_claimed),
            assessment=assessment.result if assessment else {},
            payable=str(agreed),
            advance_paid=str(advance),
            balance_due=str(agreed - advance),
            payment_due=statutory.payment_due(claim.amount_agreed_on).isoformat(),
            remaining_sum_insured_after=str(policy.remaining_sum_insured - (agreed - advance)),
        )
    return context


def typed(context: dict) -> dict:
    """The stored JSON back as dates and Decimals, for the templates."""
    result = dict(context)
    for key in _DATES:
        if result.get(key):
            result[key] = date.fromisoformat(result[key])
    for key in _MONEY:
        if result.get(key) not in (None, ""):
            result[key] = Decimal(result[key])
    return result


def render_letter(letter) -> bytes:
    from claims import letters

    context = typed({**letter.context, "reference": letter.reference})
    if letter.kind == LetterKind.REJECTION:
        return letters.rejection_letter_pdf(context)
    return letters.settlement_letter_pdf(context)
