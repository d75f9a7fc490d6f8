import subprocess
import sys
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from claims.deadlines import (
    ACCEPT,
    REJECT,
    ClaimFacts,
    Deadline,
    DeadlineError,
    Kind,
    Status,
    advance_payment_due,
    deadlines_for,
    decision_due,
    limitation_ends,
    next_working_day,
    payment_due,
    rejection_notice_due,
)

D = date.fromisoformat

# Illustrative calendars shaped like the published ones; the module does not ship any.
NATIONAL_DAY_WEEK = frozenset(D("2025-10-01") + timedelta(days=n) for n in range(8))
SPRING_FESTIVAL = frozenset(D("2026-02-15") + timedelta(days=n) for n in range(9))
NEW_YEAR = frozenset({D("2026-01-01"), D("2026-01-02")})

DAY_COUNT_FUNCTIONS = (
    (decision_due, 30),
    (rejection_notice_due, 3),
    (payment_due, 10),
    (advance_payment_due, 60),
)
ALL_FUNCTIONS = tuple(fn for fn, _ in DAY_COUNT_FUNCTIONS) + (limitation_ends,)


# --- due dates across month and year ends, leap days ---------------------------------------


@pytest.mark.parametrize(
    ("fn", "start", "due"),
    [
        # 30 days (art. 23)
        (decision_due, "2026-01-31", "2026-03-02"),  # Feb has 28 days
        (decision_due, "2024-01-31", "2024-03-01"),  # Feb has 29 days
        (decision_due, "2100-01-31", "2100-03-02"),  # century, not a leap year
        (decision_due, "2000-01-31", "2000-03-01"),  # divisible by 400, a leap year
        (decision_due, "2026-02-28", "2026-03-30"),
        (decision_due, "2024-02-28", "2024-03-29"),  # counts through Feb 29
        (decision_due, "2024-02-29", "2024-03-30"),
        (decision_due, "2025-12-31", "2026-01-30"),
        (decision_due, "2025-12-02", "2026-01-01"),
        # 3 days (art. 24)
        (rejection_notice_due, "2024-02-26", "2024-02-29"),
        (rejection_notice_due, "2026-02-26", "2026-03-01"),
        (rejection_notice_due, "2024-02-27", "2024-03-01"),
        (rejection_notice_due, "2025-12-29", "2026-01-01"),
        (rejection_notice_due, "2025-12-31", "2026-01-03"),
        (rejection_notice_due, "2026-01-31", "2026-02-03"),
        # 10 days (art. 23)
        (payment_due, "2024-02-19", "2024-02-29"),
        (payment_due, "2024-02-20", "2024-03-01"),
        (payment_due, "2026-02-20", "2026-03-02"),
        (payment_due, "2025-12-25", "2026-01-04"),
        (payment_due, "2026-01-31", "2026-02-10"),
        # 60 days (art. 25)
        (advance_payment_due, "2026-01-01", "2026-03-02"),
        (advance_payment_due, "2024-01-01", "2024-03-01"),
        (advance_payment_due, "2025-12-31", "2026-03-01"),
        (advance_payment_due, "2023-12-31", "2024-02-29"),
        (advance_payment_due, "2023-11-01", "2023-12-31"),
        (advance_payment_due, "2026-01-31", "2026-04-01"),
        # 2 calendar years (art. 26)
        (limitation_ends, "2024-02-29", "2026-02-28"),
        (limitation_ends, "2028-02-29", "2030-02-28"),
        (limitation_ends, "2096-02-29", "2098-02-28"),
        (limitation_ends, "2022-02-28", "2024-02-28"),  # not Feb 29 although 2024 has one
        (limitation_ends, "2022-03-01", "2024-03-01"),
        (limitation_ends, "2026-01-31", "2028-01-31"),
        (limitation_ends, "2025-12-31", "2027-12-31"),
        (limitation_ends, "2098-02-28", "2100-02-28"),
    ],
)
def test_due_dates(fn, start, due):
    assert fn(D(start)) == D(due)


def test_the_day_of_the_event_is_not_counted():
    # Rejected on the 20th: the 3 days are the 21st, 22nd and 23rd.
    assert rejection_notice_due(D("2026-01-20")) == D("2026-01-23")


# --- the optional working-day shift ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "start", "holidays", "weekends", "due"),
    [
        # off by default: a Saturday due date stays put
        (payment_due, "2025-12-24", (), False, "2026-01-03"),
        (payment_due, "2025-12-24", (), True, "2026-01-05"),  # Sat → Mon
        # last day inside a holiday week moves past the whole week
        (rejection_notice_due, "2025-09-28", NATIONAL_DAY_WEEK, False, "2025-10-09"),
        (rejection_notice_due, "2025-09-28", NATIONAL_DAY_WEEK, True, "2025-10-09"),
        # holidays running into a weekend: Thu, Fri holidays, then Sat, Sun
        (rejection_notice_due, "2025-12-29", NEW_YEAR, False, "2026-01-03"),
        (rejection_notice_due, "2025-12-29", NEW_YEAR, True, "2026-01-05"),
        # holidays inside the period do not lengthen it; only the last day can move
        (decision_due, "2025-09-20", NATIONAL_DAY_WEEK, True, "2025-10-20"),
        # a holiday on the day of the event does not matter either
        (rejection_notice_due, "2025-10-08", NATIONAL_DAY_WEEK, False, "2025-10-11"),
        # weekends=True cannot know that a Saturday is a make-up working day (调休)
        (rejection_notice_due, "2025-10-08", NATIONAL_DAY_WEEK, True, "2025-10-13"),
        # a working-day due date is unchanged
        (payment_due, "2026-01-02", NATIONAL_DAY_WEEK, True, "2026-01-12"),
        # any container works, not only sets
        (rejection_notice_due, "2025-12-29", [D("2026-01-01")], False, "2026-01-02"),
        (advance_payment_due, "2025-12-03", (), True, "2026-02-02"),  # Sun → Mon
        (limitation_ends, "2024-02-29", (), True, "2026-03-02"),  # Sat Feb 28 → Mon
        (limitation_ends, "2024-02-20", SPRING_FESTIVAL, False, "2026-02-24"),
    ],
)
def test_working_day_shift(fn, start, holidays, weekends, due):
    assert fn(D(start), holidays=holidays, weekends=weekends) == D(due)


def test_an_endless_holiday_calendar_is_reported_not_looped_on():
    class Everything:
        def __contains__(self, item):
            return True

    with pytest.raises(DeadlineError, match="rest days in a row"):
        next_working_day(D("2026-01-01"), holidays=Everything())


# --- status and days_left -------------------------------------------------------------------

ADVANCE = Deadline(Kind.ADVANCE_PAYMENT, D("2026-01-01"), D("2026-03-02"))


@pytest.mark.parametrize(
    ("today", "soon_days", "status", "days_left"),
    [
        ("2026-04-01", 3, Status.OVERDUE, -30),
        ("2026-03-03", 3, Status.OVERDUE, -1),
        ("2026-03-02", 3, Status.DUE_TODAY, 0),
        ("2026-03-01", 3, Status.DUE_SOON, 1),
        ("2026-02-27", 3, Status.DUE_SOON, 3),  # across the end of February
        ("2026-02-26", 3, Status.OPEN, 4),
        ("2026-01-01", 3, Status.OPEN, 60),
        ("2026-03-02", 0, Status.DUE_TODAY, 0),
        ("2026-03-01", 0, Status.OPEN, 1),
        ("2026-02-20", 10, Status.DUE_SOON, 10),
        ("2026-02-19", 10, Status.OPEN, 11),
    ],
)
def test_status_boundaries(today, soon_days, status, days_left):
    assert ADVANCE.status(D(today), soon_days=soon_days) == status
    assert ADVANCE.days_left(D(today)) == days_left


def test_status_default_soon_days_is_three():
    assert ADVANCE.status(D("2026-02-27")) == "due_soon"
    assert ADVANCE.status(D("2026-02-26")) == "open"


@pytest.mark.parametrize(
    ("done_on", "today", "status"),
    [
        ("2026-03-02", "2026-03-02", Status.DONE),  # on the last day is on time
        ("2026-03-03", "2026-03-03", Status.DONE_LATE),
        ("2026-01-01", "2026-01-01", Status.DONE),  # the same day as the event
        ("2026-02-01", "2027-01-01", Status.DONE),  # long after the due date, still done
        ("2026-04-01", "2026-02-01", Status.DONE_LATE),  # facts entered ahead of "today"
    ],
)
def test_status_once_done(done_on, today, status):
    deadline = Deadline(Kind.ADVANCE_PAYMENT, D("2026-01-01"), D("2026-03-02"), D(done_on))
    assert deadline.status(D(today)) == status


def test_status_values_are_the_plain_strings():
    assert {s.value for s in Status} == {
        "done",
        "done_late",
        "overdue",
        "due_today",
        "due_soon",
        "open",
    }


# --- deadlines_for --------------------------------------------------------------------------

JAN_1 = D("2026-01-01")  # documents complete: decision due Jan 31, advance due Mar 2


def summary(facts, **shift):
    return [(d.kind, d.due, d.done_on) for d in deadlines_for(facts, **shift)]


def statuses(facts, today):
    return [(d.kind, d.status(D(today))) for d in deadlines_for(facts)]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (ClaimFacts(), []),
        (ClaimFacts(notified_on=D("2025-12-20")), []),
        (
            ClaimFacts(notified_on=D("2025-12-20"), documents_complete_on=JAN_1),
            [
                (Kind.DECISION, D("2026-01-31"), None),
                (Kind.ADVANCE_PAYMENT, D("2026-03-02"), None),
            ],
        ),
        # rejected: a notice is owed and nothing can be advanced
        (
            ClaimFacts(documents_complete_on=JAN_1, decided_on=D("2026-01-20"), decision=REJECT),
            [
                (Kind.REJECTION_NOTICE, D("2026-01-23"), None),
                (Kind.DECISION, D("2026-01-31"), D("2026-01-20")),
            ],
        ),
        # accepted and agreed within 60 days: no advance, the 10-day payment clock instead
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=ACCEPT,
                amount_agreed_on=D("2026-02-10"),
                paid_on=D("2026-02-25"),
            ),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-01-20")),
                (Kind.PAYMENT, D("2026-02-20"), D("2026-02-25")),
            ],
        ),
        # agreed on the advance's last day: still in time, no advance was owed
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=ACCEPT,
                amount_agreed_on=D("2026-03-02"),
            ),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-01-20")),
                (Kind.PAYMENT, D("2026-03-12"), None),
            ],
        ),
        # agreed a day later with no advance paid: the advance duty ended late
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=ACCEPT,
                amount_agreed_on=D("2026-03-03"),
            ),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-01-20")),
                (Kind.ADVANCE_PAYMENT, D("2026-03-02"), D("2026-03-03")),
                (Kind.PAYMENT, D("2026-03-13"), None),
            ],
        ),
        # advance paid, amount still open
        (
            ClaimFacts(documents_complete_on=JAN_1, advance_paid_on=D("2026-02-27")),
            [
                (Kind.DECISION, D("2026-01-31"), None),
                (Kind.ADVANCE_PAYMENT, D("2026-03-02"), D("2026-02-27")),
            ],
        ),
        # advance paid late, amount agreed later still
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-02-05"),
                decision=ACCEPT,
                advance_paid_on=D("2026-03-05"),
                amount_agreed_on=D("2026-04-01"),
                paid_on=D("2026-04-05"),
            ),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-02-05")),
                (Kind.ADVANCE_PAYMENT, D("2026-03-02"), D("2026-03-05")),
                (Kind.PAYMENT, D("2026-04-11"), D("2026-04-05")),
            ],
        ),
        # an amount recorded without the documents date still starts the payment clock
        (
            ClaimFacts(amount_agreed_on=D("2024-02-20")),
            [(Kind.PAYMENT, D("2024-03-01"), None)],
        ),
        # equal due dates: the decision (started earlier) comes before its rejection notice
        (
            ClaimFacts(documents_complete_on=JAN_1, decided_on=D("2026-01-28"), decision=REJECT),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-01-28")),
                (Kind.REJECTION_NOTICE, D("2026-01-31"), None),
            ],
        ),
        # equal due dates again: the advance (from Jan 1) before the payment (from Feb 20)
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=ACCEPT,
                advance_paid_on=D("2026-02-20"),
                amount_agreed_on=D("2026-02-20"),
            ),
            [
                (Kind.DECISION, D("2026-01-31"), D("2026-01-20")),
                (Kind.ADVANCE_PAYMENT, D("2026-03-02"), D("2026-02-20")),
                (Kind.PAYMENT, D("2026-03-02"), None),
            ],
        ),
    ],
)
def test_deadlines_for(facts, expected):
    assert summary(facts) == expected


@pytest.mark.parametrize(
    ("facts", "today", "expected"),
    [
        (
            ClaimFacts(documents_complete_on=JAN_1, decided_on=D("2026-01-20"), decision=REJECT),
            "2026-01-22",
            [(Kind.REJECTION_NOTICE, Status.DUE_SOON), (Kind.DECISION, Status.DONE)],
        ),
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=REJECT,
                rejection_notice_sent_on=D("2026-01-23"),
            ),
            "2026-03-01",
            [(Kind.REJECTION_NOTICE, Status.DONE), (Kind.DECISION, Status.DONE)],
        ),
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-02-01"),
                decision=REJECT,
                rejection_notice_sent_on=D("2026-02-05"),
            ),
            "2026-03-01",
            [(Kind.DECISION, Status.DONE_LATE), (Kind.REJECTION_NOTICE, Status.DONE_LATE)],
        ),
        (
            ClaimFacts(
                documents_complete_on=JAN_1,
                decided_on=D("2026-01-20"),
                decision=ACCEPT,
                amount_agreed_on=D("2026-02-10"),
                paid_on=D("2026-02-25"),
            ),
            "2026-03-01",
            [(Kind.DECISION, Status.DONE), (Kind.PAYMENT, Status.DONE_LATE)],
        ),
    ],
)
def test_deadlines_for_done_and_done_late(facts, today, expected):
    assert statuses(facts, today) == expected


@pytest.mark.parametrize(
    ("today", "advance_status"),
    [
        ("2026-02-26", Status.OPEN),
        ("2026-02-27", Status.DUE_SOON),
        ("2026-03-02", Status.DUE_TODAY),
        ("2026-03-03", Status.OVERDUE),
    ],
)
def test_advance_is_flagged_when_due(today, advance_status):
    facts = ClaimFacts(
        notified_on=D("2025-12-15"), documents_complete_on=JAN_1, decided_on=JAN_1, decision=ACCEPT
    )
    assert statuses(facts, today) == [
        (Kind.DECISION, Status.DONE),
        (Kind.ADVANCE_PAYMENT, advance_status),
    ]


def test_deadlines_for_passes_the_working_day_shift_on():
    facts = ClaimFacts(documents_complete_on=D("2025-12-03"))
    assert summary(facts) == [
        (Kind.DECISION, D("2026-01-02"), None),
        (Kind.ADVANCE_PAYMENT, D("2026-02-01"), None),
    ]
    assert summary(facts, holidays=NEW_YEAR, weekends=True) == [
        (Kind.DECISION, D("2026-01-05"), None),
        (Kind.ADVANCE_PAYMENT, D("2026-02-02"), None),
    ]


def test_deadlines_for_leaves_out_the_limitation_period():
    facts = ClaimFacts(notified_on=D("2024-02-29"), documents_complete_on=D("2024-03-10"))
    assert Kind.LIMITATION not in {d.kind for d in deadlines_for(facts)}


# --- rejected input -------------------------------------------------------------------------


@pytest.mark.parametrize("fn", ALL_FUNCTIONS)
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        datetime(2026, 1, 1, 12),  # a naive one is refused as well
        "2026-01-01",
        None,
    ],
)
def test_only_dates_are_accepted(fn, value):
    with pytest.raises(DeadlineError, match="datetime.date"):
        fn(value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decision": "maybe", "decided_on": JAN_1},
        {"decision": REJECT},
        {"decided_on": JAN_1},
        {"paid_on": datetime(2026, 1, 1, tzinfo=UTC)},
        {"notified_on": "2026-01-01"},
    ],
)
def test_inconsistent_claim_facts_are_refused(kwargs):
    with pytest.raises(DeadlineError):
        ClaimFacts(**kwargs)


def test_deadline_validation():
    assert Deadline("payment", JAN_1, JAN_1).kind is Kind.PAYMENT
    with pytest.raises(DeadlineError, match="Unknown deadline kind"):
        Deadline("appeal", JAN_1, JAN_1)
    with pytest.raises(DeadlineError, match="before the event"):
        Deadline(Kind.PAYMENT, JAN_1, JAN_1 - timedelta(days=1))
    with pytest.raises(DeadlineError, match="soon_days"):
        ADVANCE.status(JAN_1, soon_days=-1)
    with pytest.raises(DeadlineError):
        deadlines_for({"documents_complete_on": JAN_1})


def test_results_are_frozen():
    with pytest.raises(FrozenInstanceError):
        ADVANCE.done_on = JAN_1
    with pytest.raises(FrozenInstanceError):
        ClaimFacts().paid_on = JAN_1


def test_the_module_does_not_import_django():
    code = "import sys, claims.deadlines; print('django' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- properties -----------------------------------------------------------------------------

DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))


@st.composite
def calendars(draw):
    """A function, a start and a holiday list clustered around its unshifted due date."""
    fn = draw(st.sampled_from(ALL_FUNCTIONS))
    start = draw(DATES)
    plain = fn(start)
    offsets = draw(st.frozensets(st.integers(min_value=-3, max_value=20), max_size=15))
    holidays = frozenset(plain + timedelta(days=n) for n in offsets)
    return fn, start, holidays, draw(st.booleans())


def is_rest_day(day, holidays, weekends):
    return day in holidays or (weekends and day.weekday() >= 5)


@given(calendars())
@example((limitation_ends, D("2024-02-29"), frozenset(), True))
def test_due_date_is_always_after_the_start(case):
    fn, start, holidays, weekends = case
    assert fn(start, holidays=holidays, weekends=weekends) > start


@given(calendars())
def test_due_date_is_the_first_working_day_from_the_plain_due_date(case):
    fn, start, holidays, weekends = case
    plain, due = fn(start), fn(start, holidays=holidays, weekends=weekends)
    assert not is_rest_day(due, holidays, weekends)
    skipped = [plain + timedelta(days=n) for n in range((due - plain).days)]
    assert all(is_rest_day(day, holidays, weekends) for day in skipped)


@given(calendars(), st.integers(min_value=-3, max_value=20))
def test_adding_a_holiday_never_moves_a_due_date_earlier(case, offset):
    fn, start, holidays, weekends = case
    extra = fn(start) + timedelta(days=offset)
    before = fn(start, holidays=holidays, weekends=weekends)
    assert fn(start, holidays=holidays | {extra}, weekends=weekends) >= before
    assert fn(start, holidays=holidays, weekends=True) >= before


@given(st.sampled_from(DAY_COUNT_FUNCTIONS), DATES)
def test_without_a_calendar_the_period_is_exactly_its_days(fn_and_days, start):
    fn, days = fn_and_days
    assert (fn(start) - start).days == days


@given(DATES)
def test_limitation_is_the_same_day_two_years_on_or_feb_28(known_on):
    ends = limitation_ends(known_on)
    assert ends.year == known_on.year + 2
    if (known_on.month, known_on.day) == (2, 29):
        assert (ends.month, ends.day) == (2, 28)
    else:
        assert (ends.month, ends.day) == (known_on.month, known_on.day)


deadlines = st.builds(
    lambda start, length, done_after: Deadline(
        Kind.DECISION,
        start,
        start + timedelta(days=length),
        None if done_after is None else start + timedelta(days=done_after),
    ),
    DATES,
    st.integers(min_value=0, max_value=800),
    st.none() | st.integers(min_value=-10, max_value=900),
)


@given(deadlines, DATES)
def test_done_on_or_before_due_is_never_done_late(deadline, today):
    status = deadline.status(today)
    if deadline.done_on is None:
        assert status not in {Status.DONE, Status.DONE_LATE}
    elif deadline.done_on <= deadline.due:
        assert status == Status.DONE
    else:
        assert status == Status.DONE_LATE


URGENCY = [Status.OPEN, Status.DUE_SOON, Status.DUE_TODAY, Status.OVERDUE]


@given(deadlines, DATES, st.integers(min_value=1, max_value=400), st.integers(0, 30))
def test_an_open_deadline_only_becomes_more_urgent(deadline, today, later, soon_days):
    open_deadline = Deadline(deadline.kind, deadline.start, deadline.due)
    first = open_deadline.status(today, soon_days=soon_days)
    second = open_deadline.status(today + timedelta(days=later), soon_days=soon_days)
    assert URGENCY.index(second) >= URGENCY.index(first)
    assert (first == Status.OVERDUE) == (today > deadline.due)


def maybe_after(base_strategy_value, draw, max_days=90):
    if base_strategy_value is None or not draw(st.booleans()):
        return None
    return base_strategy_value + timedelta(days=draw(st.integers(0, max_days)))


@st.composite
def claim_facts(draw):
    notified = draw(st.none() | DATES)
    complete = maybe_after(notified, draw) if notified else draw(st.none() | DATES)
    decision = draw(st.sampled_from([None, ACCEPT, REJECT]))
    decided = None
    if decision is not None:
        decided = maybe_after(complete, draw) or draw(DATES)
    notice = maybe_after(decided, draw, 10) if decision == REJECT else None
    agreed = maybe_after(decided, draw) if decision == ACCEPT else None
    return ClaimFacts(
        notified_on=notified,
        documents_complete_on=complete,
        decided_on=decided,
        decision=decision,
        rejection_notice_sent_on=notice,
        amount_agreed_on=agreed,
        paid_on=maybe_after(agreed, draw, 20),
        advance_paid_on=maybe_after(complete, draw),
    )


@given(claim_facts(), st.booleans())
def test_deadlines_for_is_ordered_and_only_started_ones(facts, weekends):
    result = deadlines_for(facts, weekends=weekends)
    assert [d.due for d in result] == sorted(d.due for d in result)
    kinds = [d.kind for d in result]
    assert len(kinds) == len(set(kinds))
    assert (Kind.DECISION in kinds) == (facts.documents_complete_on is not None)
    assert (Kind.REJECTION_NOTICE in kinds) == (facts.decision == REJECT)
    assert (Kind.PAYMENT in kinds) == (facts.amount_agreed_on is not None)
    if facts.documents_complete_on is not None and facts.amount_agreed_on is None:
        assert (Kind.ADVANCE_PAYMENT in kinds) == (facts.decision != REJECT)
    assert all(d.due > d.start for d in result)
