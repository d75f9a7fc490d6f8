"""Splitting recoveries between insurer and insured, and the reinstatement premium: pure."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.recoveries import METHODS, RecoveryError, split_recovery
from claims.reinstatement import ReinstatementError, reinstatement_premium

D = Decimal


@pytest.mark.parametrize(
    ("method", "amount", "kwargs", "insurer", "insured"),
    [
        # The insurer paid 20,000 of a 30,000 loss (10,000 the insured bore itself).
        ("insurer_first", "15000", {}, "15000", "0"),
        ("insurer_first", "25000", {}, "20000", "5000"),
        ("insurer_first", "5000", {"insurer_recovered": D("18000")}, "2000", "3000"),
        ("insured_first", "15000", {}, "5000", "10000"),
        ("insured_first", "8000", {}, "0", "8000"),
        ("insured_first", "40000", {}, "20000", "20000"),
        ("pro_rata", "15000", {}, "10000", "5000"),
        ("pro_rata", "30000", {}, "20000", "10000"),
        ("pro_rata", "3000", {"insured_recovered": D("10000")}, "3000", "0"),
        ("percentage", "40000", {"insurer_percent": D("25")}, "10000", "30000"),
        ("percentage", "100000", {"insurer_percent": D("25")}, "20000", "80000"),
        ("percentage", "0.03", {"insurer_percent": D("50")}, "0.02", "0.01"),
    ],
)
def test_split_by_method(method, amount, kwargs, insurer, insured):
    arguments = {"insurer_paid": D("20000"), "insured_uninsured_loss": D("10000"), **kwargs}
    split = split_recovery(D(amount), method=method, **arguments)
    assert (split.insurer, split.insured) == (D(insurer), D(insured))


def test_bad_inputs_are_refused():
    with pytest.raises(RecoveryError):
        split_recovery(D("1"), method="winner_takes_all", insurer_paid=D("1"))
    with pytest.raises(RecoveryError):
        split_recovery(D("-1"), method="insurer_first", insurer_paid=D("1"))
    with pytest.raises(RecoveryError):
        split_recovery(D("1.001"), method="insurer_first", insurer_paid=D("1"))
    with pytest.raises(RecoveryError):
        split_recovery(1.5, method="insurer_first", insurer_paid=D("1"))
    with pytest.raises(RecoveryError):
        split_recovery(D("1"), method="percentage", insurer_paid=D("1"), insurer_percent=D("101"))


money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


@given(
    method=st.sampled_from(METHODS),
    amount=money,
    paid=money,
    recovered=money,
    uninsured=money,
    insured_recovered=money,
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_parts_add_up_and_the_insurer_never_takes_more_than_it_paid(
    method, amount, paid, recovered, uninsured, insured_recovered, percent
):
    split = split_recovery(
        amount,
        method=method,
        insurer_paid=paid,
        insurer_recovered=recovered,
        insured_uninsured_loss=uninsured,
        insured_recovered=insured_recovered,
        insurer_percent=percent,
    )
    assert split.insurer + split.insured == amount
    assert D(0) <= split.insurer <= max(paid - recovered, D(0))
    assert split.insured >= 0
    assert split.insurer == split.insurer.quantize(D("0.01"))


# --- Reinstatement premium -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effective", "amount", "expected"),
    [
        (date(2026, 1, 1), "50000", "500.00"),  # the whole year, a quarter of the cover
        (date(2026, 12, 31), "200000", "5.48"),  # one day of the full cover: 2000 / 365
        (date(2026, 7, 2), "100000", "501.37"),  # 183 days left of 365, half the cover
    ],
)
def test_reinstatement_premium_by_the_day(effective, amount, expected):
    premium = reinstatement_premium(
        annual_premium=D("2000"),
        sum_insured=D("200000"),
        amount=D(amount),
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        effective=effective,
    )
    assert premium == D(expected)


def test_reinstatement_outside_the_period_is_refused():
    with pytest.raises(ReinstatementError):
        reinstatement_premium(
            annual_premium=D("2000"),
            sum_insured=D("200000"),
            amount=D("1000"),
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            effective=date(2027, 1, 1),
        )


@given(
    amount=st.decimals(min_value="0.01", max_value=200000, places=2),
    day=st.integers(min_value=0, max_value=365),
)
def test_reinstatement_never_costs_more_than_the_annual_premium(amount, day):
    from datetime import timedelta

    start = date(2028, 1, 1)  # a leap year: 366 days
    premium = reinstatement_premium(
        annual_premium=D("2000"),
        sum_insured=D("200000"),
        amount=amount,
        start=start,
        end=date(2028, 12, 31),
        effective=start + timedelta(days=day),
    )
    assert D(0) <= premium <= D("2000")
