from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from underwriting.rating import (
    Band,
    CoefficientInput,
    RatingError,
    RiderInput,
    SectionInput,
    compute_premium,
    pick_band,
)

GOLDEN_COEFFICIENTS = [
    CoefficientInput("industry", "electronic_information", D("0.9")),
    CoefficientInput("annual_sales", "le_10m", D("0.8")),
    CoefficientInput("management", "basic", D("1.0")),
    CoefficientInput("deductible", "d10", D("1.0")),
    CoefficientInput("limit_ratio", "ratio_1", D("1.0")),
]


def test_golden_patent_enforcement_premium():
    result = compute_premium(
        [
            SectionInput("investigation", D("0.049"), D("50000"), 1),
            SectionInput("legal", D("0.050"), D("150000"), 1),
        ],
        GOLDEN_COEFFICIENTS,
        minimum_premium=D("1000"),
    )
    assert [s.premium for s in result.sections] == [D("1764.00"), D("5400.00")]
    assert result.total == D("7164.00")
    assert result.sections[0].coefficient_product == D("0.72")
    assert not result.minimum_applied


@pytest.mark.parametrize(
    ("sections", "coefficients", "riders", "minimum", "expected"),
    [
        # count multiplies per-item sections
        ([SectionInput("s", D("0.05"), D("100000"), 3)], [], [], D("0"), D("15000.00")),
        # a coefficient limited to one section leaves the other alone
        (
            [SectionInput("a", D("0.01"), D("100000")), SectionInput("b", D("0.01"), D("100000"))],
            [CoefficientInput("t", "o", D("2"), frozenset({"a"}))],
            [],
            D("0"),
            D("3000.00"),
        ),
        # riders multiply the section total
        (
            [SectionInput("s", D("0.05"), D("100000"))],
            [],
            [RiderInput("R", D("0.9"))],
            D("0"),
            D("4500.00"),
        ),
        # minimum premium wins when higher
        ([SectionInput("s", D("0.001"), D("10000"))], [], [], D("500"), D("500.00")),
        # half-up rounding at the fen: 0.005 → 0.01
        ([SectionInput("s", D("0.0001"), D("50"))], [], [], D("0"), D("0.01")),
    ],
)
def test_table_of_cases(sections, coefficients, riders, minimum, expected):
    assert compute_premium(sections, coefficients, riders, minimum).total == expected


def test_breakdown_names_each_factor():
    result = compute_premium(
        [SectionInput("investigation", D("0.049"), D("50000"))], GOLDEN_COEFFICIENTS
    )
    assert [c.table for c in result.sections[0].coefficients] == [
        "industry",
        "annual_sales",
        "management",
        "deductible",
        "limit_ratio",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"sections": []},
        {"sections": [SectionInput("s", D("0.01"), D("-1"))]},
        {"coefficients": [CoefficientInput("t", "o", D("0"))]},
        {"riders": [RiderInput("r", D("-1"))]},
        {"minimum_premium": D("-5")},
    ],
)
def test_bad_input_is_refused(bad):
    args = {"sections": [SectionInput("s", D("0.01"), D("1000"))]}
    args.update(bad)
    with pytest.raises(RatingError):
        compute_premium(**args)


BANDS = [
    Band("le_10m", D("0.8"), D("0"), D("10000000")),
    Band("10_50m", D("0.95"), D("10000000"), D("50000000")),
    Band("gt_50m", D("1.1"), D("50000000"), None),
]


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "le_10m"), ("10000000", "le_10m"), ("10000000.01", "10_50m"), ("9e9", "gt_50m")],
)
def test_pick_band_edges(value, code):
    assert pick_band(BANDS, D(value)).code == code


def test_pick_band_without_cover():
    with pytest.raises(RatingError):
        pick_band(BANDS[:1], D("20000000"))


money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False)
factors = st.decimals(
    min_value=D("0.01"), max_value=5, places=4, allow_nan=False, allow_infinity=False
)


@given(
    limit=money,
    extra=money,
    rate=rates,
    count=st.integers(1, 500),
    factor_values=st.lists(factors, max_size=5),
    rider_values=st.lists(factors, max_size=3),
    minimum=money,
)
def test_premium_never_below_minimum_and_monotone_in_limit(
    limit, extra, rate, count, factor_values, rider_values, minimum
):
    coefficients = [CoefficientInput(f"t{i}", "o", f) for i, f in enumerate(factor_values)]
    riders = [RiderInput(f"r{i}", f) for i, f in enumerate(rider_values)]
    low = compute_premium([SectionInput("s", rate, limit, count)], coefficients, riders, minimum)
    high = compute_premium(
        [SectionInput("s", rate, limit + extra, count)], coefficients, riders, minimum
    )
    assert low.total >= minimum.quantize(D("0.01"))
    assert high.total >= low.total
    assert low.total == low.total.quantize(D("0.01"))
