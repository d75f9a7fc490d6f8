"""Answers to questionnaires: which questions are shown, and checking raw answers. Pure.

Questions are the dicts stored on ``Questionnaire.questions``. Raw answers come from a form or
the API as strings (lists for ``multi``); ``clean_answers`` turns them into JSON values —
Decimal numbers as strings, integers, booleans, option codes — or explains what is wrong with
each, keyed by question code. Error messages are message keys with parameters, so the caller
translates them into the user's language.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

KINDS = ("choice", "multi", "number", "integer", "boolean", "text", "date")
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
TEXT_LIMIT = 2000


class AnswerError:
    """Message keys the UI translates (see underwriting.forms.ANSWER_ERRORS)."""

    REQUIRED = "required"
    NOT_AN_OPTION = "not_an_option"
    NOT_A_NUMBER = "not_a_number"
    NOT_AN_INTEGER = "not_an_integer"
    BELOW_MIN = "below_min"
    ABOVE_MAX = "above_max"
    NOT_YES_NO = "not_yes_no"
    TOO_LONG = "too_long"


def _empty(value) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def _as_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


def is_shown(question: Mapping, answers: Mapping) -> bool:
    """A question with ``show_if`` is shown only when the other answer equals the value."""
    condition = question.get("show_if")
    if not condition:
        return True
    other = answers.get(condition.get("question"))
    expected = condition.get("equals")
    if isinstance(expected, bool):
        return _as_bool(other) is expected if other is not None else False
    return other == expected or (isinstance(other, list) and expected in other)


def visible_questions(questions: Sequence[Mapping], answers: Mapping) -> list[Mapping]:
    return [q for q in questions if is_shown(q, answers)]


def _clean_one(question: Mapping, raw):
    kind = question.get("kind", "text")
    if kind == "choice":
        codes = {str(o["code"]) for o in question.get("options", ())}
        value = str(raw).strip()
        if value not in codes:
            return None, (AnswerError.NOT_AN_OPTION, {})
        return value, None
    if kind == "multi":
        values = raw if isinstance(raw, list | tuple) else [raw]
        codes = [str(o["code"]) for o in question.get("options", ())]
        chosen = [str(v).strip() for v in values if not _empty(v)]
        if any(v not in codes for v in chosen):
            return None, (AnswerError.NOT_AN_OPTION, {})
        # Stored in the questionnaire's order so equal answers hash equally.
        return [c for c in codes if c in chosen], None
    if kind in ("number", "integer"):
        text = str(raw).replace(",", "").replace("，", "").strip()
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            return None, (AnswerError.NOT_A_NUMBER, {})
        if not number.is_finite():
            return None, (AnswerError.NOT_A_NUMBER, {})
        if kind == "integer" and number != number.to_integral_value():
            return None, (AnswerError.NOT_AN_INTEGER, {})
        if question.get("min") is not None and number < Decimal(str(question["min"])):
            return None, (AnswerError.BELOW_MIN, {"min": question["min"]})
        if question.get("max") is not None and number > Decimal(str(question["max"])):
            return None, (AnswerError.ABOVE_MAX, {"max": question["max"]})
        if kind == "integer":
            return int(number), None
        return str(number), None
    if kind == "boolean":
        value = _as_bool(raw)
        if value is None:
            return None, (AnswerError.NOT_YES_NO, {})
        return value, None
    text = str(raw).strip()
    if len(text) > TEXT_LIMIT:
        return None, (AnswerError.TOO_LONG, {"max": TEXT_LIMIT})
    return text, None


def clean_answers(questions: Sequence[Mapping], raw: Mapping) -> tuple[dict, dict]:
    """Returns (clean answers of the shown questions, {code: (message key, params)}).

    Answers to hidden questions are dropped, so a changed mind leaves no stale detail behind.
    """
    cleaned: dict = {}
    errors: dict = {}
    # Two passes: show_if may depend on a question that comes later in the list.
    provisional = {}
    for question in questions:
        value = raw.get(question["code"])
        if not _empty(value):
            clean, error = _clean_one(question, value)
            if error is None:
                provisional[question["code"]] = clean
    for question in questions:
        code = question["code"]
        if not is_shown(question, provisional):
            continue
        value = raw.get(code)
        if _empty(value):
            if question.get("required", True):
                errors[code] = (AnswerError.REQUIRED, {})
            continue
        clean, error = _clean_one(question, value)
        if error:
            errors[code] = error
        else:
            cleaned[code] = clean
    return cleaned, errors
