"""Cancellation refunds, endorsement adjustments and instalments. Pure: no Django, Decimal only.

Clause art. 37-39 and Insurance Law art. 54 (domain RULES.md §8, REFERENCE.md §4).

Conventions, stated once here and relied on everywhere below:

* A policy period runs from ``start`` to ``end``, **both inclusive**: 2026-01-01 … 2026-12-31 is
  365 days, ``days_in_period(start, end) == (end - start).days + 1``.
* A cancellation or endorsement takes effect at the **beginning** of its effective date, so the
  effective date itself is no longer on risk under the old terms. Cancelling "after N days" means
  ``effective = start + N days`` and ``days_on_risk = N``; an effective date on the start day leaves
  0 days on risk, and ``end + 1 day`` means the whole period ran. The same boundary makes an
  endorsement's remaining days ``(end - effective).days + 1``, so the days before and after an
  effective date always add up to the period.
* Money is ``Decimal`` in yuan with at most two places (fen). Each calculation rounds **once**,
  ROUND_HALF_UP to the fen: the amount the insurer keeps (the earned premium, the cancellation
  fee) or, for endorsements, the adjustment. The refund is then ``premium - kept``, so
  ``kept + refund == premium`` holds exactly and the rounding never creates or loses a fen.
  Instalments are the one exception: see ``instalment_schedule``.
* Interest on late instalments (clause art. 19) is not computed here.

Every function returns a frozen dataclass holding the figures it used, so that a page can explain
the result line by line.
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
MONTHS_IN_TABLE = 12

STANDARD_SHORT_RATE_TABLE: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100)
INSURER_NOTICE_DAYS = 15

# Why a cancellation was charged the percentage it was, for the explanation on the page.
BASIS_TABLE = "table"
BASIS_UNDER_ONE_MONTH_DAILY = "under_one_month_daily"
BASIS_BEYOND_TABLE = "beyond_table"
BASIS_TERM_ENDED = "term_ended"


class RefundError(ValueError):
    pass


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShortRateRefund:
    """Policyholder cancels after cover started: the insurer keeps a short-period percentage."""

    premium: Decimal
    kept: Decimal
    refund: Decimal
    start: date
    end: date
    effective: date
    months_on_risk: int
    days_on_risk: int
    percent_kept: Decimal
    basis: str
    days_charged: int | None = None  # only for the under-one-month daily rate


@dataclass(frozen=True)
class ProRataRefund:
    """Insurer cancels after cover started: it keeps premium for the days on risk."""

    premium: Decimal
    kept: Decimal
    refund: Decimal
    start: date
    end: date
    effective: date
    days_on_risk: int
    days_in_period: int


@dataclass(frozen=True)
class BeforeStartRefund:
    """Policyholder cancels before cover starts: the insurer keeps only the cancellation fee."""

    premium: Decimal
    kept: Decimal
    refund: Decimal
    fee_amount: Decimal
    fee_percent: Decimal
    fee_before_cap: Decimal
    fee_capped: bool


@dataclass(frozen=True)
class EndorsementAdjustment:
    """Premium change mid-term: positive ``adjustment`` is owed by the policyholder."""

    old_annual: Decimal
    new_annual: Decimal
    start: date
    end: date
    effective: date
    remaining_days: int
    days_in_period: int
    adjustment: Decimal
    additional_premium: Decimal
    return_premium: Decimal


@dataclass(frozen=True)
class Instalment:
    number: int
    due: date
    amount: Decimal


@dataclass(frozen=True)
class InstalmentSchedule:
    premium: Decimal
    count: int
    months_between: int
    equal_part: Decimal
    rounding_difference: Decimal  # added to the first instalment
    instalments: tuple[Instalment, ...]

    def paid_after(self, instalments_paid: int) -> Decimal:
        if isinstance(instalments_paid, bool) or not isinstance(instalments_paid, int):
            raise RefundError("The number of instalments paid must be an integer.")
        if not 0 <= instalments_paid <= self.count:
            raise RefundError(f"Between 0 and {self.count} instalments can have been paid.")
        return sum((i.amount for i in self.instalments[:instalments_paid]), ZERO)


type Cancellation = ShortRateRefund | ProRataRefund | BeforeStartRefund


@dataclass(frozen=True)
class PaidPremiumRefund:
    """A cancellation settled against what was actually paid (``kept + refund == paid``)."""

    premium: Decimal
    earned: Decimal  # what the insurer may keep on the full premium
    paid: Decimal
    computed_refund: Decimal  # the refund had the whole premium been paid
    refund: Decimal
    kept: Decimal
    amount_owed: Decimal  # earned premium not yet paid, still due from the policyholder
    calculation: Cancellation


# --- validation ----------------------------------------------------------------------------


def _money(value: object, name: str) -> Decimal:
    # Floats are refused outright: by the time one reaches us the fen may already be wrong.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RefundError(f"{name} must be a finite Decimal.")
    if value < 0:
        raise RefundError(f"{name} may not be negative.")
    try:
        normalised = value.quantize(CENT)
    except InvalidOperation as exc:
        raise RefundError(f"{name} is too large.") from exc
    if normalised != value:
        raise RefundError(f"{name} must be a whole number of fen (two decimal places).")
    return normalised


def _percent(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RefundError(f"{name} must be an int or a Decimal.")
    percent = Decimal(value)
    if not percent.is_finite() or not 0 <= percent <= HUNDRED:
        raise RefundError(f"{name} must be between 0 and 100.")
    return percent


def _date(value: object, name: str) -> date:
    # A datetime is a date subclass but would bring a time of day into day counting.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise RefundError(f"{name} must be a datetime.date.")
    return value


def _period(start: object, end: object) -> tuple[date, date]:
    start, end = _date(start, "start"), _date(end, "end")
    if end < start:
        raise RefundError("The policy end date is before its start date.")
    return start, end


def _after_start_effective(start: date, effective: object) -> date:
    effective = _date(effective, "effective")
    if effective < start:
        raise RefundError(
            "The effective date is before the start of cover; "
            "use policyholder_cancellation_before_start_refund."
        )
    return effective


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RefundError(f"{name} must be a positive integer.")
    return value


def _to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def validate_short_rate_table(table: Sequence[int | Decimal]) -> tuple[Decimal, ...]:
    """Twelve non-decreasing percentages 0-100; returns them as Decimals.

    Unlike the catalogue check, the last month need not be 100: after month 12 or the end of
    the period the insurer keeps 100 % anyway.
    """
    if isinstance(table, str | bytes) or not isinstance(table, Sequence):
        raise RefundError("The short-period table must be a sequence of 12 percentages.")
    if len(table) != MONTHS_IN_TABLE:
        raise RefundError(f"The short-period table needs 12 percentages, not {len(table)}.")
    percents = tuple(_percent(p, f"Month {m}") for m, p in enumerate(table, 1))
    if any(later < earlier for earlier, later in zip(percents, percents[1:], strict=False)):
        raise RefundError("The short-period table percentages must not decrease.")
    return percents


# --- calendar ------------------------------------------------------------------------------


def days_in_period(start: date, end: date) -> int:
    start, end = _period(start, end)
    return (end - start).days + 1


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month end (Jan 31 + 1 month = Feb 28/29).

    Always count from the original date rather than chaining one month at a time, otherwise a
    schedule from Jan 31 would drift to the 28th for the rest of the year.
    """
    day = _date(day, "day")
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise RefundError("months must be a non-negative integer.")
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    if year > date.max.year:
        raise RefundError("The date falls beyond the calendar's range.")
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_on_risk(start: date, effective: date) -> int:
    """Calendar months from start to effective, any part of a month counting as a whole one.

    From 2026-01-15, an effective date of 2026-02-15 is exactly 1 month and 2026-02-16 is in
    month 2. An effective date on the start day is month 1: cover had begun.
    """
    start = _date(start, "start")
    effective = _after_start_effective(start, effective)
    whole = (effective.year - start.year) * 12 + effective.month - start.month
    # add_months(start, whole) lands in the effective date's month, so the month before it is
    # already too early and the next one is certainly late enough: one comparison decides.
    if whole >= 1 and add_months(start, whole) >= effective:
        return whole
    return whole + 1


# --- cancellations -------------------------------------------------------------------------


def policyholder_cancellation_refund(
    premium: Decimal,
    start: date,
    end: date,
    effective: date,
    table: Sequence[int | Decimal] = STANDARD_SHORT_RATE_TABLE,
    *,
    under_one_month_daily_percent: int | Decimal | None = None,
    under_one_month_cap_percent: int | Decimal | None = None,
) -> ShortRateRefund:
    """Short-period refund when the policyholder cancels after cover started.

    Kept = premium × table[months_on_risk - 1] / 100; beyond 12 months, or once the period has
    run out (effective after ``end``), the insurer keeps it all. With the variant under-one-month
    rule, a cancellation before one full month is charged ``daily percent × days`` (at least one
    day, as cover had begun) capped at ``under_one_month_cap_percent`` (default: month 1's rate).
    """
    premium = _money(premium, "premium")
    start, end = _period(start, end)
    effective = _after_start_effective(start, effective)
    percents = validate_short_rate_table(table)
    daily, cap = None, None
    if under_one_month_daily_percent is not None:
        daily = _percent(under_one_month_daily_percent, "under_one_month_daily_percent")
        cap = (
            percents[0]
            if under_one_month_cap_percent is None
            else _percent(under_one_month_cap_percent, "under_one_month_cap_percent")
        )
        # A higher cap would let a cancellation in week 3 cost more than one at the end of
        # month 1, i.e. cancelling later would refund more.
        if cap > percents[0]:
            raise RefundError("The under-one-month cap may not exceed the month-1 percentage.")
    elif under_one_month_cap_percent is not None:
        raise RefundError("An under-one-month cap needs under_one_month_daily_percent.")

    months = months_on_risk(start, effective)
    days = (effective - start).days
    days_charged = None
    if effective > end:
        percent, basis = HUNDRED, BASIS_TERM_ENDED
    elif months > MONTHS_IN_TABLE:
        percent, basis = HUNDRED, BASIS_BEYOND_TABLE
    elif daily is not None and cap is not None and effective < add_months(start, 1):
        days_charged = max(days, 1)
        percent, basis = min(daily * days_charged, cap), BASIS_UNDER_ONE_MONTH_DAILY
    else:
        percent, basis = percents[months - 1], BASIS_TABLE

    kept = _to_cents(premium * percent / HUNDRED)
    return ShortRateRefund(
        premium=premium,
        kept=kept,
        refund=premium - kept,
        start=start,
        end=end,
        effective=effective,
        months_on_risk=months,
        days_on_risk=days,
        percent_kept=percent,
        basis=basis,
        days_charged=days_charged,
    )


def insurer_cancellation_effective_date(
    notice_date: date, notice_days: int = INSURER_NOTICE_DAYS
) -> date:
    """The insurer's cancellation takes effect ``notice_days`` after the notice is given."""
    notice_date = _date(notice_date, "notice_date")
    if isinstance(notice_days, bool) or not isinstance(notice_days, int) or notice_days < 0:
        raise RefundError("notice_days must be a non-negative integer.")
    try:
        return notice_date + timedelta(days=notice_days)
    except OverflowError as exc:
        raise RefundError("The date falls beyond the calendar's range.") from exc


def insurer_cancellation_refund(
    premium: Decimal, start: date, end: date, effective: date
) -> ProRataRefund:
    """Pro rata by days: kept = premium × days_on_risk / days_in_period.

    days_on_risk = (effective - start).days, capped at the period: effective on the start day
    refunds everything, effective after ``end`` refunds nothing.
    """
    premium = _money(premium, "premium")
    start, end = _period(start, end)
    effective = _after_start_effective(start, effective)
    period = days_in_period(start, end)
    on_risk = min((effective - start).days, period)
    kept = _to_cents(premium * on_risk / period)
    return ProRataRefund(
        premium=premium,
        kept=kept,
        refund=premium - kept,
        start=start,
        end=end,
        effective=effective,
        days_on_risk=on_risk,
        days_in_period=period,
    )


def policyholder_cancellation_before_start_refund(
    premium: Decimal,
    fee_amount: Decimal = ZERO,
    fee_percent: int | Decimal = 0,
) -> BeforeStartRefund:
    """Refund = premium - fee, fee = fixed amount + percent of premium, never above the premium."""
    premium = _money(premium, "premium")
    fee_amount = _money(fee_amount, "fee_amount")
    fee_percent = _percent(fee_percent, "fee_percent")
    fee_before_cap = _to_cents(fee_amount + premium * fee_percent / HUNDRED)
    fee = min(fee_before_cap, premium)
    return BeforeStartRefund(
        premium=premium,
        kept=fee,
        refund=premium - fee,
        fee_amount=fee_amount,
        fee_percent=fee_percent,
        fee_before_cap=fee_before_cap,
        fee_capped=fee_before_cap > premium,
    )


def paid_premium_refund(calculation: Cancellation, paid: Decimal) -> PaidPremiumRefund:
    """Settle a cancellation against the premium actually paid (e.g. some instalments).

    The insurer is entitled to ``calculation.kept`` (the earned premium). It returns what was
    paid beyond that, so the refund is ``max(0, paid - earned)``, which is never more than
    ``min(paid, computed refund)``; if the earned premium exceeds what was paid, nothing is
    refunded and the shortfall is ``amount_owed``.
    """
    if not isinstance(calculation, ShortRateRefund | ProRataRefund | BeforeStartRefund):
        raise RefundError("calculation must be the result of a cancellation function.")
    paid = _money(paid, "paid")
    if paid > calculation.premium:
        raise RefundError("paid exceeds the premium; refund the overpayment separately.")
    earned = calculation.kept
    refund = max(paid - earned, ZERO)
    return PaidPremiumRefund(
        premium=calculation.premium,
        earned=earned,
        paid=paid,
        computed_refund=calculation.refund,
        refund=refund,
        kept=paid - refund,
        amount_owed=max(earned - paid, ZERO),
        calculation=calculation,
    )


# --- endorsements and instalments ----------------------------------------------------------


def endorsement_adjustment(
    old_annual: Decimal, new_annual: Decimal, start: date, end: date, effective: date
) -> EndorsementAdjustment:
    """(new - old) × remaining_days / days_in_period, remaining days from effective to end.

    ROUND_HALF_UP on a negative amount rounds away from zero, so a return premium is rounded
    exactly as an additional premium of the same size would be.
    """
    old_annual = _money(old_annual, "old_annual")
    new_annual = _money(new_annual, "new_annual")
    start, end = _period(start, end)
    effective = _date(effective, "effective")
    if not start <= effective <= end:
        raise RefundError("An endorsement must take effect within the policy period.")
    period = days_in_period(start, end)
    remaining = (end - effective).days + 1
    adjustment = _to_cents((new_annual - old_annual) * remaining / period)
    return EndorsementAdjustment(
        old_annual=old_annual,
        new_annual=new_annual,
        start=start,
        end=end,
        effective=effective,
        remaining_days=remaining,
        days_in_period=period,
        adjustment=adjustment,
        additional_premium=max(adjustment, ZERO),
        return_premium=max(-adjustment, ZERO),
    )


def instalment_schedule(
    premium: Decimal, count: int, first_due: date, months_between: int = 1
) -> InstalmentSchedule:
    """Equal instalments due every ``months_between`` months from ``first_due``.

    The equal part is rounded **down** to the fen and the remainder (0 to count - 1 fen) goes on
    the first instalment. Rounding half-up instead would make the remainder negative whenever
    the part rounds up, and for small premiums split many ways the first instalment would come
    out below zero; rounding down keeps every instalment non-negative and puts the extra fen on
    the instalment that is due before cover starts (clause art. 19).
    """
    premium = _money(premium, "premium")
    count = _positive_int(count, "count")
    first_due = _date(first_due, "first_due")
    months_between = _positive_int(months_between, "months_between")
    equal_part = (premium / count).quantize(CENT, rounding=ROUND_DOWN)
    difference = premium - equal_part * count
    instalments = tuple(
        Instalment(
            number=n,
            due=add_months(first_due, (n - 1) * months_between),
            amount=equal_part + difference if n == 1 else equal_part,
        )
        for n in range(1, count + 1)
    )
    return InstalmentSchedule(
        premium=premium,
        count=count,
        months_between=months_between,
        equal_part=equal_part,
        rounding_difference=difference,
        instalments=instalments,
    )
