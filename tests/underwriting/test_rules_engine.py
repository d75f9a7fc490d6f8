"""The pure underwriting rules engine and answer checking."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from underwriting import rules
from underwriting.questionnaires import AnswerError, clean_answers, is_shown

REFER_USA = rules.Rule("usa", "refer", ({"fact": "sales_usa", "op": "truthy"},), {"zh": "美国"})
DECLINE_DEAD = rules.Rule(
    "dead", "decline", ({"fact": "any_right_not_in_force", "op": "truthy"},), {"zh": "失效"}
)
EXCLUDE_DISPUTE = rules.Rule(
    "dispute",
    "exclude",
    ({"fact": "known_dispute", "op": "eq", "value": True},),
    {"zh": "纠纷"},
    {"title": {"zh": "t"}, "text": {"zh": "x"}, "explanation": {"zh": "e"}},
)
BIG = rules.Rule("big", "refer", ({"fact": "sum_insured", "op": "gt", "value": 1000000},))
ALL_RULES = (REFER_USA, DECLINE_DEAD, EXCLUDE_DISPUTE, BIG)


@pytest.mark.parametrize(
    ("facts", "outcome", "codes"),
    [
        ({}, "quote", []),
        ({"sales_usa": True}, "refer", ["usa"]),
        ({"sales_usa": False, "sum_insured": "1000000"}, "quote", []),
        ({"sum_insured": "1000000.01"}, "refer", ["big"]),
        ({"sales_usa": True, "any_right_not_in_force": True}, "decline", ["usa", "dead"]),
        ({"known_dispute": True}, "quote", ["dispute"]),
        ({"known_dispute": True, "sales_usa": True}, "refer", ["usa", "dispute"]),
        ({"sum_insured": None}, "quote", []),
        ({"sum_insured": "not a number"}, "quote", []),
    ],
)
def test_decisions(facts, outcome, codes):
    decision = rules.evaluate(ALL_RULES, facts)
    assert decision.outcome == outcome
    assert [h.code for h in decision.hits] == codes


def test_exclusion_hits_carry_the_wording():
    decision = rules.evaluate(ALL_RULES, {"known_dispute": True})
    assert decision.exclusions == (EXCLUDE_DISPUTE.exclusion,)


@pytest.mark.parametrize(
    ("op", "actual", "value", "holds"),
    [
        ("eq", 3, "3", True),
        ("ne", 3, 4, True),
        ("gte", "3", 3, True),
        ("lt", "2.99", 3, True),
        ("lte", "3.01", 3, False),
        ("in", "aerospace", ["aerospace", "biotech"], True),
        ("contains", ["cn", "us_ca"], "us_ca", True),
        ("contains", ["cn"], "us_ca", False),
        ("falsy", False, None, True),
        ("gt", True, 0, False),  # booleans are not numbers
    ],
)
def test_operators(op, actual, value, holds):
    assert rules.condition_holds({"fact": "f", "op": op, "value": value}, {"f": actual}) is holds


def test_validation_rejects_broken_rules():
    with pytest.raises(rules.RuleError):
        rules.validate_rule(rules.Rule("x", "maybe", ({"fact": "a"},)))
    with pytest.raises(rules.RuleError):
        rules.validate_rule(rules.Rule("x", "refer", ()))
    with pytest.raises(rules.RuleError):
        rules.validate_rule(rules.Rule("x", "refer", ({"fact": "a", "op": "like"},)))
    with pytest.raises(rules.RuleError):
        rules.validate_rule(rules.Rule("x", "exclude", ({"fact": "a"},)))


@given(
    st.dictionaries(
        st.sampled_from(["sales_usa", "any_right_not_in_force", "known_dispute"]), st.booleans()
    )
)
def test_a_decline_always_wins(facts):
    decision = rules.evaluate(ALL_RULES, facts)
    if facts.get("any_right_not_in_force"):
        assert decision.outcome == "decline"
    elif facts.get("sales_usa"):
        assert decision.outcome == "refer"
    else:
        assert decision.outcome == "quote"


QUESTIONS = [
    {"code": "sales", "kind": "number", "min": 0, "max": 1e12},
    {"code": "suits", "kind": "integer", "min": 0},
    {"code": "dispute", "kind": "boolean"},
    {"code": "details", "kind": "text", "show_if": {"question": "dispute", "equals": True}},
    {"code": "regions", "kind": "multi", "options": [{"code": "cn"}, {"code": "us"}]},
    {"code": "stage", "kind": "choice", "options": [{"code": "pilot"}, {"code": "mass"}]},
    {"code": "growth", "kind": "number", "required": False},
]


def test_clean_answers_converts_and_drops_hidden_answers():
    cleaned, errors = clean_answers(
        QUESTIONS,
        {
            "sales": "1,200,000",
            "suits": "2",
            "dispute": "no",
            "details": "stale text",
            "regions": ["us", "cn"],
            "stage": "pilot",
        },
    )
    assert errors == {}
    assert cleaned == {
        "sales": "1200000",
        "suits": 2,
        "dispute": False,
        "regions": ["cn", "us"],
        "stage": "pilot",
    }


def test_clean_answers_explains_each_problem():
    _, errors = clean_answers(
        QUESTIONS,
        {"sales": "-1", "suits": "1.5", "dispute": "yes", "regions": ["mars"], "stage": ""},
    )
    assert errors == {
        "sales": (AnswerError.BELOW_MIN, {"min": 0}),
        "suits": (AnswerError.NOT_AN_INTEGER, {}),
        "details": (AnswerError.REQUIRED, {}),
        "regions": (AnswerError.NOT_AN_OPTION, {}),
        "stage": (AnswerError.REQUIRED, {}),
    }


def test_show_if_follows_the_other_answer():
    question = QUESTIONS[3]
    assert is_shown(question, {"dispute": True})
    assert is_shown(question, {"dispute": "true"})
    assert not is_shown(question, {"dispute": False})
    assert not is_shown(question, {})


@given(st.text(max_size=30))
def test_clean_answers_never_crashes_on_any_text(text):
    raw = {q["code"]: text for q in QUESTIONS}
    cleaned, errors = clean_answers(QUESTIONS, raw)
    assert set(cleaned).isdisjoint(errors)
