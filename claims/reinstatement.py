"""The premium for restoring sum insured eroded by claim payments (clause art. 32). Pure.

The insured buys back the cover for the rest of the period at the policy's own rate, by the day:
annual premium × (amount restored ÷ sum insured) × (days left ÷ days in the period). Policy
periods are inclusive of both dates, so a restoration effective on the last day pays for one day.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


class ReinstatementError(ValueError):
    pass


def reinstatement_premium(
    *,
    annual_premium: Decimal,
    sum_insured: Decimal,
    amount: Decimal,
    start: date,
    end: date,
    effective: date,
) -> Decimal:
    if not start <= effective <= end:
        raise ReinstatementError("The restoration must take effect within the policy period.")
    if sum_insured <= 0 or amount <= 0 or annual_premium < 0:
        raise ReinstatementError("Amounts must be positive.")
    if amount > sum_insured:
        raise ReinstatementError("Cannot restore more than the sum insured.")
    days_in_period = (end - start).days + 1
    days_left = (end - effective).days + 1
    premium = annual_premium * amount * days_left / (sum_insured * days_in_period)
    return premium.quantize(CENT, rounding=ROUND_HALF_UP)
