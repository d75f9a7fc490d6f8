"""Splitting money recovered from the liable party between insurer and insured. Pure.

After paying, the insurer steps into the insured's rights against whoever caused the loss
(clause art. 33, Insurance Law art. 60), but only as far as it has paid: whatever comes back
beyond the insurer's outstanding payment belongs to the insured. Within that bound, products
differ in who is made whole first; the rule is clause data (``method``, ``insurer_percent``):

* ``insurer_first``: the insurer recovers what it paid, the rest goes to the insured;
* ``insured_first``: the insured's own uninsured loss (deductible, under-insurance, costs above
  the limit) is made good first, the insurer takes the next part;
* ``pro_rata``: each side takes its share of every receipt, in proportion to what it bore;
* ``percentage``: the insurer takes a fixed percentage of every receipt (some enforcement covers
  abroad take 25 % of what the insured wins).

In every method the insurer never takes more than it has paid and not yet recovered, and what
it cannot take goes to the insured, so the two parts always add up to the amount received.
Money is Decimal yuan; the insurer's part is rounded half-up to the fen and the insured's part
is the exact remainder.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")

INSURER_FIRST = "insurer_first"
INSURED_FIRST = "insured_first"
PRO_RATA = "pro_rata"
PERCENTAGE = "percentage"
METHODS = (INSURER_FIRST, INSURED_FIRST, PRO_RATA, PERCENTAGE)


class RecoveryError(ValueError):
    pass


@dataclass(frozen=True)
class Split:
    insurer: Decimal
    insured: Decimal


def _money(value, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise RecoveryError(f"{name} must be a Decimal or an int.")
    value = Decimal(value)
    if not value.is_finite() or value < 0:
        raise RecoveryError(f"{name} must be a finite amount of zero or more.")
    if value != value.quantize(CENT):
        raise RecoveryError(f"{name} has more than two decimal places.")
    return value


def split_recovery(
    amount,
    *,
    method: str,
    insurer_paid,
    insurer_recovered=ZERO,
    insured_uninsured_loss=ZERO,
    insured_recovered=ZERO,
    insurer_percent=ZERO,
) -> Split:
    """Split one receipt of ``amount`` given what each side bore and has already recovered."""
    if method not in METHODS:
        raise RecoveryError(f"Unknown recovery sharing method {method!r}.")
    amount = _money(amount, "amount")
    paid = _money(insurer_paid, "insurer_paid")
    insurer_outstanding = max(paid - _money(insurer_recovered, "insurer_recovered"), ZERO)
    insured_outstanding = max(
        _money(insured_uninsured_loss, "insured_uninsured_loss")
        - _money(insured_recovered, "insured_recovered"),
        ZERO,
    )
    percent = Decimal(insurer_percent)
    if not percent.is_finite() or not ZERO <= percent <= HUNDRED:
        raise RecoveryError("insurer_percent must be between 0 and 100.")

    if method == INSURER_FIRST:
        insurer = min(amount, insurer_outstanding)
    elif method == INSURED_FIRST:
        insurer = min(max(amount - insured_outstanding, ZERO), insurer_outstanding)
    elif method == PRO_RATA:
        borne = insurer_outstanding + insured_outstanding
        insurer = amount * insurer_outstanding / borne if borne else ZERO
        # What one side cannot absorb because it is already whole goes to the other.
        insurer = max(insurer, amount - insured_outstanding)
        insurer = min(insurer, insurer_outstanding)
    else:
        insurer = min(amount * percent / HUNDRED, insurer_outstanding)

    insurer = min(insurer.quantize(CENT, rounding=ROUND_HALF_UP), amount, insurer_outstanding)
    return Split(insurer=insurer, insured=amount - insurer)
