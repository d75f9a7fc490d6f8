"""Premium rating engine. Pure: no Django, Decimal only.

premium = Σ over sections of (limit × base rate × count × Π coefficients that apply to the section),
each section rounded half-up to the fen; then the product of the rider factors, rounded once;
then the minimum premium. Every step is returned so that pages, underwriters and the quote PDF can
show how the figure was reached.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ONE = Decimal("1")


class RatingError(ValueError):
    pass


@dataclass(frozen=True)
class SectionInput:
    code: str
    base_rate: Decimal
    limit: Decimal
    count: int = 1


@dataclass(frozen=True)
class CoefficientInput:
    table: str
    option: str
    factor: Decimal
    applies_to: frozenset[str] = frozenset()  # empty: every section

    def applies(self, section_code: str) -> bool:
        return not self.applies_to or section_code in self.applies_to


@dataclass(frozen=True)
class RiderInput:
    code: str
    factor: Decimal


@dataclass(frozen=True)
class SectionResult:
    code: str
    limit: Decimal
    base_rate: Decimal
    count: int
    coefficients: tuple[CoefficientInput, ...]
    coefficient_product: Decimal
    premium: Decimal


@dataclass(frozen=True)
class PremiumBreakdown:
    sections: tuple[SectionResult, ...]
    sections_total: Decimal
    riders: tuple[RiderInput, ...]
    rider_product: Decimal
    after_riders: Decimal
    minimum_premium: Decimal
    minimum_applied: bool
    total: Decimal
    notes: tuple[str, ...] = field(default_factory=tuple)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _product(values: Iterable[Decimal]) -> Decimal:
    result = ONE
    for value in values:
        result *= value
    return result


def compute_premium(
    sections: Sequence[SectionInput],
    coefficients: Sequence[CoefficientInput] = (),
    riders: Sequence[RiderInput] = (),
    minimum_premium: Decimal = Decimal("0"),
) -> PremiumBreakdown:
    if not sections:
        raise RatingError("at least one cover section is needed")
    for item in sections:
        if item.limit < 0 or item.base_rate < 0 or item.count < 0:
            raise RatingError(f"section {item.code}: negative limit, rate or count")
    for item in (*coefficients, *riders):
        if item.factor <= 0:
            raise RatingError(f"factor {item} must be positive")
    if minimum_premium < 0:
        raise RatingError("minimum premium cannot be negative")

    results = []
    for item in sections:
        applying = tuple(c for c in coefficients if c.applies(item.code))
        factor = _product(c.factor for c in applying)
        premium = to_cents(item.limit * item.base_rate * item.count * factor)
        results.append(
            SectionResult(
                code=item.code,
                limit=item.limit,
                base_rate=item.base_rate,
                count=item.count,
                coefficients=applying,
                coefficient_product=factor,
                premium=premium,
            )
        )
    sections_total = sum((r.premium for r in results), Decimal("0.00"))
    rider_product = _product(r.factor for r in riders)
    after_riders = to_cents(sections_total * rider_product)
    minimum = to_cents(minimum_premium)
    total = max(after_riders, minimum)
    return PremiumBreakdown(
        sections=tuple(results),
        sections_total=sections_total,
        riders=tuple(riders),
        rider_product=rider_product,
        after_riders=after_riders,
        minimum_premium=minimum,
        minimum_applied=minimum > after_riders,
        total=total,
    )


@dataclass(frozen=True)
class Band:
    code: str
    factor: Decimal
    lower: Decimal | None
    upper: Decimal | None


def pick_band(bands: Sequence[Band], value: Decimal) -> Band:
    """The band with lower < value ≤ upper (an open end is unbounded); the first band also takes
    its own lower bound, so a value of exactly 0 lands in a band starting at 0."""
    for index, band in enumerate(bands):
        above_lower = (
            band.lower is None or value > band.lower or (index == 0 and value == band.lower)
        )
        below_upper = band.upper is None or value <= band.upper
        if above_lower and below_upper:
            return band
    raise RatingError(f"no band covers {value}")
