import json
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from underwriting.valuation import (
    DEFAULT_WEIGHTS,
    CostInputs,
    IncomeInputs,
    PatentValuationInput,
    ScoreWeights,
    ValuationError,
    claim_points,
    cost_approach_value,
    family_points,
    horizon_years,
    invalidation_points,
    licensing_points,
    loan_to_value_percent,
    market_share_points,
    maturity_points,
    non_circumventability_points,
    relief_from_royalty_value,
    remaining_term_points,
    sales_points,
    substitutes_points,
    value_patent,
)

# Indicator facts used by most cases, with their points:
#   remaining term 12 y → 0.5 × 12 = 6      family US, DE, CN → 5 + 1 + 0 = 6
#   invalidation "none" → 7                 8 product claims → 8 × 1.0 = 8
#   non-circumventability 3 → 6
#   legal = (6 + 6 + 7 + 8 + 6) / 5 = 6.6 → 66.0
#   maturity "pilot" 6, substitutes "few" 6 → technical = 6 → 60.0
#   market share 10 % → 6, sales 5m → 5, non-exclusive licence 7 → economic = 18 / 3 = 6 → 60.0
#   score = 0.4 × 66.0 + 0.3 × 60.0 + 0.3 × 60.0 = 26.4 + 18 + 18 = 62.4
#   spread = 0.10 + 0.20 × (1 − 0.624) = 0.10 + 0.0752 = 0.1752
BASE_FACTS = {
    "remaining_term_years": D("12"),
    "family_countries": ("US", "DE", "CN"),
    "invalidation_history": "none",
    "claim_count": 8,
    "claim_type": "product",
    "non_circumventability": 3,
    "maturity": "pilot",
    "substitutes": "few",
    "market_share_percent": D("10"),
    "annual_sales": D("5000000"),
    "licensing": "non_exclusive",
}

# Cash flow of the DCF cases below: 1,000,000 × 5 % × (1 − 25 %) = 37,500 a year.
REFERENCE_INCOME = IncomeInputs(
    annual_revenue=D("1000000"),
    royalty_rate=D("5"),
    economic_life_years=D("3"),
    discount_rate=D("10"),
)
REFERENCE_COST = CostInputs(rd_cost=D("2000000"), obsolescence=D("30"))


def facts(**overrides):
    return PatentValuationInput(**{**BASE_FACTS, **overrides})


def income(**overrides):
    return replace(REFERENCE_INCOME, **overrides)


def effects_by_key(result):
    return {row.key: row for row in result.effects}


# --- relief from royalty ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "income_inputs", "expected_horizon", "expected"),
    [
        pytest.param(
            # H = min(10, 3) = 3, capped by economic life.
            # 37,500/1.1 + 37,500/1.21 + 37,500/1.331
            #   = 34,090.909091 + 30,991.735537 + 28,174.305034 = 93,256.949662
            D("10"),
            income(),
            D("3"),
            D("93256.95"),
            id="integer-horizon-capped-by-economic-life",
        ),
        pytest.param(
            # H = min(2, 5) = 2, capped by the legal term.
            # 34,090.909091 + 30,991.735537 = 65,082.644628
            D("2"),
            income(economic_life_years=D("5")),
            D("2"),
            D("65082.64"),
            id="integer-horizon-capped-by-legal-term",
        ),
        pytest.param(
            # H = min(2.5, 10) = 2.5 → n = 2 full years and f = 0.5 of year 3 at t = 3:
            # 34,090.909091 + 30,991.735537 + 0.5 × 28,174.305034 (= 14,087.152517)
            #   = 79,169.797145
            D("2.5"),
            income(economic_life_years=D("10")),
            D("2.5"),
            D("79169.80"),
            id="fractional-horizon-capped-by-legal-term",
        ),
        pytest.param(
            # g = r = 10 %: year t gives 37,500 × 1.1^(t−1) / 1.1^t = 37,500 / 1.1 = 34,090.909091
            # three years: 3 × 34,090.909091 = 102,272.727273
            D("3"),
            income(economic_life_years=D("5"), growth_rate=D("10")),
            D("3"),
            D("102272.73"),
            id="growth-equal-to-discount",
        ),
        pytest.param(
            # CF = 100,000 × 10 % × (1 − 0) = 10,000; r = 100 %: 10,000/2 + 10,000/4 = 7,500
            D("20"),
            IncomeInputs(
                annual_revenue=D("100000"),
                royalty_rate=D("10"),
                economic_life_years=D("2"),
                discount_rate=D("100"),
                tax_rate=D("0"),
            ),
            D("2"),
            D("7500.00"),
            id="no-tax-full-discount",
        ),
        pytest.param(
            # H = 1.5, g = 100 %, r = 25 %, CF1 = 200,000 × 10 % × 50 % = 10,000:
            # 10,000 / 1.25 = 8,000; year 2 revenue doubles → CF2 = 20,000, half a year at t = 2:
            # 0.5 × 20,000 / 1.5625 = 6,400; total 14,400
            D("5"),
            IncomeInputs(
                annual_revenue=D("200000"),
                royalty_rate=D("10"),
                economic_life_years=D("1.5"),
                discount_rate=D("25"),
                tax_rate=D("50"),
                growth_rate=D("100"),
            ),
            D("1.5"),
            D("14400.00"),
            id="fractional-horizon-with-growth",
        ),
        # H = min(−1, 3) ≤ 0: an expired patent earns nothing.
        pytest.param(D("-1"), income(), D("0"), D("0.00"), id="expired"),
        pytest.param(D("0"), income(), D("0"), D("0.00"), id="expires-today"),
    ],
)
def test_income_approach_golden(term, income_inputs, expected_horizon, expected):
    result = value_patent(facts(remaining_term_years=term, income=income_inputs))
    assert result.horizon_years == expected_horizon
    assert result.income_value == expected
    assert result.cost_value is None
    # Income only: the point value is the income value.
    assert result.point_value == expected


def test_income_approach_is_rounded_only_at_the_end():
    exact = relief_from_royalty_value(REFERENCE_INCOME, D("10"))
    assert D("93256.949661") < exact < D("93256.949662")


@pytest.mark.parametrize(
    ("rd_cost", "obsolescence", "expected"),
    [
        # 2,000,000 × (1 − 0.30) = 1,400,000
        (D("2000000"), D("30"), D("1400000.00")),
        # 1.01 × (1 − 0.50) = 0.505 → half-up 0.51 (half-even would give 0.50)
        (D("1.01"), D("50"), D("0.51")),
        (D("500000"), D("100"), D("0.00")),
        (D("500000"), D("0"), D("500000.00")),
    ],
)
def test_cost_approach_golden(rd_cost, obsolescence, expected):
    cost = CostInputs(rd_cost=rd_cost, obsolescence=obsolescence)
    result = value_patent(facts(cost=cost))
    assert result.cost_value == expected
    assert result.income_value is None
    assert result.horizon_years is None
    assert result.point_value == expected


def test_horizon_is_the_shorter_of_term_and_life():
    assert horizon_years(D("7.5"), D("10")) == D("7.5")
    assert horizon_years(D("20"), D("8")) == D("8")
    assert horizon_years(D("-2"), D("8")) == D("0")


# --- score ------------------------------------------------------------------------------------


def test_score_golden_reference_facts():
    result = value_patent(facts(cost=REFERENCE_COST))
    assert result.score == D("62.4")
    assert dict(result.dimension_scores) == {
        "legal": D("66.0"),
        "technical": D("60.0"),
        "economic": D("60.0"),
    }
    assert result.spread == D("0.1752")


def test_score_golden_weakest_facts():
    # expired → 0, no family → 0, pending → 2, no claims → 0, non-circumventability 1 → 2:
    #   legal = (0 + 0 + 2 + 0 + 2) / 5 = 0.8 → 8.0
    # concept 2, many substitutes 2 → technical = 2 → 20.0
    # share 0 → 0, sales 0 → 0, no licence 3 → economic = 3 / 3 = 1 → 10.0
    # score = 0.4 × 8 + 0.3 × 20 + 0.3 × 10 = 3.2 + 6 + 3 = 12.2
    weak = facts(
        remaining_term_years=D("-1"),
        family_countries=(),
        invalidation_history="pending",
        claim_count=0,
        non_circumventability=1,
        maturity="concept",
        substitutes="many",
        market_share_percent=D("0"),
        annual_sales=D("0"),
        licensing="none",
        cost=REFERENCE_COST,
    )
    result = value_patent(weak)
    assert result.score == D("12.2")
    assert dict(result.dimension_scores) == {
        "legal": D("8.0"),
        "technical": D("20.0"),
        "economic": D("10.0"),
    }
    # 0.10 + 0.20 × (1 − 0.122) = 0.10 + 0.1756
    assert result.spread == D("0.2756")


def test_score_golden_strongest_facts():
    strong = facts(
        remaining_term_years=D("20"),
        family_countries=("US", "EP", "JP"),
        invalidation_history="survived",
        claim_count=15,
        non_circumventability=5,
        maturity="mass_production",
        substitutes="none",
        market_share_percent=D("55"),
        annual_sales=D("200000000"),
        licensing="exclusive",
        cost=REFERENCE_COST,
    )
    result = value_patent(strong)
    assert result.score == D("100.0")
    assert result.spread == D("0.1000")


def test_score_golden_custom_weights():
    # family weighs 3, the other legal indicators 1:
    #   legal = (6 + 3 × 6 + 7 + 8 + 6) / 7 = 45 / 7 = 6.428571 → 64.3
    # score = 0.5 × 64.285714 + 0.25 × 60 + 0.25 × 60 = 32.142857 + 30 = 62.142857 → 62.1
    weights = ScoreWeights(
        legal=D("0.5"),
        technical=D("0.25"),
        economic=D("0.25"),
        indicator_weights={"family": D("3")},
    )
    result = value_patent(facts(cost=REFERENCE_COST), weights=weights)
    assert result.dimension_scores["legal"] == D("64.3")
    assert result.score == D("62.1")


# --- point value and range --------------------------------------------------------------------


def test_income_only_range():
    # growth case with H = min(12, 3) = 3: income 102,272.727273; spread 0.1752:
    #   low  = 102,272.727273 × 0.8248 =  84,354.545455
    #   high = 102,272.727273 × 1.1752 = 120,190.909091
    inputs = facts(income=income(growth_rate=D("10")))
    result = value_patent(inputs)
    assert (result.low, result.point_value, result.high) == (
        D("84354.55"),
        D("102272.73"),
        D("120190.91"),
    )


def test_cost_only_range():
    # 1,400,000 × 0.8248 = 1,154,720; 1,400,000 × 1.1752 = 1,645,280
    result = value_patent(facts(cost=REFERENCE_COST))
    assert (result.low, result.point_value, result.high) == (
        D("1154720.00"),
        D("1400000.00"),
        D("1645280.00"),
    )


def test_both_approaches_blend_and_range_covers_them():
    # point = 0.7 × 93,256.949662 + 0.3 × 1,400,000 = 65,279.864763 + 420,000 = 485,279.864763
    # low  = min(93,256.95, 485,279.86 × 0.8248 ≈ 400,259)   = 93,256.95 (the income value)
    # high = max(1,400,000, 485,279.86 × 1.1752 ≈ 570,301)   = 1,400,000 (the cost value)
    result = value_patent(facts(income=REFERENCE_INCOME, cost=REFERENCE_COST))
    assert result.income_value == D("93256.95")
    assert result.cost_value == D("1400000.00")
    assert result.point_value == D("485279.86")
    assert result.low == D("93256.95")
    assert result.high == D("1400000.00")


def test_both_approaches_close_together_use_the_spread():
    # income 7,500 (no-tax case, H = min(12, 2) = 2), cost 10,000 × (1 − 0.2) = 8,000
    # point = 0.7 × 7,500 + 0.3 × 8,000 = 5,250 + 2,400 = 7,650
    # low  = min(7,500, 8,000, 7,650 × 0.8248 = 6,309.72) = 6,309.72
    # high = max(7,500, 8,000, 7,650 × 1.1752 = 8,990.28) = 8,990.28
    inputs = facts(
        income=IncomeInputs(
            annual_revenue=D("100000"),
            royalty_rate=D("10"),
            economic_life_years=D("2"),
            discount_rate=D("100"),
            tax_rate=D("0"),
        ),
        cost=CostInputs(rd_cost=D("10000"), obsolescence=D("20")),
    )
    result = value_patent(inputs)
    assert (result.low, result.point_value, result.high) == (
        D("6309.72"),
        D("7650.00"),
        D("8990.28"),
    )
    # (0.5 × 7,500 + 0.5 × 8,000) = 7,750; weights are renormalised if they do not sum to 1
    assert value_patent(inputs, method_weights=(D("1"), D("1"))).point_value == D("7750.00")
    assert value_patent(inputs, method_weights=(D("1"), D("0"))).point_value == D("7500.00")


# --- effects ----------------------------------------------------------------------------------


def test_value_effects_golden():
    # Point value = 0.7 × income + 0.3 × cost, income 93,256.949662, each input raised by 10 %:
    # revenue, royalty: income × 1.1 → 0.7 × 9,325.694966 = 6,527.986476
    # economic life 3 → 3.3: + 0.3 × 37,500 / 1.1^4 = 0.3 × 25,613.004576 = 7,683.901373;
    #   × 0.7 = 5,378.730961
    # discount 10 → 11: 37,500 × (0.900901 + 0.811622 + 0.731191) = 91,639.301829;
    #   (91,639.301829 − 93,256.949662) × 0.7 = −1,617.647833 × 0.7 = −1,132.353483
    # tax 25 → 27.5: income × (0.725 / 0.75 − 1) = −93,256.949662 / 30 = −3,108.564989;
    #   × 0.7 = −2,175.995492
    # growth 0 → 0 (10 % of nothing), remaining term 12 → 13.2 (horizon stays 3): no change
    # R&D 2,000,000 → 2,200,000: cost + 140,000 × 0.3 = 42,000
    # obsolescence 30 → 33: cost − 60,000 × 0.3 = −18,000
    result = value_patent(facts(income=REFERENCE_INCOME, cost=REFERENCE_COST))
    rows = effects_by_key(result)
    assert {key: row.effect for key, row in rows.items() if key.startswith("value.")} == {
        "value.annual_revenue": D("6527.99"),
        "value.royalty_rate": D("6527.99"),
        "value.economic_life_years": D("5378.73"),
        "value.discount_rate": D("-1132.35"),
        "value.tax_rate": D("-2176.00"),
        "value.growth_rate": D("0.00"),
        "value.rd_cost": D("42000.00"),
        "value.obsolescence": D("-18000.00"),
        "value.remaining_term_years": D("0.00"),
    }
    assert rows["value.royalty_rate"].label_key == "royalty_rate"
    assert rows["value.royalty_rate"].value_shown == D("5")


def test_score_effects_golden():
    # contribution = dimension weight × indicator share × points × 10:
    #   remaining term 0.4 × 1/5 × 6 × 10 = 4.80; invalidation 0.4 × 1/5 × 7 × 10 = 5.60
    #   maturity 0.3 × 1/2 × 6 × 10 = 9.00; sales 0.3 × 1/3 × 5 × 10 = 5.00
    rows = effects_by_key(value_patent(facts(cost=REFERENCE_COST)))
    assert (rows["score.remaining_term"].value_shown, rows["score.remaining_term"].effect) == (
        D("6"),
        D("4.80"),
    )
    assert rows["score.invalidation"].effect == D("5.60")
    assert rows["score.maturity"].effect == D("9.00")
    assert rows["score.sales"].effect == D("5.00")
    score_rows = [row for row in rows.values() if row.key.startswith("score.")]
    assert len(score_rows) == 10
    assert sum(row.effect for row in score_rows) == D("62.40")


def test_effects_only_list_the_approaches_given():
    keys = {row.key for row in value_patent(facts(cost=REFERENCE_COST)).effects}
    assert "value.royalty_rate" not in keys
    assert {"value.rd_cost", "value.obsolescence", "value.remaining_term_years"} <= keys


def test_effect_of_a_binding_legal_term():
    # H = 2.5 → 2.75: + 0.25 × 37,500 / 1.331 = 7,043.576258
    inputs = facts(remaining_term_years=D("2.5"), income=income(economic_life_years=D("10")))
    assert effects_by_key(value_patent(inputs))["value.remaining_term_years"].effect == D("7043.58")


def test_raised_rate_is_capped_at_its_bound():
    # royalty 95 → 104.5 capped at 100; income = 100,000 × 95 % / 2 = 47,500, at 100 %: 50,000
    inputs = facts(
        remaining_term_years=D("5"),
        income=IncomeInputs(
            annual_revenue=D("100000"),
            royalty_rate=D("95"),
            economic_life_years=D("1"),
            discount_rate=D("100"),
            tax_rate=D("0"),
        ),
    )
    assert effects_by_key(value_patent(inputs))["value.royalty_rate"].effect == D("2500.00")


def test_to_dict_is_json_with_decimal_strings():
    result = value_patent(facts(income=REFERENCE_INCOME, cost=REFERENCE_COST))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["point_value"] == "485279.86"
    assert data["score"] == "62.4"
    assert data["dimension_scores"] == {"legal": "66.0", "technical": "60.0", "economic": "60.0"}
    assert data["horizon_years"] == "3"
    assert data["effects"][0] == {
        "key": "value.annual_revenue",
        "label_key": "annual_revenue",
        "value_shown": "1000000",
        "effect": "6527.99",
    }
    assert value_patent(facts(cost=REFERENCE_COST)).to_dict()["income_value"] is None


# --- scales -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "argument", "expected"),
    [
        (remaining_term_points, D("20"), D("10")),
        (remaining_term_points, D("25"), D("10")),
        (remaining_term_points, D("7.5"), D("3.75")),
        (remaining_term_points, D("-1"), D("0")),
        (family_points, (), D("0")),
        (family_points, ("CN",), D("0")),
        (family_points, ("US", "us "), D("5")),
        (family_points, ("KR", "DE", "FR"), D("5")),
        (family_points, ("US", "EP", "JP"), D("10")),
        (invalidation_points, "none", D("7")),
        (invalidation_points, "survived", D("10")),
        (invalidation_points, "partially_invalidated", D("4")),
        (invalidation_points, "pending", D("2")),
        (non_circumventability_points, 1, D("2")),
        (non_circumventability_points, 5, D("10")),
        (maturity_points, "concept", D("2")),
        (maturity_points, "prototype", D("4")),
        (maturity_points, "pilot", D("6")),
        (maturity_points, "mass_production", D("10")),
        (substitutes_points, "none", D("10")),
        (substitutes_points, "few", D("6")),
        (substitutes_points, "many", D("2")),
        (licensing_points, "none", D("3")),
        (licensing_points, "non_exclusive", D("7")),
        (licensing_points, "exclusive", D("10")),
    ],
)
def test_scale_points(function, argument, expected):
    assert function(argument) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        ("0", 0),
        ("0.01", 2),
        ("3", 2),
        ("3.01", 4),
        ("7", 4),
        ("7.01", 6),
        ("11", 6),
        ("11.01", 8),
        ("40", 8),
        ("40.01", 10),
        ("100", 10),
    ],
)
def test_market_share_bands(share, expected):
    assert market_share_points(D(share)) == expected


@pytest.mark.parametrize(
    ("sales", "expected"),
    [
        ("0", 0),
        ("0.01", 3),
        ("1000000", 3),
        ("1000000.01", 5),
        ("10000000", 5),
        ("50000000", 7),
        ("50000000.01", 9),
        ("100000000", 9),
        ("100000000.01", 10),
    ],
)
def test_sales_bands(sales, expected):
    assert sales_points(D(sales)) == expected


@pytest.mark.parametrize(
    ("count", "kind", "expected"),
    [
        (12, "product", D("10")),  # min(12, 10) × 1.0
        (5, "method", D("4")),  # 5 × 0.8
        (10, "use", D("6")),  # 10 × 0.6
        (0, "product", D("0")),
        (10, ("product", "method"), D("9")),  # 10 × (1.0 + 0.8) / 2
    ],
)
def test_claim_points(count, kind, expected):
    assert claim_points(count, kind) == expected


# --- refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"discount_rate": D("0")}, "discount_rate"),
        ({"discount_rate": D("100.01")}, "discount_rate"),
        ({"royalty_rate": D("-0.01")}, "royalty_rate"),
        ({"royalty_rate": D("100.01")}, "royalty_rate"),
        ({"annual_revenue": D("-1")}, "annual_revenue"),
        ({"tax_rate": D("101")}, "tax_rate"),
        ({"growth_rate": D("-100")}, "growth_rate"),
        ({"economic_life_years": D("-1")}, "economic_life_years"),
        ({"discount_rate": 10.0}, "discount_rate"),  # float refused: money stays Decimal
        ({"annual_revenue": D("NaN")}, "annual_revenue"),
    ],
)
def test_bad_income_input_is_refused_by_name(overrides, named):
    with pytest.raises(ValuationError, match=named):
        income(**overrides)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"rd_cost": D("-1"), "obsolescence": D("0")}, "rd_cost"),
        ({"rd_cost": D("1"), "obsolescence": D("100.5")}, "obsolescence"),
        ({"rd_cost": D("1"), "obsolescence": D("-1")}, "obsolescence"),
    ],
)
def test_bad_cost_input_is_refused_by_name(arguments, named):
    with pytest.raises(ValuationError, match=named):
        CostInputs(**arguments)


def test_both_approaches_missing_is_refused():
    with pytest.raises(ValuationError, match="income and cost"):
        facts()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"invalidation_history": "upheld"}, "invalidation_history"),
        ({"non_circumventability": 6}, "non_circumventability"),
        ({"non_circumventability": 0}, "non_circumventability"),
        ({"market_share_percent": D("101")}, "market_share_percent"),
        ({"annual_sales": D("-1")}, "annual_sales"),
        ({"claim_type": "design"}, "claim_type"),
        ({"claim_count": -1}, "claim_count"),
        ({"family_countries": ("USA",)}, "family_countries"),
        ({"maturity": "alpha"}, "maturity"),
        ({"substitutes": "some"}, "substitutes"),
        ({"licensing": "sole"}, "licensing"),
    ],
)
def test_bad_fact_is_refused_by_name(overrides, named):
    with pytest.raises(ValuationError, match=named):
        value_patent(facts(cost=REFERENCE_COST, **overrides))


@pytest.mark.parametrize(
    "arguments",
    [
        {"legal": D("0.4"), "technical": D("0.3"), "economic": D("0.2")},  # sums to 0.9
        {"legal": D("1.2"), "technical": D("-0.1"), "economic": D("-0.1")},
        {"indicator_weights": {"beauty": D("1")}},
        {"indicator_weights": {"maturity": D("0"), "substitutes": D("0")}},
        {"indicator_weights": {"family": D("-1")}},
    ],
)
def test_bad_weights_are_refused(arguments):
    with pytest.raises(ValuationError):
        ScoreWeights(**arguments)


def test_method_weights_without_weight_for_the_available_approach():
    with pytest.raises(ValuationError, match="method_weights"):
        value_patent(facts(cost=REFERENCE_COST), method_weights=(D("1"), D("0")))


# --- loan to value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loan", "value", "expected"),
    [
        ("500000", "1000000", "50.00"),
        ("1", "3", "33.33"),  # 33.333…
        ("2", "3", "66.67"),  # 66.666…
        ("1", "8", "12.50"),
        ("0.01", "200", "0.01"),  # 0.005 → half-up
        ("1500000", "1000000", "150.00"),
    ],
)
def test_loan_to_value(loan, value, expected):
    assert loan_to_value_percent(D(loan), D(value)) == D(expected)


@pytest.mark.parametrize(("loan", "value"), [("1", "0"), ("1", "-5"), ("-1", "10")])
def test_loan_to_value_refuses(loan, value):
    with pytest.raises(ValuationError):
        loan_to_value_percent(D(loan), D(value))


# --- properties -------------------------------------------------------------------------------


def _decimals(low, high, places=2):
    return st.decimals(
        min_value=low, max_value=high, places=places, allow_nan=False, allow_infinity=False
    )


revenues = _decimals(0, 10**9)
royalties = _decimals(0, 100)
discounts = _decimals(D("0.01"), 100)
terms = _decimals(-5, 40, places=1)

incomes = st.builds(
    IncomeInputs,
    annual_revenue=revenues,
    royalty_rate=royalties,
    economic_life_years=_decimals(0, 40, places=1),
    discount_rate=discounts,
    tax_rate=_decimals(0, 100),
    growth_rate=_decimals(D("-99.99"), 100),
)
# Strictly positive cash flows and a long economic life, so that the legal term is what binds
# and a wrong partial-year rule cannot hide behind a zero income.
earning_incomes = st.builds(
    IncomeInputs,
    annual_revenue=_decimals(1000, 10**9),
    royalty_rate=_decimals(1, 100),
    economic_life_years=_decimals(20, 40, places=1),
    discount_rate=discounts,
    tax_rate=_decimals(0, 99),
    growth_rate=_decimals(D("-50"), 100),
)
costs = st.builds(CostInputs, rd_cost=revenues, obsolescence=_decimals(0, 100))
countries = st.lists(st.sampled_from(["CN", "US", "EP", "JP", "KR", "DE", "FR", "GB", "IN"]))
indicator_facts = st.fixed_dictionaries(
    {
        "remaining_term_years": terms,
        "family_countries": countries.map(tuple),
        "invalidation_history": st.sampled_from(
            ["none", "survived", "partially_invalidated", "pending"]
        ),
        "claim_count": st.integers(0, 50),
        "claim_type": st.sampled_from(["product", "method", "use"]),
        "non_circumventability": st.integers(1, 5),
        "maturity": st.sampled_from(["concept", "prototype", "pilot", "mass_production"]),
        "substitutes": st.sampled_from(["none", "few", "many"]),
        "market_share_percent": _decimals(0, 100),
        "annual_sales": revenues,
        "licensing": st.sampled_from(["none", "non_exclusive", "exclusive"]),
    }
)


@st.composite
def score_weights(draw):
    # Hundredths that add up to exactly 100, so the dimension weights sum to exactly 1.
    legal = draw(st.integers(0, 100))
    technical = draw(st.integers(0, 100 - legal))
    indicator_weights = draw(
        st.fixed_dictionaries({}, optional={"family": _decimals(0, 5), "sales": _decimals(0, 5)})
    )
    return ScoreWeights(
        legal=D(legal) / 100,
        technical=D(technical) / 100,
        economic=D(100 - legal - technical) / 100,
        indicator_weights=indicator_weights,
    )


@st.composite
def valuation_inputs(draw):
    approaches = draw(st.sampled_from(["income", "cost", "both"]))
    return PatentValuationInput(
        **draw(indicator_facts),
        income=draw(incomes) if approaches != "cost" else None,
        cost=draw(costs) if approaches != "income" else None,
    )


@given(inputs=valuation_inputs(), weights=score_weights())
def test_values_are_never_negative_and_range_holds_the_point(inputs, weights):
    result = value_patent(inputs, weights)
    assert D("0") <= result.low <= result.point_value <= result.high
    for value in (result.income_value, result.cost_value):
        assert value is None or (value >= 0 and result.low <= value <= result.high)
    assert D("0") <= result.score <= D("100")
    assert all(D("0") <= score <= D("100") for score in result.dimension_scores.values())
    assert D("0.1") <= result.spread <= D("0.3")


@given(
    base=st.one_of(incomes, earning_incomes),
    term=terms,
    extra_revenue=revenues,
    extra_royalty=royalties,
)
def test_income_never_falls_when_revenue_or_royalty_rises(base, term, extra_revenue, extra_royalty):
    royalty = min(D("100"), base.royalty_rate + extra_royalty)
    richer = replace(base, annual_revenue=base.annual_revenue + extra_revenue)
    dearer = replace(base, royalty_rate=royalty)
    exact = relief_from_royalty_value(base, term)
    assert relief_from_royalty_value(richer, term) >= exact
    assert relief_from_royalty_value(dearer, term) >= exact
    shown = value_patent(facts(remaining_term_years=term, income=base)).income_value
    assert value_patent(facts(remaining_term_years=term, income=richer)).income_value >= shown
    assert value_patent(facts(remaining_term_years=term, income=dearer)).income_value >= shown


@given(base=st.one_of(incomes, earning_incomes), term=terms, extra_discount=_decimals(0, 100))
def test_income_never_rises_with_the_discount_rate(base, term, extra_discount):
    steeper = replace(base, discount_rate=min(D("100"), base.discount_rate + extra_discount))
    assert relief_from_royalty_value(steeper, term) <= relief_from_royalty_value(base, term)


@given(
    base=st.one_of(incomes, earning_incomes),
    term=terms,
    # Small steps too: the partial year is where a wrong rule would make a longer term worth less.
    extra_term=st.one_of(_decimals(0, 20, places=1), _decimals(0, 1, places=2)),
)
@example(base=REFERENCE_INCOME, term=D("1.2"), extra_term=D("0.5"))
def test_longer_remaining_term_never_lowers_income(base, term, extra_term):
    longer_term = term + extra_term
    exact = relief_from_royalty_value(base, term)
    assert relief_from_royalty_value(base, longer_term) >= exact
    shorter = value_patent(facts(remaining_term_years=term, income=base))
    longer = value_patent(facts(remaining_term_years=longer_term, income=base))
    assert longer.income_value >= shorter.income_value
    assert longer.horizon_years >= shorter.horizon_years


@given(inputs=valuation_inputs())
def test_score_rows_add_up_to_the_score(inputs):
    result = value_patent(inputs, DEFAULT_WEIGHTS)
    rows = [row for row in result.effects if row.key.startswith("score.")]
    assert all(D("0") <= row.value_shown <= D("10") for row in rows)
    # ten contributions each rounded to the cent, against a score rounded to 0.1
    assert abs(sum(row.effect for row in rows) - result.score) <= D("0.1")


@given(cost=costs)
def test_cost_value_matches_its_formula(cost):
    expected = cost.rd_cost - cost.rd_cost * cost.obsolescence / 100
    assert cost_approach_value(cost) == expected
