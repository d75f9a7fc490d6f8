"""How much premium subsidy a request can get. Pure: no Django, Decimal only.

A programme pays a percentage of the premium actually paid (RULES.md §9, REFERENCE.md §5). The
percentage depends on the request:

* ``rate_first`` on a firm's first subsidised policy under the programme, ``rate_renewal`` on a
  later one (Beijing: 100 % then 80-90 %; Shaanxi 75 / 50 / 30 %);
* ``rate_champion`` instead for manufacturing single champions where the programme has one
  (Beijing's 80 % for champions against 90 % for SMEs);
* plus ``uplift_high_value`` percentage points when the insured patents are high-value or the
  cover is for Belt-and-Road markets (Shandong's +10 %);
* never above 100 %.

Then every cap applies, and the smallest wins:

* per item: ``cap_per_item`` × the number of insured rights (Wuxi: CNY 300,000 per item);
* per policy: ``cap_per_policy`` (Qingdao: 500,000 / 350,000);
* per firm per year: ``cap_per_firm_year`` less what the firm was already granted this year
  under the programme (Beijing overseas pilot: 800,000; Shenzhen: 200,000);
* the budget: what is left of the programme's budget for the year.

The amount is rounded down to the fen: a subsidy is public money and rounding never adds to it.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")

# The constraint that decided the amount, for the officer's page.
BY_RATE = "rate"
BY_ITEM_CAP = "cap_per_item"
BY_POLICY_CAP = "cap_per_policy"
BY_FIRM_YEAR_CAP = "cap_per_firm_year"
BY_BUDGET = "budget"


class AmountError(ValueError):
    pass


@dataclass(frozen=True)
class Rates:
    first: Decimal
    renewal: Decimal | None = None  # None: the same as the first
    champion: Decimal | None = None  # None: champions get the ordinary rate
    uplift_high_value: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("first", "renewal", "champion", "uplift_high_value"):
            value = getattr(self, name)
            if value is None:
                continue
            value = _decimal(value, name)
            if not ZERO <= value <= HUNDRED:
                raise AmountError(f"{name} must be a percentage between 0 and 100.")
            object.__setattr__(self, name, value)


def rate_for(rates: Rates, *, renewal: bool, single_champion: bool, high_value: bool) -> Decimal:
    """The percentage of premium this request is subsidised at."""
    if single_champion and rates.champion is not None:
        base = rates.champion
    elif renewal and rates.renewal is not None:
        base = rates.renewal
    else:
        base = rates.first
    if high_value:
        base += rates.uplift_high_value
    return min(base, HUNDRED)


@dataclass(frozen=True)
class Amount:
    amount: Decimal
    decided_by: str
    by_rate: Decimal
    limits: dict  # each constraint that applied → its value


def subsidy_amount(
    *,
    premium_paid,
    rate,
    items: int = 1,
    cap_per_item=None,
    cap_per_policy=None,
    cap_per_firm_year=None,
    used_this_year=ZERO,
    budget_left,
) -> Amount:
    """min(premium paid × rate, each cap, what the firm's annual cap and the budget leave)."""
    premium_paid = _money(premium_paid, "premium_paid")
    rate = _decimal(rate, "rate")
    if not ZERO <= rate <= HUNDRED:
        raise AmountError("rate must be a percentage between 0 and 100.")
    if isinstance(items, bool) or not isinstance(items, int) or items < 1:
        raise AmountError("items must be a positive int.")
    by_rate = (premium_paid * rate / HUNDRED).quantize(CENT, rounding=ROUND_DOWN)
    limits = {BY_RATE: by_rate}
    if cap_per_item is not None:
        limits[BY_ITEM_CAP] = _money(cap_per_item, "cap_per_item") * items
    if cap_per_policy is not None:
        limits[BY_POLICY_CAP] = _money(cap_per_policy, "cap_per_policy")
    if cap_per_firm_year is not None:
        cap = _money(cap_per_firm_year, "cap_per_firm_year")
        limits[BY_FIRM_YEAR_CAP] = max(cap - _money(used_this_year, "used_this_year"), ZERO)
    limits[BY_BUDGET] = max(_money(budget_left, "budget_left"), ZERO)
    # On a tie the earlier constraint in this order is named: the rate, then the caps.
    decided_by = min(limits, key=lambda key: limits[key])
    return Amount(amount=limits[decided_by], decided_by=decided_by, by_rate=by_rate, limits=limits)


def _decimal(value, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise AmountError(f"{name} must be a Decimal, an int or a numeric string.")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise AmountError(f"{name} is not a number.") from None
    if not number.is_finite():
        raise AmountError(f"{name} must be finite.")
    return number


def _money(value, name: str) -> Decimal:
    number = _decimal(value, name)
    if number < 0:
        raise AmountError(f"{name} cannot be negative.")
    return number
