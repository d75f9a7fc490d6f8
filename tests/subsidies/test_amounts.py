"""The subsidy amount: the programme's rate of the premium paid, then every cap and the budget.
Pure: table-driven golden cases and properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidies.amounts import (
    BY_BUDGET,
    BY_FIRM_YEAR_CAP,
    BY_ITEM_CAP,
    BY_POLICY_CAP,
    BY_RATE,
    AmountError,
    Rates,
    rate_for,
    subsidy_amount,
)

D = Decimal


@pytest.mark.parametrize(
    ("kwargs", "amount", "decided_by"),
    [
        # Wuxi: 50 % of 700,000 with a 300,000 per-item cap → 300,000.
        (
            {"premium_paid": D("700000"), "rate": D("50"), "cap_per_item": D("300000")},
            "300000.00",
            BY_ITEM_CAP,
        ),
        # Two insured rights double the per-item cap.
        (
            {
                "premium_paid": D("700000"),
                "rate": D("50"),
                "cap_per_item": D("300000"),
                "items": 2,
            },
            "350000.00",
            BY_RATE,
        ),
        # Beijing overseas pilot: 650,000 of the 800,000 annual cap used → at most 150,000.
        (
            {
                "premium_paid": D("400000"),
                "rate": D("80"),
                "cap_per_firm_year": D("800000"),
                "used_this_year": D("650000"),
            },
            "150000.00",
            BY_FIRM_YEAR_CAP,
        ),
        # A budget with 10,000 left caps the amount at 10,000.
        (
            {"premium_paid": D("100000"), "rate": D("50"), "budget_left": D("10000")},
            "10000.00",
            BY_BUDGET,
        ),
        # Qingdao: 75 % under a 500,000 per-policy cap.
        (
            {"premium_paid": D("800000"), "rate": D("75"), "cap_per_policy": D("500000")},
            "500000.00",
            BY_POLICY_CAP,
        ),
        # Rounded down to the fen: public money is never rounded up.
        ({"premium_paid": D("0.03"), "rate": D("50")}, "0.01", BY_RATE),
        # The annual cap already used up: nothing.
        (
            {
                "premium_paid": D("1000"),
                "rate": D("50"),
                "cap_per_firm_year": D("200000"),
                "used_this_year": D("250000"),
            },
            "0.00",
            BY_FIRM_YEAR_CAP,
        ),
    ],
)
def test_golden_cases(kwargs, amount, decided_by):
    arguments = {"budget_left": D("100000000"), **kwargs}
    result = subsidy_amount(**arguments)
    assert result.amount == D(amount)
    assert result.decided_by == decided_by


@pytest.mark.parametrize(
    ("renewal", "champion", "high_value", "rate"),
    [
        (False, False, False, "100"),  # Beijing pilot, first request
        (True, False, False, "90"),  # an SME's later request
        (True, True, False, "80"),  # a single champion
        (False, True, False, "80"),
        (False, False, True, "100"),  # the uplift never takes the rate above 100 %
    ],
)
def test_rate_tiers(renewal, champion, high_value, rate):
    rates = Rates(first=D("100"), renewal=D("90"), champion=D("80"), uplift_high_value=D("10"))
    assert rate_for(rates, renewal=renewal, single_champion=champion, high_value=high_value) == D(
        rate
    )


def test_shandong_uplift_for_high_value_patents():
    rates = Rates(first=D("60"), uplift_high_value=D("10"))
    assert rate_for(rates, renewal=False, single_champion=False, high_value=True) == D("70")
    assert rate_for(rates, renewal=True, single_champion=True, high_value=False) == D("60")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"premium_paid": D("-1"), "rate": D("50")},
        {"premium_paid": D("1"), "rate": D("101")},
        {"premium_paid": 1.5, "rate": D("50")},
        {"premium_paid": D("1"), "rate": D("50"), "items": 0},
        {"premium_paid": D("NaN"), "rate": D("50")},
    ],
)
def test_bad_inputs_are_refused(kwargs):
    with pytest.raises(AmountError):
        subsidy_amount(budget_left=D("1"), **kwargs)


money = st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False)
optional_money = st.none() | money


@given(
    premium=money,
    rate=st.decimals(min_value=0, max_value=100, places=2),
    items=st.integers(min_value=1, max_value=50),
    per_item=optional_money,
    per_policy=optional_money,
    per_year=optional_money,
    used=money,
    budget_left=money,
)
def test_never_above_any_cap_or_the_budget_left(
    premium, rate, items, per_item, per_policy, per_year, used, budget_left
):
    result = subsidy_amount(
        premium_paid=premium,
        rate=rate,
        items=items,
        cap_per_item=per_item,
        cap_per_policy=per_policy,
        cap_per_firm_year=per_year,
        used_this_year=used,
        budget_left=budget_left,
    )
    assert D(0) <= result.amount <= premium * rate / 100
    assert result.amount <= budget_left
    if per_item is not None:
        assert result.amount <= per_item * items
    if per_policy is not None:
        assert result.amount <= per_policy
    if per_year is not None:
        assert result.amount <= max(per_year - used, D(0))
    assert result.amount == result.amount.quantize(D("0.01"))
