"""Indemnity for one loss event under one policy. Pure: no Django, Decimal only.

Clause art. 26-33 and Insurance Law art. 25 (domain RULES.md §6-§7). The rules, as this module
applies them:

* **Salvage (art. 27).** What is left of a damaged item may be kept by the insured at a value
  both sides agree. That value comes off the item's loss first, before anything else, because the
  insured never lost it.
* **Under-insurance (art. 28), item by item.** If the item's sum insured is at least its insured
  value, the insurer pays the real loss but never more than the insured value. If the sum insured
  is lower, the insured is treated as carrying the uninsured part of the risk: the loss is paid in
  the proportion sum insured ÷ insured value, and never more than the sum insured. Covers that
  have no insured value (liability, legal or investigation expenses) are not proportioned: the
  loss is paid up to the sum insured, which acts as the limit.
* **Mitigation costs (art. 29).** Necessary, reasonable costs the insured spent to stop or reduce
  the loss are paid on top of the loss, scaled by the same proportion, under a cap of their own:
  the item's insured value, or its sum insured when it is under-insured (the sum insured when
  there is no insured value). Because this cap is separate, loss plus mitigation on one item may
  exceed its sum insured; only the policy's remaining sum insured (below) limits the total.
* **Deductible (art. 30), once per event.** Either a fixed amount or a rate (a percentage, 0-100)
  of the amount assessed so far, never both. It is taken off the event's total, after the
  proportion and the mitigation costs, so an event with several damaged items bears a single
  deductible. The assessed amount it works on includes mitigation costs: the clause deducts from
  "the amount calculated" under the preceding articles, and mitigation is calculated there. The
  deductible never takes the amount below zero.
* **Double insurance (art. 31).** When other policies cover the same items against the same
  risk, this policy pays its share: its sum insured ÷ the sums insured of all policies together
  (this one included), of the amount left after the deductible. The insurer does not advance the
  other insurers' shares.
* **Recoveries (art. 33).** Whatever the insured has already recovered from the party liable for
  the loss is set off against this policy's payment (after its share), never making it negative.
  ``recovered`` is therefore the amount to set off against this policy.
* **Erosion (art. 32).** Every payment lowers the policy's sum insured by the amount paid, so a
  payment can never exceed the remaining sum insured; the result reports what remains after it.
  (Restoring the sum insured for an extra pro-rata premium is underwriting's business.)
* **Advance payment (Insurance Law art. 25).** If the amount is not settled within 60 days of
  receiving the claim and its documents, the insurer pays the part it can already determine and
  the balance later: ``advance_payment``.

Order of the steps, per event (each feeds the next):

1. per item: loss − salvage → × proportion, capped → plus mitigation × proportion, capped;
2. sum over the items (the *assessed* amount);
3. − deductible, once;
4. × double-insurance share;
5. − amounts already recovered;
6. capped at the remaining sum insured;
7. rounded ROUND_HALF_UP to the fen: the **payable** amount.

Double insurance and under-insurance together: the under-insurance test compares the insured
value with the cover of *all* policies, not with this policy's sum insured alone, otherwise each
insurer would cut the loss twice (once for under-insurance, again for its share). With one item,
loss 80,000, insured value 200,000, this sum insured 50,000 and another policy of 150,000, the
combined 200,000 equals the insured value, so nothing is proportioned; this policy then pays
50,000 ÷ 200,000 of 80,000 = 20,000. With several items, ``other_sums_insured`` is given per event,
so each item's combined cover is taken as its own sum insured × (all sums insured ÷ this policy's
sums insured), i.e. the other policies are assumed to spread their cover over the items as this
one does. The share then brings each item back within this policy's own sum insured, so the share
never pays more than this policy's own limits.

Money is ``Decimal`` in yuan with at most two places (fen); ints are accepted and floats refused.
Rates are percentages. Intermediate figures are kept unrounded (60 significant digits, far more
than any amount below ``MAX_AMOUNT`` needs), so the single rounding is the one at step 7; the
figures on the item lines are those unrounded values, for a page to format.
"""

from dataclasses import dataclass, fields, is_dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal("1")
HUNDRED = Decimal("100")
# Keeps every product of amounts exact within the working precision, so the one rounding at the
# payable amount is the only rounding that can change a fen.
MAX_AMOUNT = Decimal("1e15")

_WORKING = Context(prec=60, traps=[InvalidOperation, DivisionByZero, Overflow])

DEDUCTIBLE_NONE = "none"
DEDUCTIBLE_AMOUNT = "amount"
DEDUCTIBLE_RATE = "rate"


class IndemnityError(ValueError):
    pass


# --- validation ----------------------------------------------------------------------------


def _money(value: object, name: str) -> Decimal:
    # A float may already have lost the fen before it reaches us, so it is refused outright.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise IndemnityError(f"{name} must be a Decimal (or an int), not {type(value).__name__}.")
    amount = Decimal(value)
    if not amount.is_finite():
        raise IndemnityError(f"{name} must be finite.")
    if amount < 0:
        raise IndemnityError(f"{name} may not be negative.")
    if amount >= MAX_AMOUNT:
        raise IndemnityError(f"{name} is too large.")
    normalised = amount.quantize(CENT)
    if normalised != amount:
        raise IndemnityError(f"{name} must be a whole number of fen (two decimal places).")
    return normalised


def _positive_money(value: object, name: str) -> Decimal:
    # Zero would be a divisor in the proportion or the share, and means no cover anyway.
    amount = _money(value, name)
    if amount == 0:
        raise IndemnityError(f"{name} must be greater than zero.")
    return amount


def _percent(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise IndemnityError(f"{name} must be a Decimal (or an int) percentage.")
    percent = Decimal(value)
    if not percent.is_finite() or not 0 <= percent <= HUNDRED:
        raise IndemnityError(f"{name} must be between 0 and 100 (%).")
    return percent


def _sequence(value: object, name: str) -> tuple:
    # A frozen result must not share a list the caller can still change.
    if not isinstance(value, list | tuple):
        raise IndemnityError(f"{name} must be a list or a tuple.")
    return tuple(value)


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ItemInput:
    """One damaged item (or one cover section) of the policy hit by the event."""

    loss: Decimal
    insured_value: Decimal | None = None  # None: a cover with no insured value (liability)
    sum_insured: Decimal
    salvage: Decimal = ZERO
    mitigation_costs: Decimal = ZERO

    def __post_init__(self) -> None:
        loss = _money(self.loss, "loss")
        salvage = _money(self.salvage, "salvage")
        if salvage > loss:
            raise IndemnityError("The salvage value cannot exceed the loss it is part of.")
        insured_value = (
            None
            if self.insured_value is None
            else _positive_money(self.insured_value, "insured_value")
        )
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "salvage", salvage)
        object.__setattr__(self, "insured_value", insured_value)
        object.__setattr__(self, "sum_insured", _positive_money(self.sum_insured, "sum_insured"))
        object.__setattr__(
            self, "mitigation_costs", _money(self.mitigation_costs, "mitigation_costs")
        )


@dataclass(frozen=True, kw_only=True)
class EventInput:
    """One loss event under one policy; the deductible applies once to all its items."""

    items: tuple[ItemInput, ...]
    deductible_amount: Decimal = ZERO
    deductible_rate: Decimal = ZERO  # percent of the assessed amount
    recovered: Decimal = ZERO
    other_sums_insured: tuple[Decimal, ...] = ()
    remaining_sum_insured: Decimal

    def __post_init__(self) -> None:
        items = _sequence(self.items, "items")
        if not items:
            raise IndemnityError("An event needs at least one item.")
        if not all(isinstance(item, ItemInput) for item in items):
            raise IndemnityError("Every item must be an ItemInput.")
        others = tuple(
            _positive_money(amount, "Another policy's sum insured")
            for amount in _sequence(self.other_sums_insured, "other_sums_insured")
        )
        deductible_amount = _money(self.deductible_amount, "deductible_amount")
        deductible_rate = _percent(self.deductible_rate, "deductible_rate")
        if deductible_amount > 0 and deductible_rate > 0:
            # The clause offers one or the other; silently picking one would hide a data error.
            raise IndemnityError("Give either a fixed deductible or a deductible rate, not both.")
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "other_sums_insured", others)
        object.__setattr__(self, "deductible_amount", deductible_amount)
        object.__setattr__(self, "deductible_rate", deductible_rate)
        object.__setattr__(self, "recovered", _money(self.recovered, "recovered"))
        object.__setattr__(
            self,
            "remaining_sum_insured",
            _money(self.remaining_sum_insured, "remaining_sum_insured"),
        )


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemLine:
    """How one item's loss and mitigation costs were assessed (unrounded figures)."""

    loss: Decimal
    salvage: Decimal
    loss_after_salvage: Decimal
    insured_value: Decimal | None
    sum_insured: Decimal
    cover: Decimal  # the sum insured tested against the insured value (all policies together)
    under_insured: bool
    proportion: Decimal
    proportioned_loss: Decimal
    cap: Decimal
    loss_paid: Decimal
    loss_cap_applied: bool
    mitigation_costs: Decimal
    mitigation_proportioned: Decimal
    mitigation_paid: Decimal
    mitigation_cap_applied: bool
    total: Decimal


@dataclass(frozen=True)
class Assessment:
    """Every step from the items to the payable amount, in the order they were applied."""

    lines: tuple[ItemLine, ...]
    assessed: Decimal
    deductible_basis: str
    deductible_rate: Decimal
    deductible: Decimal  # the fixed amount, or rate × assessed
    deductible_applied: Decimal  # never more than the assessed amount
    after_deductible: Decimal
    this_sums_insured: Decimal
    other_sums_insured: tuple[Decimal, ...]
    share: Decimal  # 1 without double insurance
    share_amount: Decimal
    recovered: Decimal
    recovered_deducted: Decimal
    after_recovery: Decimal
    remaining_sum_insured: Decimal
    remaining_cap_applied: bool
    payable: Decimal  # two places, the only rounded figure
    remaining_sum_insured_after: Decimal

    def to_dict(self) -> dict:
        """Plain JSON types, Decimals as strings so that no fen is lost in a JSONField."""
        return _jsonable(self)


# --- calculation ---------------------------------------------------------------------------


def _assess_item(item: ItemInput, this: Decimal, combined: Decimal) -> ItemLine:
    loss_after_salvage = item.loss - item.salvage
    # this == combined without double insurance, and the division is then exact.
    cover = item.sum_insured * combined / this
    if item.insured_value is None:
        under_insured, numerator, denominator, cap = False, ONE, ONE, cover
    # Cross-multiplied so that cover equal to the insured value is never mistaken for under-
    # insurance by a division that does not terminate.
    elif item.sum_insured * combined >= item.insured_value * this:
        under_insured, numerator, denominator, cap = False, ONE, ONE, item.insured_value
    else:
        under_insured = True
        numerator, denominator = item.sum_insured * combined, item.insured_value * this
        cap = cover
    proportion = numerator / denominator
    # Multiplying before dividing keeps one inexact operation per figure instead of two.
    proportioned_loss = loss_after_salvage * numerator / denominator
    mitigation_proportioned = item.mitigation_costs * numerator / denominator
    loss_paid = min(proportioned_loss, cap)
    mitigation_paid = min(mitigation_proportioned, cap)
    return ItemLine(
        loss=item.loss,
        salvage=item.salvage,
        loss_after_salvage=loss_after_salvage,
        insured_value=item.insured_value,
        sum_insured=item.sum_insured,
        cover=cover,
        under_insured=under_insured,
        proportion=proportion,
        proportioned_loss=proportioned_loss,
        cap=cap,
        loss_paid=loss_paid,
        loss_cap_applied=proportioned_loss > cap,
        mitigation_costs=item.mitigation_costs,
        mitigation_proportioned=mitigation_proportioned,
        mitigation_paid=mitigation_paid,
        mitigation_cap_applied=mitigation_proportioned > cap,
        total=loss_paid + mitigation_paid,
    )


def assess(event: EventInput) -> Assessment:
    """Assess one event: the payable amount and every figure that led to it."""
    if not isinstance(event, EventInput):
        raise IndemnityError("assess() needs an EventInput.")
    with localcontext(_WORKING):
        this = sum((item.sum_insured for item in event.items), ZERO)
        combined = this + sum(event.other_sums_insured, ZERO)
        lines = tuple(_assess_item(item, this, combined) for item in event.items)
        assessed = sum((line.total for line in lines), ZERO)

        if event.deductible_amount > 0:
            basis, deductible = DEDUCTIBLE_AMOUNT, event.deductible_amount
        elif event.deductible_rate > 0:
            basis, deductible = DEDUCTIBLE_RATE, assessed * event.deductible_rate / HUNDRED
        else:
            basis, deductible = DEDUCTIBLE_NONE, ZERO
        deductible_applied = min(deductible, assessed)
        after_deductible = assessed - deductible_applied

        share = this / combined
        share_amount = after_deductible * this / combined

        recovered_deducted = min(event.recovered, share_amount)
        after_recovery = share_amount - recovered_deducted

        remaining = event.remaining_sum_insured
        # Rounding after the cap is safe: the remaining sum insured is already whole fen.
        payable = min(after_recovery, remaining).quantize(CENT, rounding=ROUND_HALF_UP)

    return Assessment(
        lines=lines,
        assessed=assessed,
        deductible_basis=basis,
        deductible_rate=event.deductible_rate,
        deductible=deductible,
        deductible_applied=deductible_applied,
        after_deductible=after_deductible,
        this_sums_insured=this,
        other_sums_insured=event.other_sums_insured,
        share=share,
        share_amount=share_amount,
        recovered=event.recovered,
        recovered_deducted=recovered_deducted,
        after_recovery=after_recovery,
        remaining_sum_insured=remaining,
        remaining_cap_applied=after_recovery > remaining,
        payable=payable,
        remaining_sum_insured_after=remaining - payable,
    )


def advance_payment(determinable_amount: Decimal, already_paid: Decimal) -> Decimal:
    """What to pay now on day 60 (Insurance Law art. 25): the determinable part not yet paid.

    Never negative: if more has already been paid than can be determined, nothing is clawed back
    here; that belongs to the final settlement.
    """
    determinable = _money(determinable_amount, "determinable_amount")
    paid = _money(already_paid, "already_paid")
    return max(determinable - paid, ZERO)
