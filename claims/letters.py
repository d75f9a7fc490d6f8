"""Claim letters as PDF: the rejection (declination) notice and the settlement letter.

Letters from the insurer to the insured firm about a claim under an IP-insurance policy, rendered
with ``underwriting.documents.render_pdf`` (same light CJK face, same ``templates/pdf/base.css``)
from ``templates/pdf/claims/``. Like the quote and the policy schedule they are bilingual on
purpose, whatever the reader's UI language: every text is in Chinese first with the English beneath
or beside it, carried literally by the templates (no gettext). Money and dates are formatted here,
in Python, so nothing depends on the active translation or on number localisation.

The module is pure of the database: it takes plain dicts and values, so it works before (and
independently of) the claim models. A missing key or a value of the wrong type raises
``LetterError`` (a ``ValueError``) naming the key, before anything is rendered.

Context keys
------------
Money is ``Decimal`` (an ``int`` is accepted; a float is refused, it may already have lost the fen);
dates are ``datetime.date`` (a ``datetime`` is refused rather than truncated). A bilingual text is
``{"zh": ..., "en": ...}``.

Both letters:

``claim_number`` (str), ``policy_number`` (str)
``firm_name`` the insured firm, a str or a bilingual dict
``firm_address`` str, may be ""
``insurer`` bilingual dict, the insurer writing the letter
``product`` bilingual dict, the insurance product
``incident_date`` date of the incident (the loss event)
``notified_on`` date the claim was notified
``letter_date`` date of the letter
``handler_name`` str, the claims handler who signs
``reference`` str, the letter's own reference

Rejection (``rejection_letter_pdf``), in addition:

``reasons`` str, free text by the claims handler; must not be blank. Escaped like any other value
    and printed with its line breaks kept.
``clause_refs`` list of ``{"number": int, "title": {"zh", "en"}}``: the exclusions or conditions of
    the clause relied on (may be empty)
``decided_on`` date of the decision

The letter adds a fixed paragraph on the insured's remedies: a review by the insurer, a complaint
to the insurer or to the NFRA (国家金融监督管理总局), or the courts, and the two-year limitation
period of Insurance Law art. 26.

Settlement (``settlement_letter_pdf``), in addition:

``amount_claimed`` Decimal, what the insured claimed
``assessment`` dict from ``claims.indemnity.Assessment.to_dict()`` (Decimals as strings); the letter
    prints its steps: assessed amount, deductible, double-insurance share, recoveries deducted,
    remaining-sum-insured cap, payable
``payable`` Decimal, must equal the assessment's payable amount
``advance_paid`` Decimal, already paid in advance (Insurance Law art. 25); 0 when none
``balance_due`` Decimal, must equal ``payable - advance_paid``
``payment_due`` date the balance is paid by (10 days after the amount is agreed, art. 23)
``remaining_sum_insured_after`` Decimal, must equal the assessment's figure

The figures that a letter prints twice must agree: a letter whose amounts contradict each other
is refused (``LetterError``) rather than sent. The letter adds a fixed paragraph on subrogation
(Insurance Law art. 60): the insured helps the insurer recover from the liable party and reports
any amount it recovers later.

The intermediate figures of an assessment are unrounded (see ``claims.indemnity``); the letter
shows them rounded to the fen (ROUND_HALF_UP) and says so; the payable amount is exact.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from claims.indemnity import DEDUCTIBLE_AMOUNT, DEDUCTIBLE_NONE, DEDUCTIBLE_RATE
from underwriting.documents import render_pdf

__all__ = [
    "LetterError",
    "format_date",
    "format_money",
    "rejection_letter_context",
    "rejection_letter_pdf",
    "settlement_letter_context",
    "settlement_letter_pdf",
]

REJECTION_TEMPLATE = "pdf/claims/rejection_letter.html"
SETTLEMENT_TEMPLATE = "pdf/claims/settlement_letter.html"

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
# English month abbreviations, fixed: strftime's %b and Django's date filter follow the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MINUS = "\u2212"  # − (in the light face; a hyphen is too short beside figures)
NOTHING = "—"


class LetterError(ValueError):
    """The context of a letter is incomplete or inconsistent."""


# --- Formatting ----------------------------------------------------------------------------------


def format_money(value: Decimal) -> str:
    """Decimal("25000") → "¥25,000.00"; rounded half up to the fen; negatives as "−¥8,000.00"."""
    amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = MINUS if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def format_date(value: date) -> dict:
    """date(2026, 11, 25) → {"zh": "2026年11月25日", "en": "25 Nov 2026"}."""
    return {
        "zh": f"{value.year}年{value.month}月{value.day}日",
        "en": f"{value.day} {MONTHS[value.month - 1]} {value.year}",
    }


def _percent(value: Decimal) -> str:
    """Decimal("0.25") as a ratio → "25"; two places at most, no trailing zeros."""
    figure = (value * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP).normalize()
    return format(figure, "f")


def _rate(value: Decimal) -> str:
    """A percentage already (Decimal("10.00")) → "10"."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP).normalize(), "f")


# --- Reading the context -------------------------------------------------------------------------


def _get(context: dict, key: str):
    if not isinstance(context, dict):
        raise LetterError("The letter context must be a dict.")
    if key not in context:
        raise LetterError(f"The letter context has no {key!r}.")
    return context[key]


def _text(context: dict, key: str, *, required: bool = True) -> str:
    value = _get(context, key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise LetterError(f"{key} must be a string, not {type(value).__name__}.")
    value = value.strip()
    if required and not value:
        raise LetterError(f"{key} may not be blank.")
    return value


def _bilingual(value, key: str) -> dict:
    if isinstance(value, str):
        value = {"zh": value, "en": ""}
    if not isinstance(value, dict):
        raise LetterError(f"{key} must be a {{'zh', 'en'}} dict.")
    zh = str(value.get("zh") or "").strip()
    en = str(value.get("en") or "").strip()
    if not zh and not en:
        raise LetterError(f"{key} may not be blank.")
    # Chinese leads: an English-only value takes the first line rather than leaving it empty.
    return {"zh": zh or en, "en": en if zh else ""}


def _date(context: dict, key: str) -> date:
    value = _get(context, key)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise LetterError(f"{key} must be a datetime.date, not {type(value).__name__}.")
    return value


def _amount(value, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise LetterError(f"{key} must be a Decimal, not {type(value).__name__}.")
    amount = Decimal(value)
    if not amount.is_finite():
        raise LetterError(f"{key} must be finite.")
    if amount < 0:
        raise LetterError(f"{key} may not be negative.")
    return amount


def _money(context: dict, key: str) -> Decimal:
    return _amount(_get(context, key), key)


def _stored(assessment: dict, key: str) -> Decimal:
    """A figure of ``Assessment.to_dict()``: a Decimal written as a string."""
    if key not in assessment:
        raise LetterError(f"The assessment has no {key!r}.")
    return _stored_number(assessment[key], f"assessment[{key!r}]")


def _stored_number(value, label: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise LetterError(f"{label} must be a Decimal string.")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise LetterError(f"{label} is not a number: {value!r}.") from None
    if not amount.is_finite():
        raise LetterError(f"{label} must be finite.")
    return amount


def _common(context: dict) -> dict:
    """What both letters show: the parties, the claim and the letter's own details."""
    return {
        "claim_number": _text(context, "claim_number"),
        "policy_number": _text(context, "policy_number"),
        "firm": {
            "name": _bilingual(_get(context, "firm_name"), "firm_name"),
            "address": _text(context, "firm_address", required=False),
        },
        "insurer": _bilingual(_get(context, "insurer"), "insurer"),
        "product": _bilingual(_get(context, "product"), "product"),
        "incident_date": format_date(_date(context, "incident_date")),
        "notified_on": format_date(_date(context, "notified_on")),
        "letter_date": format_date(_date(context, "letter_date")),
        "handler_name": _text(context, "handler_name"),
        "reference": _text(context, "reference"),
    }


# --- The rejection -------------------------------------------------------------------------------


def _clause_refs(value) -> list[dict]:
    if not isinstance(value, list | tuple):
        raise LetterError("clause_refs must be a list.")
    refs = []
    for index, ref in enumerate(value):
        if not isinstance(ref, dict):
            raise LetterError(f"clause_refs[{index}] must be a dict.")
        number = ref.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise LetterError(f"clause_refs[{index}]['number'] must be an int.")
        refs.append(
            {"number": number, "title": _bilingual(ref.get("title"), f"clause_refs[{index}]")}
        )
    return refs


def rejection_letter_context(context: dict) -> dict:
    """What ``pdf/claims/rejection_letter.html`` shows, checked and formatted."""
    reasons = _text(context, "reasons")
    return {
        **_common(context),
        # One kind of line break for linebreaksbr; the text itself is escaped by the template.
        "reasons": reasons.replace("\r\n", "\n").replace("\r", "\n"),
        "clause_refs": _clause_refs(_get(context, "clause_refs")),
        "decided_on": format_date(_date(context, "decided_on")),
    }


def rejection_letter_pdf(context: dict) -> bytes:
    """The notice declining a claim, as PDF bytes (Chinese, then English)."""
    return render_pdf(REJECTION_TEMPLATE, rejection_letter_context(context))


# --- The settlement ------------------------------------------------------------------------------


def _step(label: dict, basis: dict, adjustment: Decimal | None, running: Decimal) -> dict:
    return {
        "label": label,
        "basis": basis,
        # Unrounded figures: a difference below half a fen is no adjustment on paper.
        "adjustment": NOTHING
        if adjustment is None or adjustment.quantize(CENT, rounding=ROUND_HALF_UP) == 0
        else format_money(-adjustment),
        "running": format_money(running),
    }


def _deductible_basis(assessment: dict) -> dict:
    basis = assessment.get("deductible_basis")
    if basis == DEDUCTIBLE_RATE:
        rate = _rate(_stored(assessment, "deductible_rate"))
        return {"zh": f"免赔率：核定金额的 {rate}%", "en": f"{rate}% of the assessed amount"}
    if basis == DEDUCTIBLE_AMOUNT:
        fixed = format_money(_stored(assessment, "deductible"))
        return {"zh": f"每次事故免赔额 {fixed}", "en": f"Fixed deductible of {fixed} per event"}
    if basis == DEDUCTIBLE_NONE:
        return {"zh": "无免赔", "en": "No deductible"}
    raise LetterError(f"Unknown deductible basis in the assessment: {basis!r}.")


def _assessment_steps(assessment: dict) -> tuple[list[dict], Decimal, Decimal]:
    """The rows of the settlement table, with the assessment's payable and remaining sum
    insured after this payment (for checking against the letter's own figures)."""
    if not isinstance(assessment, dict):
        raise LetterError("assessment must be the dict of Assessment.to_dict().")
    assessed = _stored(assessment, "assessed")
    deductible_applied = _stored(assessment, "deductible_applied")
    after_deductible = _stored(assessment, "after_deductible")
    this_sums = _stored(assessment, "this_sums_insured")
    others = assessment.get("other_sums_insured") or []
    if not isinstance(others, list | tuple):
        raise LetterError("assessment['other_sums_insured'] must be a list.")
    all_sums = this_sums + sum(
        (
            _stored_number(other, f"assessment['other_sums_insured'][{index}]")
            for index, other in enumerate(others)
        ),
        Decimal("0"),
    )
    share = _stored(assessment, "share")
    share_amount = _stored(assessment, "share_amount")
    recovered = _stored(assessment, "recovered")
    recovered_deducted = _stored(assessment, "recovered_deducted")
    after_recovery = _stored(assessment, "after_recovery")
    remaining = _stored(assessment, "remaining_sum_insured")
    payable = _stored(assessment, "payable")
    remaining_after = _stored(assessment, "remaining_sum_insured_after")

    if others:
        pct = _percent(share)
        share_basis = {
            "zh": f"存在重复保险：本保单保险金额 {format_money(this_sums)} ÷ "
            f"各保单合计 {format_money(all_sums)} = {pct}%",
            "en": f"Other insurance: this policy's {format_money(this_sums)} of "
            f"{format_money(all_sums)} in all = {pct}%",
        }
    else:
        share_basis = {"zh": "无重复保险，本保单承担 100%", "en": "No other insurance: 100%"}

    capped = min(after_recovery, remaining)
    if after_recovery > remaining:
        cap_basis = {
            "zh": f"剩余保险金额 {format_money(remaining)}，赔款以此为限",
            "en": f"Remaining sum insured {format_money(remaining)}: payment limited to it",
        }
    else:
        cap_basis = {
            "zh": f"剩余保险金额 {format_money(remaining)}，未超出",
            "en": f"Remaining sum insured {format_money(remaining)}: not exceeded",
        }

    steps = [
        _step(
            {"zh": "核定损失金额", "en": "Assessed amount"},
            {"zh": "按保险条款核定的损失及施救费用", "en": "Loss and mitigation costs as assessed"},
            None,
            assessed,
        ),
        _step(
            {"zh": "免赔额", "en": "Deductible"},
            _deductible_basis(assessment),
            deductible_applied,
            after_deductible,
        ),
        _step(
            {"zh": "重复保险分摊", "en": "Double-insurance share"},
            share_basis,
            after_deductible - share_amount,
            share_amount,
        ),
        _step(
            {"zh": "扣除已追回金额", "en": "Recoveries deducted"},
            {
                "zh": f"贵公司已从责任方获得 {format_money(recovered)}",
                "en": f"Recovered by you from the liable party: {format_money(recovered)}",
            }
            if recovered
            else {"zh": "无", "en": "None"},
            recovered_deducted,
            after_recovery,
        ),
        _step(
            {"zh": "剩余保险金额限制", "en": "Remaining-sum-insured cap"},
            cap_basis,
            after_recovery - capped,
            capped,
        ),
    ]
    return steps, payable, remaining_after


def settlement_letter_context(context: dict) -> dict:
    """What ``pdf/claims/settlement_letter.html`` shows, checked and formatted."""
    common = _common(context)
    steps, assessed_payable, assessed_remaining = _assessment_steps(_get(context, "assessment"))
    payable = _money(context, "payable")
    advance_paid = _money(context, "advance_paid")
    balance_due = _money(context, "balance_due")
    remaining_after = _money(context, "remaining_sum_insured_after")
    # The parties may agree less than the assessment (a negotiated settlement), never more.
    if payable > assessed_payable:
        raise LetterError(f"payable {payable} exceeds the assessment's payable {assessed_payable}.")
    if advance_paid > payable:
        raise LetterError(f"advance_paid {advance_paid} exceeds payable {payable}.")
    if balance_due != payable - advance_paid:
        raise LetterError(
            f"balance_due {balance_due} is not payable {payable} less advance_paid {advance_paid}."
        )
    if payable == assessed_payable and remaining_after != assessed_remaining:
        raise LetterError(
            f"remaining_sum_insured_after {remaining_after} differs from the assessment's "
            f"{assessed_remaining}."
        )
    return {
        **common,
        "amount_claimed": format_money(_money(context, "amount_claimed")),
        "steps": steps,
        "payable": format_money(payable),
        "advance_paid": format_money(advance_paid),
        "has_advance": advance_paid > 0,
        "balance_due": format_money(balance_due),
        "has_balance": balance_due > 0,
        "payment_due": format_date(_date(context, "payment_due")),
        "remaining_sum_insured_after": format_money(remaining_after),
    }


def settlement_letter_pdf(context: dict) -> bytes:
    """The letter settling a claim, with the calculation, as PDF bytes (Chinese, then English)."""
    return render_pdf(SETTLEMENT_TEMPLATE, settlement_letter_context(context))
