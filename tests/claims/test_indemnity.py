import json
from dataclasses import FrozenInstanceError, replace
from decimal import ROUND_HALF_UP, localcontext
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.indemnity import (
    CENT,
    DEDUCTIBLE_AMOUNT,
    DEDUCTIBLE_NONE,
    DEDUCTIBLE_RATE,
    Assessment,
    EventInput,
    IndemnityError,
    ItemInput,
    advance_payment,
    assess,
)

BIG = D("10000000")  # a remaining sum insured that never binds
TINY = D("1e-40")  # far below a fen, far above the 60-digit working precision


def event(*items, remaining=BIG, **kwargs):
    return EventInput(items=list(items), remaining_sum_insured=remaining, **kwargs)


def item(loss, sum_insured, insured_value=None, **kwargs):
    return ItemInput(
        loss=D(loss), sum_insured=D(sum_insured), insured_value=insured_value, **kwargs
    )


# --- golden cases from the brief -----------------------------------------------------------


def test_golden_under_insurance_then_deductible():
    # proportion 50,000 / 200,000 = 0.25; 100,000 × 0.25 = 25,000 (cap 50,000 not reached)
    # fixed deductible after the proportion: 25,000 − 5,000 = 20,000
    result = assess(
        event(item(100000, 50000, D(200000)), deductible_amount=D(5000), remaining=D(50000))
    )
    line = result.lines[0]
    assert line.under_insured
    assert line.proportion == D("0.25")
    assert line.proportioned_loss == line.loss_paid == D("25000")
    assert result.assessed == D("25000")
    assert result.deductible_applied == D("5000")
    assert result.payable == D("20000.00")
    # erosion: 50,000 − 20,000 = 30,000 left
    assert result.remaining_sum_insured_after == D("30000.00")


def test_golden_deductible_comes_after_the_proportion():
    # deductible first would give (100,000 − 5,000) × 0.25 = 23,750; proportion first gives 20,000
    result = assess(event(item(100000, 50000, D(200000)), deductible_amount=D(5000)))
    assert result.payable == D("20000.00")
    assert result.payable != D("23750.00")


def test_golden_double_insurance_share():
    # combined cover 50,000 + 150,000 = 200,000 = insured value → no under-insurance
    # share 50,000 / (50,000 + 150,000) = 0.25; 80,000 × 0.25 = 20,000
    result = assess(
        event(item(80000, 50000, D(200000)), other_sums_insured=[D(150000)], remaining=D(50000))
    )
    line = result.lines[0]
    assert line.cover == D("200000")
    assert not line.under_insured
    assert line.proportion == 1
    assert line.loss_paid == D("80000")
    assert result.share == D("0.25")
    assert result.payable == D("20000.00")
    # had under-insurance been applied on this policy alone as well: 80,000 × 0.25 × 0.25 = 5,000
    assert result.payable != D("5000.00")


# --- the steps one by one ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "kwargs", "payable"),
    [
        # full insurance, partial loss: 60,000 paid as is
        ("full cover", {"insured": item(60000, 200000, D(200000))}, "60000.00"),
        # over-insurance: SI 300,000 ≥ IV 200,000; loss 250,000 capped at the insured value 200,000
        ("over-insured", {"insured": item(250000, 300000, D(200000))}, "200000.00"),
        # under-insured: 100,000 × 50,000/200,000 = 25,000
        ("under-insured", {"insured": item(100000, 50000, D(200000))}, "25000.00"),
        # under-insured cap: 500,000 × 0.25 = 125,000 > SI 50,000 → 50,000
        ("under-insured cap", {"insured": item(500000, 50000, D(200000))}, "50000.00"),
        # no insured value (liability): 300,000 up to the limit 200,000
        ("no insured value", {"insured": item(300000, 200000)}, "200000.00"),
        ("no insured value, below limit", {"insured": item(120000, 200000)}, "120000.00"),
        # salvage before the proportion: (100,000 − 20,000) × 0.25 = 20,000 (not 25,000 − 20,000)
        (
            "salvage first",
            {"insured": item(100000, 50000, D(200000), salvage=D(20000))},
            "20000.00",
        ),
        # mitigation on top, same proportion: 25,000 + 8,000 × 0.25 = 27,000
        (
            "mitigation proportioned",
            {"insured": item(100000, 50000, D(200000), mitigation_costs=D(8000))},
            "27000.00",
        ),
        # mitigation cap when under-insured: 400,000 × 0.25 = 100,000 → SI 50,000; no loss
        (
            "mitigation cap under-insured",
            {"insured": item(0, 50000, D(200000), mitigation_costs=D(400000))},
            "50000.00",
        ),
        # full cover: loss 200,000 at the IV cap, mitigation 30,000 on top (own cap 200,000)
        # 200,000 + 30,000 = 230,000 > SI 200,000: art. 29 pays mitigation beyond the loss
        (
            "mitigation beyond the sum insured",
            {"insured": item(200000, 200000, D(200000), mitigation_costs=D(30000))},
            "230000.00",
        ),
        # mitigation cap at the insured value: 250,000 → 200,000; total 10,000 + 200,000
        (
            "mitigation cap full cover",
            {"insured": item(10000, 250000, D(200000), mitigation_costs=D(250000))},
            "210000.00",
        ),
    ],
)
def test_item_rules(case, kwargs, payable):
    assert assess(event(kwargs["insured"])).payable == D(payable), case


@pytest.mark.parametrize(
    ("kwargs", "basis", "applied", "payable"),
    [
        ({}, DEDUCTIBLE_NONE, "0", "25000.00"),
        # fixed: 25,000 − 5,000
        ({"deductible_amount": D(5000)}, DEDUCTIBLE_AMOUNT, "5000", "20000.00"),
        # rate 10 % of the assessed 25,000 = 2,500 → 22,500
        ({"deductible_rate": D(10)}, DEDUCTIBLE_RATE, "2500", "22500.00"),
        ({"deductible_rate": 100}, DEDUCTIBLE_RATE, "25000", "0.00"),
        # larger than the assessed amount: only 25,000 can be deducted, nothing paid
        ({"deductible_amount": D(40000)}, DEDUCTIBLE_AMOUNT, "25000", "0.00"),
    ],
)
def test_deductible(kwargs, basis, applied, payable):
    result = assess(event(item(100000, 50000, D(200000)), **kwargs))
    assert result.deductible_basis == basis
    assert result.deductible_applied == D(applied)
    assert result.payable == D(payable)


def test_deductible_rate_includes_mitigation_costs():
    # assessed 25,000 + 2,000 mitigation = 27,000; 10 % = 2,700 → 24,300
    result = assess(
        event(
            item(100000, 50000, D(200000), mitigation_costs=D(8000)),
            deductible_rate=D(10),
        )
    )
    assert result.deductible == D("2700")
    assert result.payable == D("24300.00")


def test_deductible_once_per_event_with_several_items():
    # 10,000 + 10,000 + 10,000 = 30,000 assessed; one deductible 5,000 → 25,000 (not 15,000)
    result = assess(
        event(
            item(10000, 50000, D(50000)),
            item(10000, 50000, D(50000)),
            item(10000, 50000),
            deductible_amount=D(5000),
        )
    )
    assert result.assessed == D("30000")
    assert result.deductible_applied == D("5000")
    assert result.payable == D("25000.00")


def test_each_item_is_proportioned_separately():
    # item A under-insured: 40,000 × 50,000/100,000 = 20,000; item B fully insured: 40,000
    # pooling the items instead would give 80,000 × 150,000/200,000 = 60,000
    result = assess(event(item(40000, 50000, D(100000)), item(40000, 100000, D(100000))))
    assert [line.loss_paid for line in result.lines] == [D("20000"), D("40000")]
    assert result.payable == D("60000.00")
    result = assess(event(item(60000, 50000, D(100000)), item(20000, 100000, D(100000))))
    # 60,000 × 0.5 + 20,000 = 50,000, where pooling would again give 60,000
    assert result.payable == D("50000.00")


@pytest.mark.parametrize(
    ("loss", "sum_insured", "insured_value", "others", "deductible", "payable"),
    [
        # combined 50,000 + 50,000 = 100,000 < IV 200,000 → 80,000 × 0.5 = 40,000; share 0.5
        # → 20,000, the same as 80,000 × 50,000/200,000 on this policy alone
        ("80000", "50000", "200000", ["50000"], "0", "20000.00"),
        # deductible before the share: (80,000 − 4,000) × 0.25 = 19,000 (not 20,000 − 4,000)
        ("80000", "50000", "200000", ["150000"], "4000", "19000.00"),
        # three policies 50,000 + 100,000 + 50,000: share 0.25 of a 300,000 loss capped at the
        # insured value 200,000 → 50,000, this policy's own limit
        ("300000", "50000", "200000", ["100000", "50000"], "0", "50000.00"),
        # no insured value: combined limit 200,000 → 200,000 × 0.25 = 50,000 = own limit
        ("1000000", "50000", None, ["150000"], "0", "50000.00"),
    ],
)
def test_double_insurance(loss, sum_insured, insured_value, others, deductible, payable):
    value = None if insured_value is None else D(insured_value)
    result = assess(
        event(
            item(loss, sum_insured, value),
            other_sums_insured=[D(o) for o in others],
            deductible_amount=D(deductible),
        )
    )
    assert result.payable == D(payable)
    assert result.payable <= D(sum_insured)


def test_double_insurance_over_several_items_spreads_the_other_cover_alike():
    # this policy 40,000 + 60,000 = 100,000, other 100,000 → every item's cover doubles:
    # A 80,000 vs IV 80,000 → full; B 120,000 vs IV 240,000 → 0.5
    # A 30,000 + B 50,000 × 0.5 = 55,000; share 0.5 → 27,500
    result = assess(
        event(
            item(30000, 40000, D(80000)),
            item(50000, 60000, D(240000)),
            other_sums_insured=[D(100000)],
        )
    )
    assert [line.cover for line in result.lines] == [D("80000"), D("120000")]
    assert [line.proportion for line in result.lines] == [D(1), D("0.5")]
    assert result.payable == D("27500.00")


@pytest.mark.parametrize(
    ("recovered", "deducted", "payable"),
    [
        # 25,000 − 5,000 deductible − 3,000 recovered = 17,000
        ("3000", "3000", "17000.00"),
        # more recovered than would be paid: nothing paid, never negative
        ("30000", "20000", "0.00"),
    ],
)
def test_recovered_from_the_liable_party(recovered, deducted, payable):
    result = assess(
        event(item(100000, 50000, D(200000)), deductible_amount=D(5000), recovered=D(recovered))
    )
    assert result.recovered_deducted == D(deducted)
    assert result.payable == D(payable)


def test_recovered_is_set_off_against_this_policys_share():
    # 80,000 × 0.25 = 20,000 share, − 2,000 recovered = 18,000
    result = assess(
        event(
            item(80000, 50000, D(200000)),
            other_sums_insured=[D(150000)],
            recovered=D(2000),
        )
    )
    assert result.payable == D("18000.00")


@pytest.mark.parametrize(
    ("remaining", "payable", "after", "capped"),
    [
        # 20,000 due but only 12,000 of cover left after earlier payments
        ("12000", "12000.00", "0.00", True),
        ("20000", "20000.00", "0.00", False),
        ("0", "0.00", "0.00", True),
        ("50000", "20000.00", "30000.00", False),
    ],
)
def test_remaining_sum_insured(remaining, payable, after, capped):
    result = assess(
        event(item(100000, 50000, D(200000)), deductible_amount=D(5000), remaining=D(remaining))
    )
    assert result.payable == D(payable)
    assert result.remaining_sum_insured_after == D(after)
    assert result.remaining_cap_applied is capped


@pytest.mark.parametrize(
    ("loss", "sum_insured", "insured_value", "payable"),
    [
        # 1.01 × 1/2 = 0.505 → 0.51 with ROUND_HALF_UP (banker's rounding would give 0.50)
        ("1.01", "1", "2", "0.51"),
        # 100 × 100/300 = 33.333… → 33.33
        ("100", "100", "300", "33.33"),
        # 200 × 200/300 = 133.333… → 133.33
        ("200", "200", "300", "133.33"),
        # 1.01 × 500/1,000 = 0.505 again, through a proportion that is not a round number
        ("1.01", "500", "1000", "0.51"),
    ],
)
def test_rounding_happens_once_half_up(loss, sum_insured, insured_value, payable):
    result = assess(event(item(loss, sum_insured, D(insured_value))))
    assert result.payable == D(payable)
    assert result.payable.as_tuple().exponent == -2


def test_rounding_only_at_the_payable_amount():
    # 3 items of 10 × 10/30 = 3.333… each: summed unrounded 10.00; rounding each line would give
    # 3 × 3.33 = 9.99
    result = assess(event(*[item("10", "10", D("30")) for _ in range(3)]))
    assert result.lines[0].loss_paid != result.lines[0].loss_paid.quantize(CENT)
    assert result.payable == D("10.00")


def test_to_dict_is_json_with_decimal_strings():
    result = assess(
        event(item(100000, 50000, D(200000)), item(1000, 5000), deductible_amount=D(5000))
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["payable"] == "21000.00"
    assert data["deductible_applied"] == "5000.00"
    assert data["lines"][0]["proportion"] == "0.25"
    assert data["lines"][0]["under_insured"] is True
    assert data["lines"][1]["insured_value"] is None
    assert D(data["remaining_sum_insured_after"]) == BIG - D("21000")


def test_inputs_and_results_are_frozen():
    ev = event(item(100, 100))
    with pytest.raises(FrozenInstanceError):
        ev.recovered = D(1)
    with pytest.raises(FrozenInstanceError):
        ev.items[0].loss = D(1)
    with pytest.raises(FrozenInstanceError):
        assess(ev).payable = D(1)
    assert isinstance(ev.items, tuple)


@pytest.mark.parametrize(
    "build",
    [
        lambda: item(-1, 100),
        lambda: item(100, 0),
        lambda: item(100, 100, D(0)),
        lambda: item(100, 100, D(-5)),
        lambda: item(100, 100, salvage=D(-1)),
        lambda: item(100, 100, salvage=D(101)),
        lambda: item(100, 100, mitigation_costs=D(-1)),
        lambda: ItemInput(loss=100.0, sum_insured=D(100)),
        lambda: ItemInput(loss=D(100), sum_insured="100"),
        lambda: ItemInput(loss=True, sum_insured=D(100)),
        lambda: item("100.001", 100),
        lambda: item("NaN", 100),
        lambda: item("1e15", "1e15"),
        lambda: event(),
        lambda: EventInput(items=item(1, 1), remaining_sum_insured=D(1)),
        lambda: event("not an item"),
        lambda: event(item(1, 1), deductible_amount=D(-1)),
        lambda: event(item(1, 1), deductible_rate=D(-1)),
        lambda: event(item(1, 1), deductible_rate=D("100.01")),
        lambda: event(item(1, 1), deductible_rate=0.1),
        lambda: event(item(1, 1), deductible_amount=D(5), deductible_rate=D(5)),
        lambda: event(item(1, 1), recovered=D(-1)),
        lambda: event(item(1, 1), remaining=D(-1)),
        lambda: event(item(1, 1), other_sums_insured=[D(0)]),
        lambda: event(item(1, 1), other_sums_insured=D(5)),
        lambda: event(item(1, 1), other_sums_insured=[5.0]),
        lambda: assess({"items": []}),
        lambda: advance_payment(D(-1), D(0)),
        lambda: advance_payment(D(1), 0.5),
    ],
)
def test_invalid_input_is_refused(build):
    with pytest.raises(IndemnityError):
        build()


def test_indemnity_error_is_a_value_error():
    assert issubclass(IndemnityError, ValueError)


@pytest.mark.parametrize(
    ("determinable", "paid", "advance"),
    [
        ("30000", "10000", "20000.00"),  # 30,000 − 10,000
        ("30000", "0", "30000.00"),
        ("10000", "30000", "0.00"),  # overpaid: never negative
        ("10000", "10000", "0.00"),
    ],
)
def test_advance_payment(determinable, paid, advance):
    result = advance_payment(D(determinable), D(paid))
    assert result == D(advance)
    assert result.as_tuple().exponent == -2


# --- properties ----------------------------------------------------------------------------


def money(low=0, high=10**9):
    """Whole fen between low and high (given in fen)."""
    return st.integers(low, high).map(lambda fen: D(fen).scaleb(-2).quantize(CENT))


@st.composite
def items(draw, mitigation=True):
    loss = draw(money())
    return ItemInput(
        loss=loss,
        sum_insured=draw(money(1)),
        insured_value=draw(st.none() | money(1)),
        salvage=draw(money(0, int(loss * 100))),
        mitigation_costs=draw(money()) if mitigation else D(0),
    )


@st.composite
def events(draw, mitigation=True):
    deductible = draw(
        st.sampled_from(["none", "amount", "rate"]).flatmap(
            lambda kind: (
                st.just({})
                if kind == "none"
                else money().map(lambda a: {"deductible_amount": a})
                if kind == "amount"
                else st.decimals(0, 100, places=2).map(lambda r: {"deductible_rate": r})
            )
        )
    )
    return EventInput(
        items=draw(st.lists(items(mitigation), min_size=1, max_size=4)),
        recovered=draw(money()),
        other_sums_insured=draw(st.lists(money(1), max_size=3)),
        remaining_sum_insured=draw(money()),
        **deductible,
    )


@given(events())
def test_property_payable_within_bounds(ev):
    result = assess(ev)
    assert D(0) <= result.payable <= ev.remaining_sum_insured
    assert result.payable == result.payable.quantize(CENT)
    assert result.remaining_sum_insured_after == ev.remaining_sum_insured - result.payable
    assert result.remaining_sum_insured_after >= 0
    # mitigation is the only head that may go beyond the sums insured (art. 29)
    mitigation = sum(line.mitigation_paid for line in result.lines) * result.share
    bound = sum(i.sum_insured for i in ev.items) + mitigation
    assert result.payable <= bound.quantize(CENT, rounding=ROUND_HALF_UP)


@given(events(mitigation=False))
def test_property_payable_never_exceeds_the_items_sums_insured(ev):
    assert assess(ev).payable <= sum(i.sum_insured for i in ev.items)


@given(events(), st.integers(0, 3), st.integers(2, 5), st.data())
def test_property_deductible_once_when_an_item_is_split(ev, index, parts, data):
    # Scale the event's items by `parts` and cut one into k + (parts − k) pieces: proportions and
    # caps are unchanged, so splitting must change nothing, in particular the deductible.
    k = data.draw(st.integers(1, parts - 1))

    def scaled(i, factor):
        return ItemInput(
            loss=i.loss * factor,
            sum_insured=i.sum_insured * factor,
            insured_value=None if i.insured_value is None else i.insured_value * factor,
            salvage=i.salvage * factor,
            mitigation_costs=i.mitigation_costs * factor,
        )

    index %= len(ev.items)
    whole = [scaled(i, parts) for i in ev.items]
    pieces = [scaled(ev.items[index], k), scaled(ev.items[index], parts - k)]
    split = whole[:index] + pieces + whole[index + 1 :]
    others = [o * parts for o in ev.other_sums_insured]
    together = assess(replace(ev, items=whole, other_sums_insured=others))
    apart = assess(replace(ev, items=split, other_sums_insured=others))
    # The unrounded figures may differ in their 60th digit, never by a deducted amount.
    with localcontext() as ctx:
        ctx.prec = 80
        assert abs(apart.deductible_applied - together.deductible_applied) < TINY
    assert apart.payable == together.payable


@given(events())
def test_property_deductible_deducted_once(ev):
    result = assess(ev)
    with localcontext() as ctx:
        ctx.prec = 80
        if ev.deductible_amount > 0:
            assert result.deductible_applied == min(ev.deductible_amount, result.assessed)
        elif ev.deductible_rate > 0:
            expected = result.assessed * ev.deductible_rate / 100
            assert abs(result.deductible_applied - expected) < TINY
        else:
            assert result.deductible_applied == 0
        remainder = result.assessed - result.deductible_applied
        assert abs(result.after_deductible - remainder) < TINY


@given(events(), st.integers(0, 3), money())
def test_property_monotonic_in_the_loss(ev, index, extra):
    index %= len(ev.items)
    items_ = list(ev.items)
    items_[index] = replace(items_[index], loss=items_[index].loss + extra)
    assert assess(replace(ev, items=items_)).payable >= assess(ev).payable


@given(events(), money())
def test_property_recovered_never_increases_the_payment(ev, extra):
    more = replace(ev, recovered=ev.recovered + extra)
    assert assess(more).payable <= assess(ev).payable


@given(events())
def test_property_result_is_consistent_and_serialisable(ev):
    result = assess(ev)
    assert isinstance(result, Assessment)
    data = json.loads(json.dumps(result.to_dict()))
    assert D(data["payable"]) == result.payable
    assert len(data["lines"]) == len(ev.items)


@given(money(), money())
def test_property_advance_payment_never_negative(determinable, paid):
    advance = advance_payment(determinable, paid)
    assert advance >= 0
    assert advance + paid >= determinable
    assert advance <= determinable
