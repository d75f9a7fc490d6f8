"""Underwriting rules engine. Pure: no Django.

A rule is data: a list of conditions on the application's facts that must all hold, and an
outcome (decline, refer, or add a special exclusion). Facts are plain values computed by the
services from the answers, the insured rights and the valuation:

    sum_insured, asset_count, patent_count, min_remaining_years, any_right_not_in_force,
    valuation_total, min_valuation_score, loan_to_value, sales_usa, sales_eu,
    and every risk answer under its question code (industry, annual_sales, known_dispute ...).

A fact that is missing (None) never satisfies a condition: a question that was not asked cannot
refer or decline anyone.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

OUTCOME_PRECEDENCE = ("decline", "refer", "exclude")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "truthy", "falsy")


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    code: str
    outcome: str
    conditions: tuple[Mapping, ...]
    reason: Mapping = field(default_factory=dict)  # {"zh": ..., "en": ...}
    exclusion: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class RuleHit:
    code: str
    outcome: str
    reason: Mapping
    exclusion: Mapping

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "outcome": self.outcome,
            "reason": dict(self.reason),
            "exclusion": dict(self.exclusion),
        }


@dataclass(frozen=True)
class Decision:
    outcome: str  # "quote" | "refer" | "decline"
    hits: tuple[RuleHit, ...]

    @property
    def exclusions(self) -> tuple[Mapping, ...]:
        return tuple(h.exclusion for h in self.hits if h.outcome == "exclude" and h.exclusion)

    def reasons(self, outcome: str) -> tuple[RuleHit, ...]:
        return tuple(h for h in self.hits if h.outcome == outcome)


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _compare(actual, op: str, expected) -> bool:
    if op in ("gt", "gte", "lt", "lte"):
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return False
        return {
            "gt": left > right,
            "gte": left >= right,
            "lt": left < right,
            "lte": left <= right,
        }[op]
    if op == "eq":
        left, right = _number(actual), _number(expected)
        if left is not None and right is not None:
            return left == right
        return actual == expected
    if op == "ne":
        return not _compare(actual, "eq", expected)
    if op == "in":
        return actual in (expected or ())
    if op == "contains":
        return isinstance(actual, list | tuple | set | str) and expected in actual
    if op == "truthy":
        return bool(actual)
    if op == "falsy":
        return not actual
    raise RuleError(f"unknown operator {op!r}")


def condition_holds(condition: Mapping, facts: Mapping) -> bool:
    fact = condition.get("fact")
    op = condition.get("op", "eq")
    if op not in OPERATORS:
        raise RuleError(f"unknown operator {op!r}")
    actual = facts.get(fact)
    if actual is None:
        return False
    return _compare(actual, op, condition.get("value"))


def validate_rule(rule: Rule) -> None:
    if rule.outcome not in OUTCOME_PRECEDENCE:
        raise RuleError(f"{rule.code}: unknown outcome {rule.outcome!r}")
    if not rule.conditions:
        raise RuleError(f"{rule.code}: a rule needs at least one condition")
    for condition in rule.conditions:
        if not condition.get("fact"):
            raise RuleError(f"{rule.code}: every condition names a fact")
        if condition.get("op", "eq") not in OPERATORS:
            raise RuleError(f"{rule.code}: unknown operator {condition.get('op')!r}")
    if rule.outcome == "exclude":
        for key in ("title", "text", "explanation"):
            if not (rule.exclusion.get(key) or {}).get("zh"):
                raise RuleError(f"{rule.code}: an exclusion rule needs {key} in Chinese")


def evaluate(rules: Iterable[Rule], facts: Mapping) -> Decision:
    """Every rule whose conditions all hold is a hit; the strongest outcome decides."""
    hits = tuple(
        RuleHit(rule.code, rule.outcome, rule.reason, rule.exclusion)
        for rule in rules
        if all(condition_holds(c, facts) for c in rule.conditions)
    )
    outcomes = {h.outcome for h in hits}
    if "decline" in outcomes:
        outcome = "decline"
    elif "refer" in outcomes:
        outcome = "refer"
    else:
        outcome = "quote"
    return Decision(outcome=outcome, hits=hits)
