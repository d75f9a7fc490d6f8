from dataclasses import FrozenInstanceError
from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from underwriting.refunds import (
    BASIS_BEYOND_TABLE,
    BASIS_TABLE,
    BASIS_TERM_ENDED,
    BASIS_UNDER_ONE_MONTH_DAILY,
    STANDARD_SHORT_RATE_TABLE,
    RefundError,
    add_months,
    days_in_period,
    endorsement_adjustment,
    instalment_schedule,
    insurer_cancellation_effective_date,
    insurer_cancellation_refund,
    months_on_risk,
    paid_premium_refund,
    policyholder_cancellation_before_start_refund,
    policyholder_cancellation_refund,
    validate_short_rate_table,
)

# The TP IP-defence variant (REFERENCE.md §4): under one month, 1 % a day capped at 20 %.
VARIANT_TABLE = (20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100)

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
PREMIUM = D("12000")


# --- golden cases from the brief -----------------------------------------------------------


def test_golden_policyholder_cancels_after_one_month_and_one_day():
    # 2026-01-01 + 1 month = 2026-02-01; 2026-02-02 is one day more → 2 months → 20 % kept
    # kept 12,000 × 20 / 100 = 2,400.00; refund 12,000 − 2,400 = 9,600.00
    result = policyholder_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, date(2026, 2, 2))
    assert result.months_on_risk == 2
    assert result.percent_kept == D("20")
    assert result.basis == BASIS_TABLE
    assert result.kept == D("2400.00")
    assert result.refund == D("9600.00")
    assert str(result.refund) == "9600.00"


def test_golden_insurer_cancels_after_73_days():
    # after 73 days: effective = 2026-01-01 + 73 days = 2026-03-15 (Jan 31 + Feb 28 + 14)
    # kept 12,000 × 73 / 365 = 2,400.00; refund 12,000 × (365 − 73) / 365 = 9,600.00
    effective = YEAR_START + timedelta(days=73)
    assert effective == date(2026, 3, 15)
    result = insurer_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, effective)
    assert (result.days_on_risk, result.days_in_period) == (73, 365)
    assert result.kept == D("2400.00")
    assert result.refund == D("9600.00")


def test_golden_insurer_notice_to_refund():
    # notice 2026-02-28 + 15 days = 2026-03-15 → the 73-day case above
    effective = insurer_cancellation_effective_date(date(2026, 2, 28))
    assert effective == date(2026, 3, 15)
    assert insurer_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, effective).refund == D(
        "9600.00"
    )


# --- calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), 365),  # both ends inclusive
        (date(2028, 1, 1), date(2028, 12, 31), 366),  # leap year
        (date(2026, 5, 5), date(2026, 5, 5), 1),  # a one-day policy
        (date(2026, 1, 1), date(2027, 12, 31), 730),  # 365 + 365
    ],
)
def test_days_in_period(start, end, days):
    assert days_in_period(start, end) == days


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clamped to the month end
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap February
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # counted from Jan 31, not from Feb 28
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # over the year end
        (date(2026, 1, 15), 0, date(2026, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 1, 1), 25, date(2028, 2, 1)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "effective", "months"),
    [
        (date(2026, 1, 15), date(2026, 1, 15), 1),  # on the start day: cover had begun
        (date(2026, 1, 15), date(2026, 1, 16), 1),
        (date(2026, 1, 15), date(2026, 2, 15), 1),  # exactly one month
        (date(2026, 1, 15), date(2026, 2, 16), 2),  # one month and a day
        (date(2026, 1, 15), date(2026, 3, 14), 2),
        (date(2026, 1, 31), date(2026, 2, 28), 1),  # Jan 31 + 1 month = Feb 28
        (date(2026, 1, 31), date(2026, 3, 1), 2),
        (date(2028, 1, 31), date(2028, 2, 29), 1),  # leap: Jan 31 + 1 month = Feb 29
        (date(2028, 1, 31), date(2028, 3, 1), 2),
        (date(2026, 1, 31), date(2026, 3, 31), 2),  # Jan 31 + 2 months = Mar 31
        (date(2026, 1, 1), date(2026, 12, 31), 12),
        (date(2026, 1, 1), date(2027, 1, 1), 12),
        (date(2026, 1, 1), date(2027, 1, 2), 13),
        (date(2026, 12, 20), date(2027, 1, 5), 1),  # across the year end
    ],
)
def test_months_on_risk(start, effective, months):
    assert months_on_risk(start, effective) == months


# --- policyholder cancels after cover started (short-period table) -------------------------


@pytest.mark.parametrize(
    ("effective", "months", "percent", "kept", "refund", "basis"),
    [
        # start day → month 1 → 12,000 × 10 % = 1,200; refund 10,800
        (date(2026, 1, 1), 1, 10, "1200.00", "10800.00", BASIS_TABLE),
        # exactly 1 month (Feb 1) → still month 1 → 10 %
        (date(2026, 2, 1), 1, 10, "1200.00", "10800.00", BASIS_TABLE),
        # exactly 6 months (Jul 1) → 60 % → 7,200; refund 4,800
        (date(2026, 7, 1), 6, 60, "7200.00", "4800.00", BASIS_TABLE),
        # 6 months and a day → 7 → 70 % → 8,400; refund 3,600
        (date(2026, 7, 2), 7, 70, "8400.00", "3600.00", BASIS_TABLE),
        # Sep 2 > Jan 1 + 8 months (Sep 1) → 9 → 85 % → 10,200; refund 1,800
        (date(2026, 9, 2), 9, 85, "10200.00", "1800.00", BASIS_TABLE),
        # last day of the period → 12 → 100 %
        (date(2026, 12, 31), 12, 100, "12000.00", "0.00", BASIS_TABLE),
        # after the end (Jan 1 + 14 months = 2027-03-01) the period has run: all earned
        (date(2027, 3, 1), 14, 100, "12000.00", "0.00", BASIS_TERM_ENDED),
    ],
)
def test_short_rate_standard_table(effective, months, percent, kept, refund, basis):
    result = policyholder_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, effective)
    assert result.months_on_risk == months
    assert result.percent_kept == percent
    assert result.kept == D(kept)
    assert result.refund == D(refund)
    assert result.basis == basis
    assert result.days_on_risk == (effective - YEAR_START).days


@pytest.mark.parametrize(
    ("premium", "effective", "kept", "refund"),
    [
        # month 9 = 85 %: 999.99 × 0.85 = 849.9915 → 849.99; refund 150.00
        ("999.99", date(2026, 9, 2), "849.99", "150.00"),
        # 0.10 × 0.85 = 0.085 → half-up 0.09 (half-even would keep 0.08); refund 0.01
        ("0.10", date(2026, 9, 2), "0.09", "0.01"),
        # 0.05 × 0.10 = 0.005 → 0.01; refund 0.04
        ("0.05", date(2026, 1, 10), "0.01", "0.04"),
        ("0", date(2026, 6, 1), "0.00", "0.00"),
    ],
)
def test_short_rate_rounds_the_kept_amount_half_up(premium, effective, kept, refund):
    result = policyholder_cancellation_refund(D(premium), YEAR_START, YEAR_END, effective)
    assert (result.kept, result.refund) == (D(kept), D(refund))


def test_short_rate_policy_longer_than_a_year():
    # two-year policy, 24,000: Jan 1 2027 = exactly 12 months → table month 12 (100 %)
    # Jan 2 2027 = 13 months → beyond the table → 100 %
    end = date(2027, 12, 31)
    table = (10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 95)  # month 12 below 100 on purpose
    at_twelve = policyholder_cancellation_refund(
        D("24000"), YEAR_START, end, date(2027, 1, 1), table
    )
    assert (at_twelve.months_on_risk, at_twelve.percent_kept) == (12, 95)
    assert at_twelve.refund == D("1200.00")  # 24,000 × 5 %
    beyond = policyholder_cancellation_refund(D("24000"), YEAR_START, end, date(2027, 1, 2), table)
    assert (beyond.months_on_risk, beyond.percent_kept) == (13, 100)
    assert beyond.basis == BASIS_BEYOND_TABLE
    assert beyond.refund == D("0.00")


def test_short_rate_uses_the_products_table():
    # variant month 2 = 30 %: 12,000 × 30 % = 3,600; refund 8,400
    result = policyholder_cancellation_refund(
        PREMIUM, YEAR_START, YEAR_END, date(2026, 2, 2), VARIANT_TABLE
    )
    assert result.refund == D("8400.00")


@pytest.mark.parametrize(
    ("effective", "days_charged", "percent", "refund", "basis"),
    [
        # start day → 1 day (cover had begun) → 1 % → kept 120; refund 11,880
        (date(2026, 1, 1), 1, 1, "11880.00", BASIS_UNDER_ONE_MONTH_DAILY),
        # 10 days → 10 % → kept 1,200; refund 10,800
        (date(2026, 1, 11), 10, 10, "10800.00", BASIS_UNDER_ONE_MONTH_DAILY),
        # 24 days → 24 % capped at 20 % → kept 2,400; refund 9,600
        (date(2026, 1, 25), 24, 20, "9600.00", BASIS_UNDER_ONE_MONTH_DAILY),
        # exactly 1 month is no longer "under one month": table month 1 = 20 %
        (date(2026, 2, 1), None, 20, "9600.00", BASIS_TABLE),
        # month 2 = 30 % → kept 3,600; refund 8,400
        (date(2026, 2, 2), None, 30, "8400.00", BASIS_TABLE),
    ],
)
def test_short_rate_under_one_month_daily_variant(effective, days_charged, percent, refund, basis):
    result = policyholder_cancellation_refund(
        PREMIUM,
        YEAR_START,
        YEAR_END,
        effective,
        VARIANT_TABLE,
        under_one_month_daily_percent=1,
        under_one_month_cap_percent=20,
    )
    assert result.days_charged == days_charged
    assert result.percent_kept == percent
    assert result.refund == D(refund)
    assert result.basis == basis


def test_daily_variant_cap_defaults_to_month_one_and_is_ignored_without_the_option():
    # 24 days at 1 % → 24 %, capped by default at month 1 = 20 % → refund 9,600
    capped = policyholder_cancellation_refund(
        PREMIUM, YEAR_START, YEAR_END, date(2026, 1, 25), VARIANT_TABLE,
        under_one_month_daily_percent=1,
    )  # fmt: skip
    assert capped.percent_kept == 20
    # without the option 10 days are simply month 1 → 20 % → refund 9,600
    plain = policyholder_cancellation_refund(
        PREMIUM, YEAR_START, YEAR_END, date(2026, 1, 11), VARIANT_TABLE
    )
    assert (plain.basis, plain.refund, plain.days_charged) == (BASIS_TABLE, D("9600.00"), None)


# --- insurer cancels (pro rata by days) ----------------------------------------------------


@pytest.mark.parametrize(
    ("premium", "start", "end", "effective", "days_on_risk", "kept", "refund"),
    [
        # effective on the start day → 0 days → full refund
        ("12000", YEAR_START, YEAR_END, YEAR_START, 0, "0.00", "12000.00"),
        # 364 days: 12,000 × 364 / 365 = 11,967.123… → 11,967.12; refund 32.88
        ("12000", YEAR_START, YEAR_END, YEAR_END, 364, "11967.12", "32.88"),
        # end + 1 day → the whole 365 days ran → nothing back
        ("12000", YEAR_START, YEAR_END, date(2027, 1, 1), 365, "12000.00", "0.00"),
        # long after the end: days capped at the period
        ("12000", YEAR_START, YEAR_END, date(2027, 6, 1), 365, "12000.00", "0.00"),
        # leap year, Mar 15 = 31 + 29 + 14 = 74 days: 12,000 × 74 / 366 = 2,426.229… → 2,426.23
        (
            "12000",
            date(2028, 1, 1),
            date(2028, 12, 31),
            date(2028, 3, 15),
            74,
            "2426.23",
            "9573.77",
        ),
        # 1,000 × 1 / 365 = 2.7397… → 2.74; refund 997.26
        ("1000", YEAR_START, YEAR_END, date(2026, 1, 2), 1, "2.74", "997.26"),
        # 4-day policy, 2 days: 0.01 × 2 / 4 = 0.005 → half-up 0.01; refund 0.00
        ("0.01", YEAR_START, date(2026, 1, 4), date(2026, 1, 3), 2, "0.01", "0.00"),
    ],
)
def test_insurer_pro_rata(premium, start, end, effective, days_on_risk, kept, refund):
    result = insurer_cancellation_refund(D(premium), start, end, effective)
    assert result.days_on_risk == days_on_risk
    assert (result.kept, result.refund) == (D(kept), D(refund))


@pytest.mark.parametrize(
    ("notice", "days", "expected"),
    [
        (date(2026, 3, 1), 15, date(2026, 3, 16)),
        (date(2026, 12, 20), 15, date(2027, 1, 4)),
        (date(2028, 2, 20), 15, date(2028, 3, 6)),  # Feb 29 counts
        (date(2026, 3, 1), 30, date(2026, 3, 31)),
        (date(2026, 3, 1), 0, date(2026, 3, 1)),
    ],
)
def test_insurer_cancellation_effective_date(notice, days, expected):
    assert insurer_cancellation_effective_date(notice, days) == expected


# --- policyholder cancels before cover starts ----------------------------------------------


@pytest.mark.parametrize(
    ("premium", "fee_amount", "fee_percent", "fee", "refund", "capped"),
    [
        ("12000", "0", 0, "0.00", "12000.00", False),  # no fee agreed
        ("12000", "100", 0, "100.00", "11900.00", False),  # fixed fee
        ("12000", "0", 5, "600.00", "11400.00", False),  # 12,000 × 5 % = 600
        ("12000", "200", 5, "800.00", "11200.00", False),  # 200 + 600
        ("333.33", "0", D("3"), "10.00", "323.33", False),  # 9.9999 → 10.00
        ("50", "100", 0, "50.00", "0.00", True),  # fee capped at the premium
        ("1000", "50", 100, "1000.00", "0.00", True),  # 50 + 1,000 → capped at 1,000
    ],
)
def test_before_start(premium, fee_amount, fee_percent, fee, refund, capped):
    result = policyholder_cancellation_before_start_refund(D(premium), D(fee_amount), fee_percent)
    assert (result.kept, result.refund, result.fee_capped) == (D(fee), D(refund), capped)


# --- endorsements --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "end", "effective", "remaining", "adjustment"),
    [
        # Mar 15 → Dec 31 inclusive = 365 − 73 = 292 days: 3,000 × 292 / 365 = 2,400.00 due
        ("12000", "15000", YEAR_END, date(2026, 3, 15), 292, "2400.00"),
        # the same decrease is a return premium of 2,400.00
        ("12000", "9000", YEAR_END, date(2026, 3, 15), 292, "-2400.00"),
        # from the start day the whole difference applies
        ("12000", "15000", YEAR_END, YEAR_START, 365, "3000.00"),
        # on the last day one day remains: 3,000 / 365 = 8.219… → 8.22
        ("12000", "15000", YEAR_END, YEAR_END, 1, "8.22"),
        ("12000", "12000", YEAR_END, date(2026, 6, 1), 214, "0.00"),
        # 2-day policy, 1 day left: −0.01 × 1 / 2 = −0.005 → −0.01 (half-up = away from zero)
        ("1000.00", "999.99", date(2026, 1, 2), date(2026, 1, 2), 1, "-0.01"),
    ],
)
def test_endorsement_adjustment(old, new, end, effective, remaining, adjustment):
    result = endorsement_adjustment(D(old), D(new), YEAR_START, end, effective)
    assert result.remaining_days == remaining
    assert result.adjustment == D(adjustment)
    assert result.additional_premium == max(D(adjustment), D(0))
    assert result.return_premium == max(-D(adjustment), D(0))


# --- instalments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("premium", "count", "first_due", "months_between", "amounts", "dues"),
    [
        # 12,000 / 4 = 3,000 exactly, quarterly
        (
            "12000", 4, date(2026, 1, 1), 3,
            ["3000.00"] * 4,
            [date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)],
        ),
        # 1,000 / 3 = 333.33 × 3 = 999.99 → first carries +0.01; month ends kept
        (
            "1000", 3, date(2026, 1, 31), 1,
            ["333.34", "333.33", "333.33"],
            [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)],
        ),
        # 100 / 7 = 14.2857 → 14.28 × 7 = 99.96 → first 14.28 + 0.04 = 14.32
        (
            "100", 7, date(2028, 1, 31), 2,
            ["14.32"] + ["14.28"] * 6,
            [date(2028, 1, 31), date(2028, 3, 31), date(2028, 5, 31), date(2028, 7, 31),
             date(2028, 9, 30), date(2028, 11, 30), date(2029, 1, 31)],
        ),
        # 0.15 / 10 = 0.015 → 0.01 each, first 0.06 (half-up parts would need a first of −0.03)
        ("0.15", 10, date(2026, 1, 1), 1, ["0.06"] + ["0.01"] * 9, None),
        ("500", 1, date(2026, 1, 1), 12, ["500.00"], [date(2026, 1, 1)]),
    ],
)  # fmt: skip
def test_instalment_schedule(premium, count, first_due, months_between, amounts, dues):
    schedule = instalment_schedule(D(premium), count, first_due, months_between)
    assert [i.amount for i in schedule.instalments] == [D(a) for a in amounts]
    assert [i.number for i in schedule.instalments] == list(range(1, count + 1))
    if dues is not None:
        assert [i.due for i in schedule.instalments] == dues
    assert sum(i.amount for i in schedule.instalments) == D(premium)


def test_paid_after():
    schedule = instalment_schedule(D("1000"), 3, YEAR_START)
    assert [schedule.paid_after(n) for n in range(4)] == [
        D("0.00"), D("333.34"), D("666.67"), D("1000.00")
    ]  # fmt: skip
    with pytest.raises(RefundError):
        schedule.paid_after(4)


# --- refunds against what was actually paid ------------------------------------------------

TWO_MONTHS = policyholder_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, date(2026, 2, 2))
SEVEN_MONTHS = policyholder_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, date(2026, 7, 2))


@pytest.mark.parametrize(
    ("calculation", "paid", "refund", "kept", "owed"),
    [
        # all paid → the computed refund: 12,000 − 2,400 = 9,600
        (TWO_MONTHS, "12000", "9600.00", "2400.00", "0.00"),
        # 1 of 4 quarterly paid: earned 2,400, paid 3,000 → 600 back
        (TWO_MONTHS, "3000", "600.00", "2400.00", "0.00"),
        # 2 of 4 paid, 7 months earned 8,400 > 6,000 paid → nothing back, 2,400 owed
        (SEVEN_MONTHS, "6000", "0.00", "6000.00", "2400.00"),
        # nothing paid → nothing back, all earned premium owed
        (SEVEN_MONTHS, "0", "0.00", "0.00", "8400.00"),
        # before start, 100 fee, first instalment 3,000 paid → 2,900 back
        (
            policyholder_cancellation_before_start_refund(PREMIUM, D("100")),
            "3000", "2900.00", "100.00", "0.00",
        ),
        # insurer, 73 days: earned 2,400, paid 2,400 → even
        (
            insurer_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, date(2026, 3, 15)),
            "2400", "0.00", "2400.00", "0.00",
        ),
    ],
)  # fmt: skip
def test_paid_premium_refund(calculation, paid, refund, kept, owed):
    result = paid_premium_refund(calculation, D(paid))
    assert (result.refund, result.kept, result.amount_owed) == (D(refund), D(kept), D(owed))
    assert result.computed_refund == calculation.refund


# --- invalid input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: policyholder_cancellation_refund(D("-1"), YEAR_START, YEAR_END, YEAR_START),
            id="negative premium",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(12000.0, YEAR_START, YEAR_END, YEAR_START),
            id="float premium",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(D("10.005"), YEAR_START, YEAR_END, YEAR_START),
            id="premium below the fen",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(D("NaN"), YEAR_START, YEAR_END, YEAR_START),
            id="NaN premium",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(PREMIUM, YEAR_END, YEAR_START, YEAR_END),
            id="end before start (pro rata)",
        ),
        pytest.param(lambda: days_in_period(YEAR_END, YEAR_START), id="end before start"),
        pytest.param(
            lambda: policyholder_cancellation_refund(
                PREMIUM, YEAR_START, YEAR_END, date(2025, 12, 31)
            ),
            id="short rate effective before start",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(PREMIUM, YEAR_START, YEAR_END, date(2025, 12, 31)),
            id="pro rata effective before start",
        ),
        pytest.param(
            lambda: insurer_cancellation_refund(
                PREMIUM, datetime(2026, 1, 1), YEAR_END, date(2026, 2, 1)
            ),
            id="datetime instead of date",
        ),
        pytest.param(lambda: validate_short_rate_table([10] * 11), id="11 months"),
        pytest.param(lambda: validate_short_rate_table([10] * 13), id="13 months"),
        pytest.param(
            lambda: validate_short_rate_table([10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 94]),
            id="decreasing",
        ),
        pytest.param(lambda: validate_short_rate_table([-1] + [10] * 11), id="below 0"),
        pytest.param(lambda: validate_short_rate_table([10] * 11 + [101]), id="above 100"),
        pytest.param(lambda: validate_short_rate_table([10.0] * 12), id="float percentages"),
        pytest.param(lambda: validate_short_rate_table("10" * 6), id="string"),
        pytest.param(
            lambda: policyholder_cancellation_refund(
                PREMIUM, YEAR_START, YEAR_END, YEAR_START, [10] * 11
            ),
            id="bad table passed to the calculation",
        ),
        pytest.param(
            lambda: policyholder_cancellation_refund(
                PREMIUM,
                YEAR_START,
                YEAR_END,
                YEAR_START,
                VARIANT_TABLE,
                under_one_month_daily_percent=1,
                under_one_month_cap_percent=25,
            ),
            id="cap above month 1",
        ),  # fmt: skip
        pytest.param(
            lambda: policyholder_cancellation_refund(
                PREMIUM, YEAR_START, YEAR_END, YEAR_START, under_one_month_cap_percent=5
            ),
            id="cap without daily percent",
        ),
        pytest.param(
            lambda: policyholder_cancellation_before_start_refund(PREMIUM, D("-1")),
            id="negative fee",
        ),
        pytest.param(
            lambda: policyholder_cancellation_before_start_refund(PREMIUM, D("0"), 101),
            id="fee above 100 %",
        ),
        pytest.param(
            lambda: endorsement_adjustment(
                PREMIUM, PREMIUM, YEAR_START, YEAR_END, date(2027, 1, 1)
            ),
            id="endorsement after the end",
        ),
        pytest.param(
            lambda: endorsement_adjustment(
                PREMIUM, PREMIUM, YEAR_START, YEAR_END, date(2025, 12, 31)
            ),
            id="endorsement before the start",
        ),
        pytest.param(lambda: instalment_schedule(PREMIUM, 0, YEAR_START), id="zero instalments"),
        pytest.param(
            lambda: instalment_schedule(PREMIUM, 4, YEAR_START, 0), id="zero months between"
        ),
        pytest.param(lambda: instalment_schedule(D("-5"), 4, YEAR_START), id="negative split"),
        pytest.param(
            lambda: insurer_cancellation_effective_date(YEAR_START, -1), id="negative notice"
        ),
        pytest.param(lambda: paid_premium_refund(TWO_MONTHS, D("12000.01")), id="overpaid"),
        pytest.param(lambda: paid_premium_refund(TWO_MONTHS, D("-1")), id="negative paid"),
    ],
)
def test_invalid_input_raises_refund_error(call):
    with pytest.raises(RefundError):
        call()


def test_refund_error_is_a_value_error():
    assert issubclass(RefundError, ValueError)


def test_results_are_frozen():
    with pytest.raises(FrozenInstanceError):
        TWO_MONTHS.refund = D("0")  # type: ignore[misc]


def test_standard_table_is_valid():
    assert validate_short_rate_table(STANDARD_SHORT_RATE_TABLE)[5] == D("60")


# --- properties ----------------------------------------------------------------------------

premiums = st.integers(0, 10**11).map(lambda fen: D(fen).scaleb(-2))
starts = st.dates(date(2000, 1, 1), date(2100, 12, 31))
lengths = st.integers(0, 3 * 366)  # end = start + length
offsets = st.integers(0, 4 * 366)  # effective = start + offset, past the end too
tables = st.lists(st.integers(0, 100), min_size=12, max_size=12).map(sorted)
daily_percents = st.none() | st.integers(0, 100) | st.just(D("0.5"))


def _short_rate(premium, start, length, offset, table, daily):
    return policyholder_cancellation_refund(
        premium,
        start,
        start + timedelta(days=length),
        start + timedelta(days=offset),
        table,
        under_one_month_daily_percent=daily,
    )


def _pro_rata(premium, start, length, offset):
    return insurer_cancellation_refund(
        premium, start, start + timedelta(days=length), start + timedelta(days=offset)
    )


def _assert_balanced(result):
    assert D(0) <= result.refund <= result.premium
    assert result.kept + result.refund == result.premium
    assert result.refund.as_tuple().exponent == -2


@given(premiums, starts, lengths, offsets, tables, daily_percents)
@example(D("12000"), YEAR_START, 364, 32, list(STANDARD_SHORT_RATE_TABLE), None)
def test_short_rate_refund_is_balanced(premium, start, length, offset, table, daily):
    _assert_balanced(_short_rate(premium, start, length, offset, table, daily))


@given(premiums, starts, lengths, offsets)
def test_pro_rata_refund_is_balanced(premium, start, length, offset):
    _assert_balanced(_pro_rata(premium, start, length, offset))


@given(premiums, premiums, st.integers(0, 100) | st.decimals(0, 100, places=3))
def test_before_start_refund_is_balanced(premium, fee_amount, fee_percent):
    result = policyholder_cancellation_before_start_refund(premium, fee_amount, fee_percent)
    _assert_balanced(result)
    assert result.kept <= result.fee_before_cap


@given(premiums, starts, lengths, offsets, offsets, tables, daily_percents)
@example(D("12000"), YEAR_START, 364, 24, 31, list(VARIANT_TABLE), 1)  # daily cap → month 1
def test_later_short_rate_cancellation_never_refunds_more(
    premium, start, length, first, second, table, daily
):
    earlier, later = sorted((first, second))
    assert (
        _short_rate(premium, start, length, later, table, daily).refund
        <= _short_rate(premium, start, length, earlier, table, daily).refund
    )


@given(premiums, starts, lengths, offsets, offsets)
def test_later_pro_rata_cancellation_never_refunds_more(premium, start, length, first, second):
    earlier, later = sorted((first, second))
    assert (
        _pro_rata(premium, start, length, later).refund
        <= _pro_rata(premium, start, length, earlier).refund
    )


@given(starts, offsets)
def test_months_on_risk_is_the_first_month_end_reaching_the_effective_date(start, offset):
    effective = start + timedelta(days=offset)
    months = months_on_risk(start, effective)
    assert months >= 1
    assert effective <= add_months(start, months)
    assert months == 1 or add_months(start, months - 1) < effective


@given(premiums, starts, lengths, offsets)
def test_pro_rata_and_endorsement_split_the_period(premium, start, length, offset):
    # the days before an effective date (on risk) and from it (remaining) make up the period
    end = start + timedelta(days=length)
    effective = start + timedelta(days=offset % (length + 1))
    cancelled = insurer_cancellation_refund(premium, start, end, effective)
    endorsed = endorsement_adjustment(D(0), premium, start, end, effective)
    assert cancelled.days_on_risk + endorsed.remaining_days == days_in_period(start, end)


@given(premiums, premiums, starts, lengths, st.integers(0, 3 * 366))
def test_endorsement_is_bounded_and_signed(old, new, start, length, offset):
    end = start + timedelta(days=length)
    result = endorsement_adjustment(
        old, new, start, end, start + timedelta(days=offset % (length + 1))
    )
    assert abs(result.adjustment) <= abs(new - old)
    assert result.adjustment * (new - old) >= 0
    assert result.additional_premium - result.return_premium == result.adjustment
    assert min(result.additional_premium, result.return_premium) == 0


@given(premiums, st.integers(1, 24), starts, st.integers(1, 12))
@example(D("0.15"), 10, YEAR_START, 1)
def test_instalments_sum_exactly_to_the_premium(premium, count, first_due, months_between):
    schedule = instalment_schedule(premium, count, first_due, months_between)
    amounts = [i.amount for i in schedule.instalments]
    assert sum(amounts) == premium
    assert len(amounts) == count
    assert all(a >= 0 and a.as_tuple().exponent == -2 for a in amounts)
    assert len(set(amounts[1:])) <= 1
    assert D(0) <= amounts[0] - schedule.equal_part < D("0.01") * count
    dues = [i.due for i in schedule.instalments]
    assert dues == sorted(set(dues))
    assert all(d.day <= first_due.day for d in dues)


@given(premiums, starts, lengths, offsets, tables, st.integers(0, 10**4))
def test_paid_refund_never_exceeds_what_was_paid(premium, start, length, offset, table, ratio):
    calculation = _short_rate(premium, start, length, offset, table, None)
    paid = (premium * ratio / 10**4).quantize(D("0.01"))
    result = paid_premium_refund(calculation, paid)
    assert D(0) <= result.refund <= min(paid, calculation.refund)
    assert result.kept + result.refund == paid
    assert result.kept + result.amount_owed == calculation.kept
    assert result.amount_owed == 0 or result.refund == 0
