"""Patent valuation for pledge and insurance underwriting. Pure: no Django, Decimal only.

Organised along the legal, technical and economic indicators of GB/T 42748-2023 (专利评估指引).
Two money approaches are blended into a point value:

* relief from royalty — the royalty the owner is spared by holding the patent, after tax,
  discounted over the horizon H = min(remaining legal term, economic life):

      V = Σ_{t=1..n} Rev_t × royalty × (1 − tax) / (1 + r)^t
          + f × Rev_{n+1} × royalty × (1 − tax) / (1 + r)^(n+1)

  with Rev_t = Rev × (1 + g)^(t−1), n = ⌊H⌋ and f = H − n (the final, partial year);
* cost — V = R&D cost × (1 − obsolescence).

The indicator score (0–100) leaves the point value alone and sets the width of the range around
it: a weak, poorly documented patent is less certain collateral, so its range is wider.

Percent inputs are percents (Decimal("5") is 5 %). Money is rounded half-up to the fen only on the
way out, so that the effect rows are differences of exact figures rather than of rounded ones.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import wraps
from types import MappingProxyType

ZERO = Decimal("0")
ONE = Decimal("1")
TEN = Decimal("10")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
# Patent terms are at most 20–25 years; the cap only stops a mistyped figure from making the
# year-by-year DCF loop run for ever.
MAX_YEARS = Decimal("100")
SPREAD_FLOOR = Decimal("0.10")
SPREAD_SPAN = Decimal("0.20")
SPREAD_PLACES = Decimal("0.0001")  # exact: the score has one decimal place
DEFAULT_METHOD_WEIGHTS = (Decimal("0.7"), Decimal("0.3"))

# 34 digits leaves about twenty below the fen even for revenue in the billions, so intermediate
# rounding never reaches the published figures. Fixed here so that a caller who changed the thread
# context cannot change a valuation.
_CONTEXT = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


class ValuationError(ValueError):
    pass


def _in_context[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(_CONTEXT):
            return func(*args, **kwargs)

    return wrapper


def _as_decimal(name: str, value: object) -> Decimal:
    # A float has already lost the figure the user typed, so it is refused rather than converted;
    # bool is an int subclass and would otherwise slip through as 0 or 1.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValuationError(f"{name} must be a Decimal or int, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValuationError(f"{name} must be a finite number, got {number}")
    return number


def _in_range(
    name: str,
    value: object,
    low: Decimal | None = None,
    high: Decimal | None = None,
    *,
    low_exclusive: bool = False,
) -> Decimal:
    number = _as_decimal(name, value)
    too_low = low is not None and (number <= low if low_exclusive else number < low)
    too_high = high is not None and number > high
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_exclusive else '≥'} {low}")
        if high is not None:
            bounds.append(f"≤ {high}")
        raise ValuationError(f"{name} must be {' and '.join(bounds)}, got {number}")
    return number


def _as_whole(name: str, value: object) -> int:
    number = _as_decimal(name, value)
    if number != number.to_integral_value():
        raise ValuationError(f"{name} must be a whole number, got {number}")
    return int(number)


def _cents(amount: Decimal) -> Decimal:
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    # A tiny negative difference would otherwise be shown and stored as "-0.00".
    return rounded if rounded else abs(rounded)


def _text(number: Decimal | None) -> str | None:
    # Fixed-point so that stored JSON never holds "1E+6" for a figure typed as 1000000.
    return None if number is None else format(number, "f")


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IncomeInputs:
    """Relief-from-royalty facts. Rates are percents; revenue is the annual revenue (CNY)
    attributable to the patent in the first year."""

    annual_revenue: Decimal
    royalty_rate: Decimal
    economic_life_years: Decimal
    discount_rate: Decimal
    tax_rate: Decimal = Decimal("25")
    growth_rate: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        checked = {
            "annual_revenue": _in_range("annual_revenue", self.annual_revenue, ZERO),
            "royalty_rate": _in_range("royalty_rate", self.royalty_rate, ZERO, HUNDRED),
            "economic_life_years": _in_range(
                "economic_life_years", self.economic_life_years, ZERO, MAX_YEARS
            ),
            # Zero would make the value the undiscounted sum, which no market would pay.
            "discount_rate": _in_range(
                "discount_rate", self.discount_rate, ZERO, HUNDRED, low_exclusive=True
            ),
            "tax_rate": _in_range("tax_rate", self.tax_rate, ZERO, HUNDRED),
            # At −100 % revenue vanishes after the first year and below it turns negative.
            "growth_rate": _in_range("growth_rate", self.growth_rate, -HUNDRED, low_exclusive=True),
        }
        for name, number in checked.items():
            object.__setattr__(self, name, number)


@dataclass(frozen=True, kw_only=True)
class CostInputs:
    """Cost-approach facts: R&D cost (CNY) and obsolescence as a percent."""

    rd_cost: Decimal
    obsolescence: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "rd_cost", _in_range("rd_cost", self.rd_cost, ZERO))
        object.__setattr__(
            self, "obsolescence", _in_range("obsolescence", self.obsolescence, ZERO, HUNDRED)
        )


@dataclass(frozen=True, kw_only=True)
class PatentValuationInput:
    """Every raw fact the valuation reads. The indicator facts feed the score (see the *_points
    functions for the accepted values); income and cost feed the money approaches, and at least
    one of the two must be given. remaining_term_years may be negative for an expired patent."""

    remaining_term_years: Decimal
    family_countries: tuple[str, ...]
    invalidation_history: str
    claim_count: int
    claim_type: str | tuple[str, ...]
    non_circumventability: int
    maturity: str
    substitutes: str
    market_share_percent: Decimal
    annual_sales: Decimal
    licensing: str
    income: IncomeInputs | None = None
    cost: CostInputs | None = None

    def __post_init__(self) -> None:
        if self.income is None and self.cost is None:
            raise ValuationError("income and cost inputs are both missing; one is needed")
        object.__setattr__(
            self,
            "remaining_term_years",
            _in_range("remaining_term_years", self.remaining_term_years, high=MAX_YEARS),
        )
        # Both may arrive as lists or generators from a form; a tuple keeps the input hashable
        # and lets it be read more than once.
        if isinstance(self.family_countries, str):
            raise ValuationError("family_countries must be a collection of codes, not a string")
        object.__setattr__(self, "family_countries", tuple(self.family_countries))
        if not isinstance(self.claim_type, str):
            object.__setattr__(self, "claim_type", tuple(self.claim_type))


# --- indicator scales (each maps a raw fact to 0–10 points) ----------------------------------

_FAMILY_POINTS = {"CN": 0, "US": 5, "EP": 4, "JP": 4, "KR": 3}
_OTHER_FOREIGN_POINTS = 1
_INVALIDATION_POINTS = {"none": 7, "survived": 10, "partially_invalidated": 4, "pending": 2}
_CLAIM_TYPE_FACTORS = {"product": Decimal("1.0"), "method": Decimal("0.8"), "use": Decimal("0.6")}
_MATURITY_POINTS = {"concept": 2, "prototype": 4, "pilot": 6, "mass_production": 10}
_SUBSTITUTES_POINTS = {"none": 10, "few": 6, "many": 2}
# (exclusive lower bound of the share in percent, points); first match wins.
_MARKET_SHARE_BANDS = ((40, 10), (11, 8), (7, 6), (3, 4), (0, 2))
# (inclusive upper bound in CNY, points); above the last bound → 10.
_SALES_BANDS = ((1_000_000, 3), (10_000_000, 5), (50_000_000, 7), (100_000_000, 9))
_LICENSING_POINTS = {"none": 3, "non_exclusive": 7, "exclusive": 10}


def _lookup(name: str, table: Mapping[str, int | Decimal], key: object) -> Decimal:
    if not isinstance(key, str) or key not in table:
        raise ValuationError(f"{name} must be one of {', '.join(table)}, got {key!r}")
    return Decimal(table[key])


@_in_context
def remaining_term_points(years: Decimal) -> Decimal:
    """Remaining legal term: half a point per year, full marks from 20 years; expired → 0."""
    number = _as_decimal("remaining_term_years", years)
    return min(TEN, max(ZERO, number / 2))


def family_points(countries: Iterable[str]) -> Decimal:
    """Family coverage by ISO code: US 5, EP 4, JP 4, KR 3, any other foreign country 1, CN 0.
    Each code counts once (case-insensitive); the total is capped at 10."""
    if isinstance(countries, str):
        raise ValuationError("family_countries must be a collection of codes, not a string")
    codes = set()
    for code in countries:
        cleaned = code.strip().upper() if isinstance(code, str) else ""
        if len(cleaned) != 2 or not (cleaned.isascii() and cleaned.isalpha()):
            raise ValuationError(f"family_countries: {code!r} is not a two-letter code")
        codes.add(cleaned)
    total = sum(_FAMILY_POINTS.get(code, _OTHER_FOREIGN_POINTS) for code in codes)
    return min(TEN, Decimal(total))


def invalidation_points(history: str) -> Decimal:
    """Invalidation history: "survived" 10 (upheld after a request), "none" 7 (untested),
    "partially_invalidated" 4, "pending" 2."""
    return _lookup("invalidation_history", _INVALIDATION_POINTS, history)


@_in_context
def claim_points(claim_count: int, claim_type: str | Iterable[str]) -> Decimal:
    """Claims: one point per claim up to ten, times how hard the claim type is to work around —
    "product" 1.0, "method" 0.8, "use" 0.6. Several types give the mean of their factors, so the
    result stays a single 0–10 figure."""
    count = _as_whole("claim_count", claim_count)
    if count < 0:
        raise ValuationError(f"claim_count must be ≥ 0, got {count}")
    if isinstance(claim_type, str):
        types: tuple[object, ...] = (claim_type,)
    else:
        types = tuple(dict.fromkeys(claim_type))
    if not types:
        raise ValuationError("claim_type must name at least one type")
    factors = [_lookup("claim_type", _CLAIM_TYPE_FACTORS, kind) for kind in types]
    factor = sum(factors, ZERO) / len(factors)
    return min(TEN, min(count, 10) * factor)


def non_circumventability_points(level: int) -> Decimal:
    """Difficulty of designing around, assessed 1 (trivial) to 5 (impossible): level × 2."""
    number = _as_whole("non_circumventability", level)
    if not 1 <= number <= 5:
        raise ValuationError(f"non_circumventability must be 1–5, got {number}")
    return Decimal(number * 2)


def maturity_points(stage: str) -> Decimal:
    """Technical maturity: "concept" 2, "prototype" 4, "pilot" 6, "mass_production" 10."""
    return _lookup("maturity", _MATURITY_POINTS, stage)


def substitutes_points(level: str) -> Decimal:
    """Substitute technologies on the market: "none" 10, "few" 6, "many" 2."""
    return _lookup("substitutes", _SUBSTITUTES_POINTS, level)


def market_share_points(percent: Decimal) -> Decimal:
    """Market share in percent: > 40 → 10, > 11 → 8, > 7 → 6, > 3 → 4, > 0 → 2, 0 → 0
    (each band includes its upper bound: 11 % → 6)."""
    share = _in_range("market_share_percent", percent, ZERO, HUNDRED)
    for lower, points in _MARKET_SHARE_BANDS:
        if share > lower:
            return Decimal(points)
    return ZERO


def sales_points(annual_sales: Decimal) -> Decimal:
    """Annual sales attributable to the patent (CNY): 0 → 0, ≤ 1m → 3, ≤ 10m → 5, ≤ 50m → 7,
    ≤ 100m → 9, above → 10."""
    amount = _in_range("annual_sales", annual_sales, ZERO)
    if amount == 0:
        return ZERO
    for upper, points in _SALES_BANDS:
        if amount <= upper:
            return Decimal(points)
    return TEN


def licensing_points(status: str) -> Decimal:
    """Licensing record, evidence that someone pays for the right: "none" 3,
    "non_exclusive" 7, "exclusive" 10."""
    return _lookup("licensing", _LICENSING_POINTS, status)


DIMENSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "legal": ("remaining_term", "family", "invalidation", "claims", "non_circumventability"),
        "technical": ("maturity", "substitutes"),
        "economic": ("market_share", "sales", "licensing"),
    }
)
INDICATORS = tuple(name for names in DIMENSIONS.values() for name in names)


def indicator_points(inputs: PatentValuationInput) -> dict[str, Decimal]:
    """The 0–10 points of every indicator, keyed as in DIMENSIONS."""
    return {
        "remaining_term": remaining_term_points(inputs.remaining_term_years),
        "family": family_points(inputs.family_countries),
        "invalidation": invalidation_points(inputs.invalidation_history),
        "claims": claim_points(inputs.claim_count, inputs.claim_type),
        "non_circumventability": non_circumventability_points(inputs.non_circumventability),
        "maturity": maturity_points(inputs.maturity),
        "substitutes": substitutes_points(inputs.substitutes),
        "market_share": market_share_points(inputs.market_share_percent),
        "sales": sales_points(inputs.annual_sales),
        "licensing": licensing_points(inputs.licensing),
    }


@dataclass(frozen=True)
class ScoreWeights:
    """Dimension weights (must sum to 1) and relative indicator weights within each dimension.

    indicator_weights is keyed by indicator name (see DIMENSIONS); a missing indicator weighs 1,
    so the default is an equal weighting. Indicator weights are relative: each dimension divides
    by its own total, so they need not sum to anything in particular.
    """

    legal: Decimal = Decimal("0.4")
    technical: Decimal = Decimal("0.3")
    economic: Decimal = Decimal("0.3")
    indicator_weights: Mapping[str, Decimal] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for dimension in DIMENSIONS:
            number = _in_range(f"weights.{dimension}", getattr(self, dimension), ZERO, ONE)
            object.__setattr__(self, dimension, number)
        total = self.legal + self.technical + self.economic
        if total != ONE:
            raise ValuationError(f"dimension weights must sum to 1, got {total}")
        unknown = sorted(set(self.indicator_weights) - set(INDICATORS))
        if unknown:
            raise ValuationError(f"indicator_weights: unknown indicators {', '.join(unknown)}")
        weights = {
            name: _in_range(f"indicator_weights[{name}]", weight, ZERO)
            for name, weight in self.indicator_weights.items()
        }
        for dimension, names in DIMENSIONS.items():
            if sum((weights.get(name, ONE) for name in names), ZERO) == 0:
                raise ValuationError(f"indicator_weights leave the {dimension} dimension empty")
        object.__setattr__(self, "indicator_weights", MappingProxyType(weights))

    def dimension_weight(self, dimension: str) -> Decimal:
        return getattr(self, dimension)

    def indicator_weight(self, indicator: str) -> Decimal:
        return self.indicator_weights.get(indicator, ONE)


DEFAULT_WEIGHTS = ScoreWeights()


@dataclass(frozen=True)
class _Score:
    total: Decimal  # 0–100, unrounded
    dimensions: dict[str, Decimal]  # 0–100, unrounded
    contributions: dict[str, Decimal]  # share of total, 0–100 scale, unrounded


def _score(points: Mapping[str, Decimal], weights: ScoreWeights) -> _Score:
    dimensions: dict[str, Decimal] = {}
    contributions: dict[str, Decimal] = {}
    total = ZERO
    for dimension, names in DIMENSIONS.items():
        weight_total = sum((weights.indicator_weight(name) for name in names), ZERO)
        # One division per dimension: equal thirds then give exactly 6 for points 6, 5, 7 rather
        # than 5.999…, which could tip a score sitting on a rounding boundary.
        weighted = sum((weights.indicator_weight(name) * points[name] for name in names), ZERO)
        dimensions[dimension] = TEN * weighted / weight_total
        total += weights.dimension_weight(dimension) * dimensions[dimension]
        for name in names:
            share = weights.indicator_weight(name) / weight_total
            contributions[name] = weights.dimension_weight(dimension) * share * points[name] * TEN
    return _Score(total, dimensions, contributions)


# --- money approaches -------------------------------------------------------------------------


def horizon_years(remaining_term_years: Decimal, economic_life_years: Decimal) -> Decimal:
    """Years of royalty relief: the patent stops earning when either the right or the technology
    runs out. Never negative."""
    term = _as_decimal("remaining_term_years", remaining_term_years)
    life = _as_decimal("economic_life_years", economic_life_years)
    return max(ZERO, min(term, life))


@_in_context
def relief_from_royalty_value(income: IncomeInputs, remaining_term_years: Decimal) -> Decimal:
    """Income-approach value, unrounded (value_patent rounds). See the module docstring."""
    horizon = horizon_years(remaining_term_years, income.economic_life_years)
    full_years = int(horizon)  # horizon ≥ 0, so truncation is the floor
    fraction = horizon - full_years
    kept_per_revenue = income.royalty_rate / HUNDRED * (ONE - income.tax_rate / HUNDRED)
    growth = ONE + income.growth_rate / HUNDRED
    discount = ONE + income.discount_rate / HUNDRED
    # Compounding year by year (rather than with **) keeps every step a single correctly rounded
    # multiplication, so the result is monotone in each input down to the last digit.
    revenue = income.annual_revenue
    compounded = ONE
    total = ZERO
    for _ in range(full_years):
        compounded *= discount
        total += revenue * kept_per_revenue / compounded
        revenue *= growth
    if fraction:
        compounded *= discount
        total += fraction * revenue * kept_per_revenue / compounded
    return total


@_in_context
def cost_approach_value(cost: CostInputs) -> Decimal:
    """Cost-approach value, unrounded (value_patent rounds)."""
    return cost.rd_cost * (ONE - cost.obsolescence / HUNDRED)


# --- result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputEffect:
    """One explanation row. key is unique ("value.<input>" or "score.<indicator>"); label_key is
    the stable English identifier the UI translates.

    value rows: value_shown is the input as given, effect the change of the point value (CNY)
    when the input rises by 10 % of itself, capped at the input's upper bound.
    score rows: value_shown is the indicator's points (0–10), effect its weighted contribution
    to the overall score (0–100)."""

    key: str
    label_key: str
    value_shown: Decimal
    effect: Decimal


@dataclass(frozen=True)
class PatentValuation:
    income_value: Decimal | None
    cost_value: Decimal | None
    point_value: Decimal
    low: Decimal
    high: Decimal
    score: Decimal
    dimension_scores: Mapping[str, Decimal] = field(hash=False)
    horizon_years: Decimal | None
    spread: Decimal
    effects: tuple[InputEffect, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form; Decimals become fixed-point strings so none of them is ever
        read back through float."""
        return {
            "income_value": _text(self.income_value),
            "cost_value": _text(self.cost_value),
            "point_value": _text(self.point_value),
            "low": _text(self.low),
            "high": _text(self.high),
            "score": _text(self.score),
            "dimension_scores": {name: _text(v) for name, v in self.dimension_scores.items()},
            "horizon_years": _text(self.horizon_years),
            "spread": _text(self.spread),
            "effects": [
                {
                    "key": row.key,
                    "label_key": row.label_key,
                    "value_shown": _text(row.value_shown),
                    "effect": _text(row.effect),
                }
                for row in self.effects
            ],
        }


def _approach_values(inputs: PatentValuationInput) -> tuple[Decimal | None, Decimal | None]:
    income = (
        None
        if inputs.income is None
        else relief_from_royalty_value(inputs.income, inputs.remaining_term_years)
    )
    cost = None if inputs.cost is None else cost_approach_value(inputs.cost)
    return income, cost


def _blend(
    income: Decimal | None, cost: Decimal | None, method_weights: tuple[Decimal, Decimal]
) -> Decimal:
    pairs = [(v, w) for v, w in zip((income, cost), method_weights, strict=True) if v is not None]
    weight_total = sum((w for _, w in pairs), ZERO)
    if weight_total == 0:
        raise ValuationError("method_weights give no weight to the approaches available")
    # Dividing by the weights actually present renormalises when one approach is missing.
    return sum((v * w for v, w in pairs), ZERO) / weight_total


def _raised(value: Decimal, ceiling: Decimal | None) -> Decimal:
    # abs() so that a negative input (a shrinking revenue, an expired term) also moves upwards.
    raised = value + abs(value) / 10
    return raised if ceiling is None else min(raised, ceiling)


_INCOME_SENSITIVITIES = (
    ("annual_revenue", None),
    ("royalty_rate", HUNDRED),
    ("economic_life_years", MAX_YEARS),
    ("discount_rate", HUNDRED),
    ("tax_rate", HUNDRED),
    ("growth_rate", None),
)
_COST_SENSITIVITIES = (("rd_cost", None), ("obsolescence", HUNDRED))


def _value_effects(
    inputs: PatentValuationInput, point: Decimal, method_weights: tuple[Decimal, Decimal]
) -> list[InputEffect]:
    def row(name: str, shown: Decimal, variant: PatentValuationInput) -> InputEffect:
        change = _blend(*_approach_values(variant), method_weights) - point
        return InputEffect(f"value.{name}", name, shown, _cents(change))

    rows = []
    if inputs.income is not None:
        for name, ceiling in _INCOME_SENSITIVITIES:
            shown = getattr(inputs.income, name)
            income = replace(inputs.income, **{name: _raised(shown, ceiling)})
            rows.append(row(name, shown, replace(inputs, income=income)))
    if inputs.cost is not None:
        for name, ceiling in _COST_SENSITIVITIES:
            shown = getattr(inputs.cost, name)
            cost = replace(inputs.cost, **{name: _raised(shown, ceiling)})
            rows.append(row(name, shown, replace(inputs, cost=cost)))
    term = inputs.remaining_term_years
    longer = replace(inputs, remaining_term_years=_raised(term, MAX_YEARS))
    rows.append(row("remaining_term_years", term, longer))
    return rows


@_in_context
def value_patent(
    inputs: PatentValuationInput,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
    method_weights: tuple[Decimal, Decimal] = DEFAULT_METHOD_WEIGHTS,
) -> PatentValuation:
    """Value a patent: income and/or cost approach blended by method_weights (income, cost),
    a 0–100 indicator score, and a range whose width follows the score."""
    if len(method_weights) != 2:
        raise ValuationError("method_weights must be a pair (income, cost)")
    checked_weights = (
        _in_range("method_weights[income]", method_weights[0], ZERO),
        _in_range("method_weights[cost]", method_weights[1], ZERO),
    )
    income, cost = _approach_values(inputs)
    point = _blend(income, cost, checked_weights)

    points = indicator_points(inputs)
    scored = _score(points, weights)
    score = scored.total.quantize(TENTH, rounding=ROUND_HALF_UP)
    # From the published (rounded) score, so anyone can re-derive the range from the page.
    spread = (SPREAD_FLOOR + SPREAD_SPAN * (ONE - score / HUNDRED)).quantize(SPREAD_PLACES)
    available = [v for v in (income, cost) if v is not None]
    # Widened to cover every approach: when income and cost disagree by more than the spread,
    # the disagreement itself is the honest measure of uncertainty.
    low = min(*available, point * (ONE - spread))
    high = max(*available, point * (ONE + spread))

    effects = _value_effects(inputs, point, checked_weights)
    effects.extend(
        InputEffect(f"score.{name}", name, points[name], _cents(scored.contributions[name]))
        for name in INDICATORS
    )
    horizon = (
        None
        if inputs.income is None
        else horizon_years(inputs.remaining_term_years, inputs.income.economic_life_years)
    )
    return PatentValuation(
        income_value=None if income is None else _cents(income),
        cost_value=None if cost is None else _cents(cost),
        point_value=_cents(point),
        low=_cents(max(ZERO, low)),
        high=_cents(high),
        score=score,
        dimension_scores=MappingProxyType(
            {
                name: value.quantize(TENTH, rounding=ROUND_HALF_UP)
                for name, value in scored.dimensions.items()
            }
        ),
        horizon_years=horizon,
        spread=spread,
        effects=tuple(effects),
    )


@_in_context
def loan_to_value_percent(loan: Decimal, value: Decimal) -> Decimal:
    """The loan as a percent of the pledged patent's value (2 dp, half-up), the ratio on which
    pledge guarantees are priced."""
    amount = _in_range("loan", loan, ZERO)
    worth = _as_decimal("value", value)
    if worth <= 0:
        raise ValuationError(f"value must be > 0 to give a loan-to-value ratio, got {worth}")
    return (amount * HUNDRED / worth).quantize(CENT, rounding=ROUND_HALF_UP)
